"""Ciphertext arrays on the wire: bytes plus scheme, key fingerprint, count and width."""

from __future__ import annotations

from dataclasses import dataclass, field

from models.errors import CryptoError
from models.federation.messages import WireMessage


@dataclass(frozen=True)
class CipherArray(WireMessage):
    """A batch of ciphertexts.

    Attributes
    ----------
    scheme:
        ``"paillier"`` or ``"ckks"``.
    key_fingerprint:
        Hex fingerprint of the public key (Paillier) or public context (CKKS) the ciphertexts
        are under; a receiver refuses a batch under a key it does not expect.
    count:
        Number of ciphertexts.
    width:
        Bytes per ciphertext for fixed-width encodings (Paillier: bytes of n^2, big-endian);
        0 for variable-width encodings, which then give ``lengths``.
    data:
        The concatenated ciphertext bytes.
    lengths:
        Per-ciphertext byte lengths when ``width`` is 0.
    """

    scheme: str
    key_fingerprint: str
    count: int
    width: int
    data: bytes
    lengths: list[int] = field(default_factory=list)

    @classmethod
    def of_blobs(cls, scheme: str, key_fingerprint: str, blobs: list[bytes]) -> CipherArray:
        """A variable-width batch (``width`` 0) of these ciphertexts, in order."""
        return cls(
            scheme=scheme,
            key_fingerprint=key_fingerprint,
            count=len(blobs),
            width=0,
            data=b"".join(blobs),
            lengths=[len(b) for b in blobs],
        )

    def check(self, scheme: str, key_fingerprint: str) -> None:
        """Refuse a batch of the wrong scheme, under the wrong key, or of inconsistent size."""
        if self.scheme != scheme:
            raise CryptoError("ciphertexts use an unexpected scheme")
        if self.key_fingerprint != key_fingerprint:
            raise CryptoError("ciphertexts are under a different key")
        if self.count < 0:
            raise CryptoError("ciphertext count is negative")
        if self.width > 0:
            if len(self.data) != self.count * self.width:
                raise CryptoError("ciphertext bytes do not match count and width")
        else:
            if len(self.lengths) != self.count or sum(self.lengths) != len(self.data):
                raise CryptoError("ciphertext lengths do not match the data")

    def split(self) -> list[bytes]:
        """The individual ciphertexts as bytes."""
        if self.width > 0:
            w = self.width
            return [self.data[i * w : (i + 1) * w] for i in range(self.count)]
        out: list[bytes] = []
        pos = 0
        for n in self.lengths:
            out.append(self.data[pos : pos + n])
            pos += n
        return out
