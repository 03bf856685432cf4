"""Forward alerts to the bank's loan system: a JSON POST signed with HMAC-SHA256, retried.

The body is the alert as JSON (UTF-8, sorted keys); the header ``X-Fedcredit-Signature``
carries ``sha256=<hex HMAC-SHA256 of the exact body bytes under the shared secret>``,
``X-Fedcredit-Event`` the event id and ``Idempotency-Key`` the alert's id (``<event id>/<loan
id>``, also in the body as ``idempotency_key``), so the receiver verifies the body before
trusting it and drops repeats: delivery is at least once, and every attempt of one alert
sends the same bytes. ``X-Fedcredit-Attempt`` numbers the attempts (1, 2, ...; not signed).
The secret comes from the bank's alert settings (``<bank data>/alerts/settings.json``,
``webhook_secret``), never from the command line.

Failed deliveries are retried by the processor from the bank's alert store (so a retry
survives a restart) after ``backoff_s``, doubling up to ``max_backoff_s``, until
``max_attempts``; then the alert's webhook state is ``dead`` (dead letter, shown by
``fedcredit alerts list``).
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
IDEMPOTENCY_HEADER = "Idempotency-Key"
ATTEMPT_HEADER = "X-Fedcredit-Attempt"


def sign(body: bytes, secret: bytes) -> str:
    """The signature header value of ``body``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: bytes, header: str) -> bool:
    """Whether ``header`` is the signature of ``body`` under ``secret`` (constant time)."""
    return hmac.compare_digest(sign(body, secret), header)


def encode(payload: Mapping[str, object]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")


def idempotency_key(event_id: str, loan_id: str) -> str:
    """The alert's id: one event may concern several loans of the bank."""
    return f"{event_id}/{loan_id}"


@dataclass(frozen=True)
class Webhook:
    """POST alerts to ``url`` (http or https) with a signature; ``timeout_s`` per request.

    ``max_attempts`` deliveries at most per alert, the n-th retry ``backoff_s * 2**(n-1)``
    seconds after the previous failure (at most ``max_backoff_s``).
    """

    url: str
    secret: bytes
    timeout_s: float = 5.0
    max_attempts: int = 8
    backoff_s: float = 30.0
    max_backoff_s: float = 3600.0

    def __post_init__(self) -> None:
        from models.errors import InvalidArgument

        if not self.url.startswith(("http://", "https://")):
            raise InvalidArgument("the webhook URL must be http or https")
        if len(self.secret) < 16:
            raise InvalidArgument("the webhook secret must be at least 16 bytes")
        if self.max_attempts < 1 or self.backoff_s < 0 or self.max_backoff_s < self.backoff_s:
            raise InvalidArgument("webhook retries: at least 1 attempt, backoff >= 0")

    def delay_s(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt."""
        return float(min(self.max_backoff_s, self.backoff_s * 2 ** max(attempts - 1, 0)))

    def post(self, body: bytes, *, key: str, event_id: str, attempt: int = 1) -> str:
        """Send ``body``; returns ``"ok"`` or the failure's reason (never raises)."""
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(body, self.secret),
                EVENT_HEADER: event_id,
                IDEMPOTENCY_HEADER: key,
                ATTEMPT_HEADER: str(attempt),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                status = int(response.status)
        except urllib.error.HTTPError as err:
            return f"http_{err.code}"
        except (urllib.error.URLError, OSError, TimeoutError):
            return "unreachable"
        return "ok" if 200 <= status < 300 else f"http_{status}"

    def send(self, payload: Mapping[str, object]) -> str:
        """Send one alert once; returns ``"ok"`` or ``"failed:<reason>"`` (never raises)."""
        event_id = str(payload.get("event_id", ""))
        key = idempotency_key(event_id, str(payload.get("loan_id", "")))
        outcome = self.post(encode(payload), key=key, event_id=event_id)
        return outcome if outcome == "ok" else f"failed:{outcome}"
