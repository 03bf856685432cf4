"""Forward alerts to the bank's loan system: a JSON POST signed with HMAC-SHA256.

The body is the alert as JSON (UTF-8, sorted keys); the header ``X-Fedcredit-Signature``
carries ``sha256=<hex HMAC-SHA256 of the exact body bytes under the shared secret>`` and
``X-Fedcredit-Event`` the event id, so the receiver verifies the body before trusting it and
can drop repeats (delivery is at least once). The secret comes from the bank's alert settings
(``<bank data>/alerts/settings.json``, ``webhook_secret``), never from the command line.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass

SIGNATURE_HEADER = "X-Fedcredit-Signature"
EVENT_HEADER = "X-Fedcredit-Event"


def sign(body: bytes, secret: bytes) -> str:
    """The signature header value of ``body``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: bytes, header: str) -> bool:
    """Whether ``header`` is the signature of ``body`` under ``secret`` (constant time)."""
    return hmac.compare_digest(sign(body, secret), header)


def encode(payload: Mapping[str, object]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class Webhook:
    """POST alerts to ``url`` (http or https) with a signature; ``timeout_s`` per request."""

    url: str
    secret: bytes
    timeout_s: float = 5.0

    def __post_init__(self) -> None:
        from models.errors import InvalidArgument

        if not self.url.startswith(("http://", "https://")):
            raise InvalidArgument("the webhook URL must be http or https")
        if len(self.secret) < 16:
            raise InvalidArgument("the webhook secret must be at least 16 bytes")

    def send(self, payload: Mapping[str, object]) -> str:
        """Send one alert; returns ``"ok"`` or ``"failed:<reason>"`` (never raises)."""
        body = encode(payload)
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(body, self.secret),
                EVENT_HEADER: str(payload.get("event_id", "")),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                status = int(response.status)
        except urllib.error.HTTPError as err:
            return f"failed:http_{err.code}"
        except (urllib.error.URLError, OSError, TimeoutError):
            return "failed:unreachable"
        return "ok" if 200 <= status < 300 else f"failed:http_{status}"
