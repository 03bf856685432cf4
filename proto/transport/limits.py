"""Resource limits per party: call rates, concurrent streams, bytes in flight, byte rate.

A party with a valid certificate can still try to exhaust a node: flood a method, open many
streams, announce huge bodies. :class:`ResourceGuard` holds the node's budgets and
:class:`LimitsInterceptor` applies the per-call ones after authentication, so every limit is per
authenticated party:

- **call rate** per (party, method): a token bucket (:class:`RateRule`: ``rate_per_s`` refill,
  ``burst`` capacity; a per-method rule or the default);
- **concurrent streams** per party for client-streaming methods (``party_streams``);
- **bytes in flight**: a stream's announced body size is reserved from the party's budget
  (``party_bytes_in_flight``) and the node's (``bytes_in_flight``) from its header until its
  answer is computed (:meth:`ResourceGuard.reserve`; over budget, it waits up to
  ``reserve_wait_s`` for earlier streams, then is refused); bodies over ``max_body_bytes`` are
  refused at the header;
- **byte rate** per party (``party_bytes_per_s``): the receiver waits before reading more of a
  stream that is ahead of its budget (gRPC flow control then slows the sender), so a party
  cannot take the node's CPU by streaming.

Exceeding a limit is ``RESOURCE_EXHAUSTED`` (a transient status: well-behaved clients back off
and retry). The interceptor also decodes requests itself, so a request that is not a valid
protobuf message is ``INVALID_ARGUMENT`` from our handler instead of gRPC's INTERNAL
"Exception deserializing request!".

Configured in the node's config (``[platform.limits]``, :meth:`LimitsConfig.from_mapping`)::

    [platform.limits]
    max_body_bytes = 536870912
    party_bytes_in_flight = 536870912
    bytes_in_flight = 1073741824
    party_streams = 4
    party_bytes_per_s = 268435456
    spill_threshold_bytes = 4194304
    reserve_wait_s = 5.0
    default_rate = [1000.0, 2000.0]         # calls per second, burst, per party and method

    [platform.limits.rates]                 # per method (its short name): [rate, burst]
    VerifyLog = [1.0, 5.0]
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from models.errors import FedCreditError, InvalidArgument, ResourceExhausted

from .auth import current_caller
from .limits_config import LimitsConfig, RateRule
from .status import status_for


class TokenBucket:
    """A thread-safe token bucket (``clock`` in seconds, monotonic)."""

    def __init__(self, rule: RateRule, clock: Callable[[], float] = time.monotonic) -> None:
        self.rule = rule
        self._clock = clock
        self._tokens = rule.burst
        self._at = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.rule.burst, self._tokens + (now - self._at) * self.rule.rate_per_s)
        self._at = now

    def try_take(self, n: float = 1.0) -> bool:
        """Take ``n`` tokens if there are that many."""
        with self._lock:
            self._refill()
            if self._tokens >= n:
                self._tokens -= n
                return True
            return False

    def take_or_wait(self, n: float) -> float:
        """Take ``n`` tokens now (going into debt); the seconds to wait until the debt is paid."""
        with self._lock:
            self._refill()
            self._tokens -= n
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rule.rate_per_s


class ResourceGuard:
    """The node's budgets, shared by the interceptor and the streaming handlers."""

    MAX_KEYS = 10_000

    def __init__(self, config: LimitsConfig | None = None, *, clock: Any = time.monotonic) -> None:
        self.config = config or LimitsConfig()
        self._clock = clock
        self._lock = threading.Lock()
        self._freed = threading.Condition(self._lock)
        self._buckets: OrderedDict[tuple[str, str], TokenBucket] = OrderedDict()
        self._streams: dict[str, int] = {}
        self._party_bytes: dict[str, int] = {}
        self._bytes = 0
        #: Refusals per reason (for logs, tests and benchmarks).
        self.refused: dict[str, int] = {}

    def _refuse(self, reason: str, message: str) -> ResourceExhausted:
        with self._lock:
            self.refused[reason] = self.refused.get(reason, 0) + 1
        return ResourceExhausted(message)

    def _bucket(self, key: tuple[str, str], rule: RateRule) -> TokenBucket:
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket(rule, self._clock)
                while len(self._buckets) > self.MAX_KEYS:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(key)
            return bucket

    def admit_call(self, party: str, method: str) -> None:
        """Count one call of ``method`` by ``party``; ``ResourceExhausted`` over its rate."""
        if not self._bucket((party, method), self.config.rate_for(method)).try_take():
            raise self._refuse("rate", "too many calls of this method; retry later")

    @contextlib.contextmanager
    def stream(self, party: str, *, kind: str = "", limit: int | None = None) -> Iterator[None]:
        """Hold one of the party's concurrent stream slots (``kind``: a separate pool of
        ``limit`` slots, e.g. health watches, so they never take the party's Exchange slots)."""
        key = f"{party}#{kind}" if kind else party
        cap = self.config.party_streams if limit is None else limit
        with self._lock:
            if self._streams.get(key, 0) >= cap:
                full = True
            else:
                full = False
                self._streams[key] = self._streams.get(key, 0) + 1
        if full:
            raise self._refuse("streams", "too many concurrent streams from this party")
        try:
            yield
        finally:
            with self._lock:
                self._streams[key] -= 1
                if not self._streams[key]:
                    del self._streams[key]

    def check_body_size(self, nbytes: int) -> None:
        if nbytes > self.config.max_body_bytes:
            raise self._refuse("body_size", "message is larger than the allowed maximum")

    @contextlib.contextmanager
    def reserve(self, party: str, nbytes: int) -> Iterator[None]:
        """Reserve ``nbytes`` of the party's and the node's bytes in flight.

        A stream over budget waits up to ``reserve_wait_s`` for earlier ones to finish (it
        already holds one of the party's few stream slots, so waiting costs a thread, not CPU,
        and a client that ignores refusals is slowed down), then is refused.
        """
        self.check_body_size(nbytes)
        cfg = self.config
        deadline = time.monotonic() + cfg.reserve_wait_s
        with self._lock:
            while True:
                mine = self._party_bytes.get(party, 0)
                if (
                    mine + nbytes <= cfg.party_bytes_in_flight
                    and self._bytes + nbytes <= cfg.bytes_in_flight
                ):
                    self._party_bytes[party] = mine + nbytes
                    self._bytes += nbytes
                    ok = True
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    ok = False
                    break
                self._freed.wait(left)
        if not ok:
            raise self._refuse("bytes_in_flight", "too many bytes in flight; retry later")
        try:
            yield
        finally:
            with self._lock:
                self._bytes -= nbytes
                self._party_bytes[party] -= nbytes
                if not self._party_bytes[party]:
                    del self._party_bytes[party]
                self._freed.notify_all()

    def throttle(
        self, party: str, nbytes: int, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        """Account ``nbytes`` received from ``party``; wait while it is ahead of its byte rate."""
        rate = self.config.party_bytes_per_s
        rule = RateRule(rate, max(rate, float(self.config.spill_threshold_bytes)))
        delay = self._bucket((party, "#bytes"), rule).take_or_wait(float(nbytes))
        if delay > 0:
            sleep(delay)

    def in_flight(self) -> tuple[int, dict[str, int], dict[str, int]]:
        """(bytes in flight, per party bytes, per party streams): a snapshot."""
        with self._lock:
            return self._bytes, dict(self._party_bytes), dict(self._streams)


# -- interceptor ---------------------------------------------------------------------------------
class LimitsInterceptor(grpc.ServerInterceptor):
    """Call rates and stream slots per party, and our own request decoding.

    Install it after :class:`~proto.transport.auth.AuthInterceptor` (``interceptors=[auth,
    limits]``): it reads the authenticated caller. Health checks (open to every known party,
    :data:`~proto.transport.auth.PUBLIC_METHODS`) are rate-limited per party like any method
    (``Check`` under ``default_rate``, ``Watch`` streams under their own rule), so one party's
    flood of health checks is refused without starving the others'.
    """

    def __init__(self, guard: ResourceGuard) -> None:
        self.guard = guard

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return handler
        return _limited(handler, handler_call_details.method, self.guard)


_BAD_MESSAGE = "request is not a valid protobuf message of this method"

#: A health watch holds a server thread for as long as the client keeps it open: at most this
#: many at once per party (besides the ``Watch`` call rate), so one party cannot take the
#: server's threads with watches.
HEALTH_WATCH = "/grpc.health.v1.Health/Watch"
WATCH_STREAMS_PER_PARTY = 2


def _decoder(deserialize: Callable[[bytes], Any] | None) -> Callable[[Any], Any]:
    def decode(raw: Any) -> Any:
        if deserialize is None:
            return raw
        try:
            return deserialize(raw)
        except Exception:  # protobuf raises DecodeError, and others on odd input
            raise InvalidArgument(_BAD_MESSAGE) from None

    return decode


def _abort(context: grpc.ServicerContext, err: FedCreditError) -> None:
    code, message = status_for(err)
    context.abort(code, message)


def _limited(handler: grpc.RpcMethodHandler, method: str, guard: ResourceGuard) -> Any:
    decode = _decoder(handler.request_deserializer)

    def admit(context: grpc.ServicerContext) -> str | None:
        try:
            party = current_caller().party
            guard.admit_call(party, method)
        except FedCreditError as err:
            _abort(context, err)
            return None
        return party

    def unary_request(behavior: Callable[..., Any]) -> Callable[..., Any]:
        def call(raw: Any, context: grpc.ServicerContext) -> Any:
            if admit(context) is None:
                return None
            try:
                request = decode(raw)
            except FedCreditError as err:
                _abort(context, err)
                return None
            return behavior(request, context)

        return call

    def unary_request_stream(behavior: Callable[..., Any]) -> Callable[..., Any]:
        def call(raw: Any, context: grpc.ServicerContext) -> Any:
            party = admit(context)
            if party is None:
                return
            try:
                request = decode(raw)
                slot: contextlib.AbstractContextManager[None] = (
                    guard.stream(party, kind="watch", limit=WATCH_STREAMS_PER_PARTY)
                    if method == HEALTH_WATCH
                    else contextlib.nullcontext()
                )
                slot.__enter__()
            except FedCreditError as err:
                _abort(context, err)
                return
            try:
                yield from behavior(request, context)
            finally:
                slot.__exit__(None, None, None)

        return call

    def stream_request(behavior: Callable[..., Any], *, streaming: bool) -> Callable[..., Any]:
        def requests(raw_iterator: Iterator[Any]) -> Iterator[Any]:
            for raw in raw_iterator:
                yield decode(raw)  # InvalidArgument surfaces in the handler's own try

        def call_unary(raw_iterator: Iterator[Any], context: grpc.ServicerContext) -> Any:
            party = admit(context)
            if party is None:
                return None
            try:
                slot = guard.stream(party)
                slot.__enter__()
            except FedCreditError as err:
                _abort(context, err)
                return None
            try:
                return behavior(requests(raw_iterator), context)
            finally:
                slot.__exit__(None, None, None)

        def call_stream(raw_iterator: Iterator[Any], context: grpc.ServicerContext) -> Any:
            party = admit(context)
            if party is None:
                return
            try:
                slot = guard.stream(party)
                slot.__enter__()
            except FedCreditError as err:
                _abort(context, err)
                return
            try:
                yield from behavior(requests(raw_iterator), context)
            finally:
                slot.__exit__(None, None, None)

        return call_stream if streaming else call_unary

    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(
            unary_request(handler.unary_unary), None, handler.response_serializer
        )
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(
            unary_request_stream(handler.unary_stream), None, handler.response_serializer
        )
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(
            stream_request(handler.stream_unary, streaming=False),
            None,
            handler.response_serializer,
        )
    return grpc.stream_stream_rpc_method_handler(
        stream_request(handler.stream_stream, streaming=True), None, handler.response_serializer
    )
