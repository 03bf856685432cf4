"""Audit key rotation: which key signed which entry.

A node's log starts under its **root key** (``audit.pub``; the fingerprint a regulator pins).
Rotating appends an ``audit_key_rotated`` entry, signed by the key in force, whose details name
the next key (``new_key_pem``, ``new_key_fingerprint``); every later entry, and the signed head,
is under the new key. So a verifier that trusts the root key can follow every rotation from the
log alone, and a key that leaks after it was retired cannot sign entries that verify.

:class:`KeyChain` is that sequence of keys, built from the root key and the rotation entries in
log order (each checked against the key before it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

import models.audit.events as ev
from models.audit.entry import LogEntry, entry_authentic
from models.audit.keys import key_fingerprint, load_public_key, public_key_pem
from models.errors import CryptoError, InvalidArgument


def rotation_details(new_key: Ed25519PrivateKey | Ed25519PublicKey, reason: str = "") -> dict:
    """The details of an ``audit_key_rotated`` entry naming ``new_key``."""
    out = {
        "new_key_pem": public_key_pem(new_key).decode("ascii"),
        "new_key_fingerprint": key_fingerprint(new_key),
    }
    if reason:
        out["reason"] = reason
    return out


def rotated_key(entry: LogEntry) -> Ed25519PublicKey:
    """The key a rotation entry hands over to (its PEM must match its fingerprint)."""
    pem, fp = entry.details.get("new_key_pem"), entry.details.get("new_key_fingerprint")
    if not isinstance(pem, str) or not isinstance(fp, str):
        raise InvalidArgument("a key rotation entry does not name its new key")
    try:
        key = load_public_key(pem.encode("ascii"))
    except (CryptoError, UnicodeEncodeError):
        raise InvalidArgument("a key rotation entry names an unreadable key") from None
    if key_fingerprint(key) != fp:
        raise InvalidArgument("a key rotation entry's key does not match its fingerprint")
    return key


@dataclass(frozen=True)
class KeyChain:
    """The root key and, per rotation, the sequence number of its entry and the next key."""

    root: Ed25519PublicKey
    steps: tuple[tuple[int, Ed25519PublicKey], ...] = ()

    @classmethod
    def of(cls, root: Ed25519PublicKey, rotations: Iterable[LogEntry] = ()) -> KeyChain:
        """Follow ``rotations`` (in log order); each must be authentic under the key in force.

        Raises :class:`InvalidArgument` on a rotation entry that is not.
        """
        chain = cls(root)
        for entry in rotations:
            chain = chain.extended(entry)
        return chain

    def extended(self, entry: LogEntry) -> KeyChain:
        """This chain plus one more rotation entry (checked)."""
        if entry.event != ev.AUDIT_KEY_ROTATED:
            raise InvalidArgument("not a key rotation entry")
        if self.steps and entry.seq <= self.steps[-1][0]:
            raise InvalidArgument("key rotation entries out of order")
        if not entry_authentic(entry, self.current):
            raise InvalidArgument("a key rotation entry is not signed by the key in force")
        return KeyChain(self.root, (*self.steps, (entry.seq, rotated_key(entry))))

    @property
    def current(self) -> Ed25519PublicKey:
        return self.steps[-1][1] if self.steps else self.root

    @property
    def root_fingerprint(self) -> str:
        return key_fingerprint(self.root)

    @property
    def current_fingerprint(self) -> str:
        return key_fingerprint(self.current)

    def key_for(self, seq: int) -> Ed25519PublicKey:
        """The key that signs entry ``seq`` (a rotation entry is signed by the key it retires)."""
        key = self.root
        for at, nxt in self.steps:
            if seq > at:
                key = nxt
        return key

    def authentic(self, entry: LogEntry) -> bool:
        """Hash and signature check out under the key in force at the entry."""
        return entry_authentic(entry, self.key_for(entry.seq))
