"""PSI building blocks: the ristretto255 group, input preparation, stored alignments, messages."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from models.errors import CryptoError, DataLoss, InvalidArgument, NotFound
from models.federation.messages import registered_messages
from models.psi import group
from models.psi.alignment import alignment_digest, load_alignment, save_alignment
from models.psi.ids import prepare_ids, random_permutation
from models.psi.messages import PsiBlindRequest, PsiFinishResponse, PsiStartRequest
from models.uscc import generate_usccs, is_valid_uscc
from proto.transport.codec import ProtobufCodec

# RFC 9496, appendix A.1 (encodings of small multiples of the generator) and A.3 (hash to
# group of SHA-512 of the labels).
GENERATOR_MULTIPLES = {
    1: "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76",
    2: "6a493210f7499cd17fecb510ae0cea23a110e8d5b901f8acadd3095c73a3b919",
    3: "94741f5d5d52755ece4f23f044ee27d5d1ea1e2bd196b462166b16152a9d0259",
}
HASH_TO_GROUP = {
    b"Ristretto is traditionally a short shot of espresso coffee": (
        "3066f82a1a747d45120d1740f14358531a8f04bbffe6a819f86dfe50f44a0a46"
    ),
    b"made with the normal amount of ground coffee but extracted with": (
        "f26e5b6f7d362d2d2a94c5d0e7602cb4773c95a2e5c31a64f133189fa76ed61b"
    ),
    b"and is not a Ristretto as some believe.": (
        "80bd07262511cdde4863f8a7434cef696750681cb9510eea557088f76d9e5065"
    ),
}


def _scalar(k: int) -> bytes:
    return k.to_bytes(32, "little")


def _from_hash(digest: bytes) -> bytes:
    import ctypes

    out = ctypes.create_string_buffer(32)
    group.libsodium().crypto_core_ristretto255_from_hash(out, digest)
    return out.raw


# -- group ------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", sorted(GENERATOR_MULTIPLES))
def test_rfc9496_generator_multiples(k: int) -> None:
    assert group.base_mult(_scalar(k)).hex() == GENERATOR_MULTIPLES[k]


@pytest.mark.parametrize("label", sorted(HASH_TO_GROUP))
def test_rfc9496_hash_to_group(label: bytes) -> None:
    assert _from_hash(hashlib.sha512(label).digest()).hex() == HASH_TO_GROUP[label]


def test_engine_mult_agrees_with_base_mult_and_commutes() -> None:
    g1 = bytes.fromhex(GENERATOR_MULTIPLES[1])
    with group.GroupEngine(1) as engine:
        assert engine.mult(_scalar(3), g1).hex() == GENERATOR_MULTIPLES[3]
        a, b = group.random_scalar(), group.random_scalar()
        ids = ["91410100MA0000000X", "x", "y"]
        ha = engine.hash_mult(a, ids)
        hb = engine.hash_mult(b, ids)
        assert engine.mult(b, ha) == engine.mult(a, hb)
        # blinding is undone by the inverse scalar: H(x)^a^(1/a) = H(x)
        plain = b"".join(_from_hash(group.hash_digest(i)) for i in ids)
        assert engine.mult(group.scalar_invert(a), ha) == plain
        assert ha != plain


def test_threaded_engine_equals_serial() -> None:
    ids = [f"id{i}" for i in range(2600)]
    s = group.random_scalar()
    with group.GroupEngine(1) as serial, group.GroupEngine(2, serial_below=16) as threaded:
        blob = serial.hash_mult(s, ids)
        assert threaded.hash_mult(s, ids) == blob
        t = group.random_scalar()
        assert threaded.mult(t, blob) == serial.mult(t, blob)


@pytest.mark.parametrize(
    "bad",
    [
        b"\xff" * 32,  # not canonical
        bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
        bytes(32),  # the identity: a product with it is refused
    ],
)
def test_invalid_points_are_refused(bad: bytes) -> None:
    good = bytes.fromhex(GENERATOR_MULTIPLES[2])
    with group.GroupEngine(1) as engine, pytest.raises(CryptoError):
        engine.mult(group.random_scalar(), good + bad)


def test_blob_and_scalar_sizes_are_checked() -> None:
    with group.GroupEngine(1) as engine:
        with pytest.raises(InvalidArgument):
            engine.mult(group.random_scalar(), b"\x01" * 33)
        with pytest.raises(InvalidArgument):
            engine.mult(b"short", bytes.fromhex(GENERATOR_MULTIPLES[1]))
        assert engine.mult(group.random_scalar(), b"") == b""
        assert engine.hash_mult(group.random_scalar(), []) == b""
    with pytest.raises(InvalidArgument):
        group.check_blob(b"\x00" * 31, 1)


def test_hash_is_domain_separated() -> None:
    assert group.hash_digest("abc") != hashlib.sha512(b"abc").digest()
    assert group.hash_digest("abc") == hashlib.sha512(group.HASH_DOMAIN + b"abc").digest()


# -- input preparation ------------------------------------------------------------------------
def test_prepare_ids_counts_duplicates_and_invalid() -> None:
    good = generate_usccs(5, np.random.default_rng(1))
    broken = good[0][:17] + ("0" if good[0][17] != "0" else "1")  # wrong check character
    raw: list[object] = [good[0], good[1], good[0], broken, "", None, 3, good[2], good[1], "a\x00"]
    prepared = prepare_ids(raw, is_valid_uscc)
    assert prepared.ids.tolist() == [good[0], good[1], good[2]]
    assert prepared.n_input == len(raw)
    assert prepared.n_duplicates == 2
    assert prepared.n_invalid == 5
    no_rule = prepare_ids(["b", "a", "b", "x" * 257, "a"], None)
    assert no_rule.ids.tolist() == ["b", "a"]
    assert (no_rule.n_duplicates, no_rule.n_invalid) == (2, 1)


def test_validator_that_raises_rejects_instead_of_crashing() -> None:
    def picky(value: str) -> bool:
        if value.startswith("boom"):
            raise ValueError("not this one")
        return True

    prepared = prepare_ids(["ok", "boom1", "fine"], picky)
    assert prepared.ids.tolist() == ["ok", "fine"] and prepared.n_invalid == 1


def test_prepare_ids_refuses_a_bare_string_and_handles_empty() -> None:
    with pytest.raises(InvalidArgument):
        prepare_ids("91410100MA0000000X", None)
    empty = prepare_ids([], None)
    assert empty.n_unique == 0 and empty.n_input == 0


def test_random_permutation_is_a_permutation() -> None:
    p = random_permutation(1000)
    assert sorted(p.tolist()) == list(range(1000))
    assert not np.array_equal(p, np.arange(1000))
    assert random_permutation(0).shape == (0,)


# -- stored alignment -------------------------------------------------------------------------
def test_alignment_round_trip_and_tamper_detection(tmp_path: Path) -> None:
    ids = np.array(["b", "a", "91410100MA0000000X", "中文"])
    save_alignment(tmp_path, ids)
    back = load_alignment(tmp_path)
    assert back.tolist() == ids.tolist()
    meta = json.loads((tmp_path / "alignment.json").read_text())
    assert meta["n"] == 4 and meta["sha256"] == alignment_digest(ids)
    np.save(tmp_path / "alignment.npy", np.array(["a", "b", "91410100MA0000000X", "中文"]))
    with pytest.raises(DataLoss):
        load_alignment(tmp_path)


def test_alignment_empty_and_missing(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        load_alignment(tmp_path / "nope")
    save_alignment(tmp_path, np.array([], dtype=str))
    assert load_alignment(tmp_path).shape == (0,)


def test_alignment_digest_depends_on_order_and_boundaries() -> None:
    assert alignment_digest(np.array(["a", "b"])) != alignment_digest(np.array(["b", "a"]))
    assert alignment_digest(np.array(["ab", "c"])) != alignment_digest(np.array(["a", "bc"]))


# -- messages -----------------------------------------------------------------------------------
def test_every_psi_message_round_trips_through_protobuf() -> None:
    codec = ProtobufCodec()
    psi = {n: c for n, c in registered_messages().items() if c.__module__ == "models.psi.messages"}
    assert len(psi) == 10
    for cls in psi.values():
        values: dict[str, object] = {}
        for i, f in enumerate(dataclasses.fields(cls)):  # type: ignore[arg-type]
            values[f.name] = {
                "int": 7 + i,
                "str": f"v{i}",
                "bytes": bytes(range(64)),
                "bool": True,
            }[str(f.type)]
        msg = cls(**values)
        assert codec.decode(codec.encode(msg), cls) == msg
    start = PsiStartRequest(version="v", group="g", n_active=0, chunk_size=1)
    assert codec.decode(codec.encode(start), PsiStartRequest) == start
    blind = PsiBlindRequest(chunk=0, count=0, points=b"")
    assert codec.decode(codec.encode(blind), PsiBlindRequest) == blind
    done = PsiFinishResponse(chunk=0, count=0, done=False, alignment_digest="")
    assert codec.decode(codec.encode(done), PsiFinishResponse) == done


def test_all_distinct_checks_full_values_when_prefixes_collide() -> None:
    def values(*blobs: bytes) -> np.ndarray:
        return np.frombuffer(b"".join(blobs), dtype="S32")

    a, b = b"\x00" * 8 + b"\x01" * 24, b"\x00" * 8 + b"\x02" * 24  # same 8-byte prefix
    assert group.all_distinct(values(a, b))
    assert not group.all_distinct(values(a, b, a))
    assert not group.all_distinct(values(b"\x05" * 32, b"\x05" * 32))
    assert group.all_distinct(values()) and group.all_distinct(values(a))
