"""The server side of signed calls: a grpc.aio interceptor that verifies requests and signs responses.

grpc.aio interceptors see the method and metadata but not the request bytes, so for every checked method the
interceptor returns a replacement handler that receives the *raw* request bytes (no deserializer), runs every
check on them, and only then deserializes and calls the real handler. Nothing the servicer does runs before
the signature is verified. The order of checks, each with its status code, is in ``subnet/WIRE.md``.
Client-streaming methods cannot be signed this way; a rule that demands a signature on one fails closed.
"""

from __future__ import annotations

import contextvars
import hashlib
import inspect
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import grpc
import grpc.aio

from subnet.auth import wire
from subnet.auth.nonces import REPLAYED, NonceCache
from subnet.auth.policy import AccessPolicy
from subnet.auth.ratelimit import RateLimiter
from subnet.auth.settings import DEFAULT_AUTH_SETTINGS, DEFAULT_METHOD_RULES, AuthSettings, MethodAuth
from subnet.keys import Keypair, public_key_of, verify_signature_fast

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CallerInfo:
    """Who is calling, as established by the interceptor; read it in a servicer with ``current_caller()``."""

    caller_ss58: str
    method: str
    verified: bool
    stake_units: int = 0
    uid: int | None = None
    nonce: str | None = None


_CURRENT_CALLER: contextvars.ContextVar[CallerInfo | None] = contextvars.ContextVar("subnet_caller", default=None)


def current_caller() -> CallerInfo | None:
    """The caller of the RPC being served in this task (None outside a checked RPC or for anonymous calls)."""
    return _CURRENT_CALLER.get()


