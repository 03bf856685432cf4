"""Authentication and authorisation of every RPC, in one server interceptor.

The interceptor identifies the caller from its client certificate (or the test header in the
explicit plaintext mode), refuses callers it does not know (UNAUTHENTICATED) and callers whose
role may not use the method (PERMISSION_DENIED), then makes the identity available to the
servicer through :func:`current_caller`. Servicers never parse certificates themselves.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Collection, Mapping
from typing import Any

import grpc

from models.errors import FedCreditError, PermissionDenied, Unauthenticated
from models.federation.party import Caller

from .status import status_for
from .tls import identity_from_auth, identity_from_context
from .trust import CertTrust

_CALLER: contextvars.ContextVar[Caller | None] = contextvars.ContextVar("caller", default=None)

#: Methods every authenticated party may call.
PUBLIC_METHODS = frozenset({"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"})


def current_caller() -> Caller:
    """The caller of the RPC being served (set by :class:`AuthInterceptor`)."""
    caller = _CALLER.get()
    if caller is None:
        raise Unauthenticated("no caller identity")
    return caller


class AuthInterceptor(grpc.ServerInterceptor):
    """Checks identity and role before any servicer code runs.

    Parameters
    ----------
    policy:
        Full method name (``/fedcredit.v1.FederationService/Exchange``) -> allowed roles.
        A method missing from the policy is refused. The mapping is read on every call (not
        copied), so a server may add services and their rules after creating the interceptor.
    known_parties:
        Party name -> expected role. A certificate for a party not listed here (or with
        another role) is UNAUTHENTICATED. ``None`` accepts any party the CA vouches for.
    plaintext:
        Take the identity from test metadata (only for servers started with the explicit
        plaintext flag).
    trust:
        Full chain validation and revocation of the client certificate
        (:class:`~proto.transport.trust.CertTrust`), checked before anything else.
    """

    def __init__(
        self,
        policy: Mapping[str, Collection[str]],
        known_parties: Mapping[str, str] | None,
        *,
        plaintext: bool = False,
        trust: CertTrust | None = None,
    ) -> None:
        self.policy = policy
        self.known_parties = dict(known_parties) if known_parties is not None else None
        self.plaintext = plaintext
        self.trust = trust

    def authorise(self, method: str, context: grpc.ServicerContext) -> Caller:
        if self.trust is not None and not self.plaintext:
            auth = context.auth_context()  # read once: it is rebuilt on every access
            leaf = auth.get("x509_pem_cert") or []
            chain = auth.get("x509_pem_cert_chain") or []
            if not leaf:
                raise Unauthenticated("no client certificate")
            self.trust.check(bytes(leaf[0]), _split_pem(chain))
            caller = identity_from_auth(auth)
        else:
            caller = identity_from_context(context, plaintext=self.plaintext)
        if self.known_parties is not None:
            base = caller.party.split("/", 1)[0]
            expected = self.known_parties.get(base)
            if expected is None:
                raise Unauthenticated("caller is not a known party")
            if caller.role != "officer" and expected != caller.role:
                raise Unauthenticated("caller's certificate role does not match its registration")
            if caller.role == "officer" and expected != "bank":
                raise Unauthenticated("officer certificate is not issued for a known bank")
        if method in PUBLIC_METHODS:
            return caller
        allowed = self.policy.get(method)
        if allowed is None or caller.role not in allowed:
            raise PermissionDenied("this role may not call this method")
        return caller

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        return _wrap(handler, lambda ctx: self.authorise(method, ctx))


def _split_pem(values: list[bytes]) -> list[bytes]:
    """The certificates of a PEM chain property (one blob or one entry per certificate)."""
    marker = b"-----BEGIN CERTIFICATE-----"
    out: list[bytes] = []
    for blob in values:
        for part in bytes(blob).split(marker)[1:]:
            out.append(marker + part)
    return out


def _reset(token: contextvars.Token[Caller | None]) -> None:
    try:
        _CALLER.reset(token)
    except ValueError:  # a generator finished in another context
        _CALLER.set(None)


def _deny(context: grpc.ServicerContext, err: FedCreditError) -> None:
    code, message = status_for(err)
    context.abort(code, message)


def _wrap(
    handler: grpc.RpcMethodHandler, authorise: Callable[[grpc.ServicerContext], Caller]
) -> grpc.RpcMethodHandler:
    def wrap_behavior(behavior: Callable[..., Any]) -> Callable[..., Any]:
        def call(request_or_iterator: Any, context: grpc.ServicerContext) -> Any:
            try:
                caller = authorise(context)
            except FedCreditError as err:
                _deny(context, err)
                return None
            token = _CALLER.set(caller)
            try:
                return behavior(request_or_iterator, context)
            finally:
                _reset(token)

        return call

    def wrap_stream_behavior(behavior: Callable[..., Any]) -> Callable[..., Any]:
        def call(request_or_iterator: Any, context: grpc.ServicerContext) -> Any:
            try:
                caller = authorise(context)
            except FedCreditError as err:
                _deny(context, err)
                return
            token = _CALLER.set(caller)
            try:
                yield from behavior(request_or_iterator, context)
            finally:
                _reset(token)

        return call

    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(
            wrap_behavior(handler.unary_unary),
            handler.request_deserializer,
            handler.response_serializer,
        )
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(
            wrap_stream_behavior(handler.unary_stream),
            handler.request_deserializer,
            handler.response_serializer,
        )
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(
            wrap_behavior(handler.stream_unary),
            handler.request_deserializer,
            handler.response_serializer,
        )
    return grpc.stream_stream_rpc_method_handler(
        wrap_stream_behavior(handler.stream_stream),
        handler.request_deserializer,
        handler.response_serializer,
    )