class _DigestingContext:
    """A servicer context whose ``write`` serializes, digests, then sends raw bytes (for streams written with
    ``context.write`` instead of ``yield``)."""

    def __init__(self, context: grpc.aio.ServicerContext, serializer, digest: wire.ResponseDigest) -> None:
        self._context = context
        self._serializer = serializer
        self._digest = digest

    async def write(self, message) -> None:
        data = self._serializer(message) if self._serializer else message
        self._digest.update(data)
        await self._context.write(data)

    def __getattr__(self, name: str):
        return getattr(self._context, name)


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Verify signed calls, apply the access policy and rate limits, and sign responses as ``identity``.

    ``methods`` maps full method names or service prefixes (ending in ``/``) to a ``MethodAuth``; anything
    unlisted gets ``settings.default_rule``. Health and reflection pass through unless overridden.
    """

    def __init__(
        self,
        identity: Keypair,
        policy: AccessPolicy,
        settings: AuthSettings = DEFAULT_AUTH_SETTINGS,
        *,
        methods: Mapping[str, MethodAuth] | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.identity = identity
        self.policy = policy
        self.settings = settings
        self._clock = clock
        self._rules = {**DEFAULT_METHOD_RULES, **(methods or {})}
        self.nonces = NonceCache(window_s=settings.skew_s, max_entries=settings.nonce_cache_max_entries, clock=clock)
        self.rate_limiter = RateLimiter(settings.rate_limit, clock=monotonic)

    def rule_for(self, method: str) -> MethodAuth:
        """The rule of ``method``: exact name first, then its service prefix, then the default."""
        rule = self._rules.get(method)
        if rule is None:
            rule = self._rules.get(method[: method.rfind("/") + 1], self.settings.default_rule)
        return rule

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        rule = self.rule_for(method)
        if not (rule.verify_request or rule.sign_response):
            return handler
        metadata = tuple(handler_call_details.invocation_metadata or ())
        if handler.request_streaming:
            return _refuse_stream(handler) if rule.verify_request else handler

        if handler.response_streaming:

            async def unary_stream(body: bytes, context):
                info = await self._admit(method, rule, metadata, body, context)
                request = await _deserialize(handler, body, context)
                _CURRENT_CALLER.set(info)
                digest = wire.ResponseDigest()
                result = handler.unary_stream(request, _DigestingContext(context, handler.response_serializer, digest))
                if inspect.isawaitable(result):
                    await result
                else:
                    async for message in result:
                        data = handler.response_serializer(message) if handler.response_serializer else message
                        digest.update(data)
                        yield data
                if rule.sign_response and info is not None:
                    self._sign(context, method, info, digest.hexdigest(), digest.count)

            return grpc.unary_stream_rpc_method_handler(unary_stream)

        async def unary_unary(body: bytes, context):
            info = await self._admit(method, rule, metadata, body, context)
            request = await _deserialize(handler, body, context)
            _CURRENT_CALLER.set(info)
            response = handler.unary_unary(request, context)
            if inspect.isawaitable(response):
                response = await response
            data = handler.response_serializer(response) if handler.response_serializer else response
            if rule.sign_response and info is not None:
                self._sign(context, method, info, wire.single_message_digest(data), 1)
            return data

        return grpc.unary_unary_rpc_method_handler(unary_unary)

    async def _admit(self, method: str, rule: MethodAuth, metadata: tuple, body: bytes, context) -> CallerInfo | None:
        """Run every check in order; abort the RPC on the first failure, else return who is calling."""
        if not rule.verify_request:
            claimed = wire.claimed_binding(metadata)
            return CallerInfo(claimed[0], method, False, nonce=claimed[1]) if claimed else None
        try:
            header = self._authenticate(method, metadata, body)
        except wire.AuthFailure as e:
            log.debug("refused %s: %s", method, e)
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, str(e))
        stake_units, uid = 0, None
        if rule.check_policy or rule.rate_limit:
            try:
                decision = self.policy.check(header.caller, method)
            except Exception:
                log.exception("access policy failed on %s from %s", method, header.caller)
                await context.abort(grpc.StatusCode.UNAVAILABLE, "the access policy failed; retry later")
            stake_units, uid = decision.stake_units, decision.uid
            if rule.check_policy and not decision.allowed:
                log.debug("denied %s to %s: %s", method, header.caller, decision.reason)
                await context.abort(grpc.StatusCode.PERMISSION_DENIED, f"access denied: {decision.reason}")
        # The nonce is recorded only now, for callers the policy let through. Recording it before the policy let
        # anyone with a fresh key fill the bounded cache (stamping calls up to skew_s ahead) and so raise its floor
        # over the calls of allowed validators, locking them out. Not storing refused callers' nonces is safe: a
        # refused call ran nothing, so its replay gains nothing and is refused again by the same policy. (Should the
        # caller become allowed within skew_s, a replay would be served once, exactly the call it signed for this
        # server, and then be remembered.) The nonce is still checked before the rate limit, so replays of an
        # allowed caller's calls never drain its bucket, and a rate-limited call cannot be replayed after a refill.
        # Rules without a policy check (SIGNED) let every signed caller through, so there every nonce is recorded.
        try:
            self._check_nonce(header)
        except wire.AuthFailure as e:
            log.debug("refused %s: %s", method, e)
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, str(e))
        if rule.rate_limit:
            wait_s = self.rate_limiter.try_acquire(header.caller, stake_units)
            if wait_s > 0:
                await context.abort(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"rate limit exceeded for {header.caller}; retry after {wait_s:.3f} s",
                    trailing_metadata=((wire.MD_RETRY_AFTER, str(max(1, round(wait_s * 1000)))),),
                )
        return CallerInfo(header.caller, method, True, stake_units, uid, header.nonce)

    def _authenticate(self, method: str, metadata: tuple, body: bytes) -> wire.RequestHeader:
        """The UNAUTHENTICATED checks up to the signature, cheapest first; raises ``AuthFailure`` naming the one
        that failed. The nonce is checked later, by ``_check_nonce``, once the access policy has allowed the caller."""
        header = wire.parse_request_metadata(metadata)
        if header.receiver != self.identity.ss58_address:
            raise wire.AuthFailure(
                "wrong receiver",
                f"the call is addressed to {header.receiver}, this server is {self.identity.ss58_address}",
            )
        timestamp_s = header.timestamp_ms / 1000
        skew = timestamp_s - self._clock()
        if abs(skew) > self.settings.skew_s:
            raise wire.AuthFailure(
                "stale timestamp",
                f"the call is stamped {skew:+.1f} s from this server's clock (allowed ±{self.settings.skew_s:g} s); "
                "check the caller's clock",
            )
        if hashlib.sha256(body).hexdigest() != header.body_sha256:
            raise wire.AuthFailure("body hash mismatch", "the request bytes are not the ones that were signed")
        message = wire.request_message(
            method, header.body_sha256, header.caller, header.receiver, header.nonce, header.timestamp_ms
        )
        if not verify_signature_fast(public_key_of(header.caller), message, header.signature):
            raise wire.AuthFailure("bad signature", f"the signature is not {header.caller}'s over this call")
        return header

    def _check_nonce(self, header: wire.RequestHeader) -> None:
        """Refuse a replayed nonce (or one stamped below the cache's floor) and remember a fresh one.

        Call it only for a verified caller the access policy allows (see ``_admit``), so strangers never take
        room in the cache.
        """
        verdict = self.nonces.check_and_add((header.caller, header.nonce), header.timestamp_ms / 1000)
        if verdict == REPLAYED:
            raise wire.AuthFailure("replayed nonce", "this nonce was already used; every call needs a fresh one")
        if verdict is not None:
            raise wire.AuthFailure(
                "stale timestamp", "the server is under heavy load and only accepts freshly stamped calls; retry now"
            )

    def _sign(self, context, method: str, info: CallerInfo, digest: str, count: int) -> None:
        if info.nonce is None:
            return
        trailers = wire.sign_response(self.identity, method, digest, count, info.caller_ss58, info.nonce)
        # Keep whatever trailing metadata the servicer set itself.
        existing = tuple(context.trailing_metadata() or ())
        context.set_trailing_metadata(existing + trailers)


async def _deserialize(handler: grpc.RpcMethodHandler, body: bytes, context):
    if handler.request_deserializer is None:
        return body
    try:
        return handler.request_deserializer(body)
    except Exception:
        # The signature was valid, so this is the caller's own bug, not an attack: say so plainly.
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the request body does not parse as the method's message")


def _refuse_stream(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    message = "signed client-streaming calls are not supported; this method must be configured OPEN or PASSTHROUGH"

    async def refuse_unary(request_iterator, context):
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, message)

    async def refuse_stream(request_iterator, context):
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, message)
        yield b""  # pragma: no cover - makes this an async generator, as the handler type requires

    if handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(refuse_stream)
    return grpc.stream_unary_rpc_method_handler(refuse_unary)
