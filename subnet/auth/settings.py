"""Settings of the auth layer: per-method rules and the server's limits."""

from __future__ import annotations

from dataclasses import dataclass, field

from subnet.auth.ratelimit import RateLimitSettings


@dataclass(frozen=True)
class MethodAuth:
    """What the server demands of one method.

    - ``verify_request``: the caller's signature must be present and valid (else UNAUTHENTICATED).
    - ``check_policy``: the access policy must allow the caller (else PERMISSION_DENIED).
    - ``rate_limit``: the caller's token bucket must have room (else RESOURCE_EXHAUSTED).
    - ``sign_response``: the server signs the response over the request's nonce. For unverified methods it
      does so only when the request carries a well-formed caller and nonce (a signing client), else not.
    """

    verify_request: bool
    check_policy: bool
    rate_limit: bool
    sign_response: bool


# Signature + policy + rate limit + signed response: the default for every method, e.g. the Miner service.
RESTRICTED = MethodAuth(verify_request=True, check_policy=True, rate_limit=True, sign_response=True)
# Any valid signature passes (no policy), still rate limited: e.g. the chain's transactions.
SIGNED = MethodAuth(verify_request=True, check_policy=False, rate_limit=True, sign_response=True)
# No signature needed; responses signed for clients that sent a nonce: e.g. the chain's queries.
OPEN = MethodAuth(verify_request=False, check_policy=False, rate_limit=False, sign_response=True)
# Untouched by the interceptor: health checks and reflection, so ordinary tools can probe the server.
PASSTHROUGH = MethodAuth(verify_request=False, check_policy=False, rate_limit=False, sign_response=False)

# Rules are looked up by full method name ("/pkg.Service/Method"), then by service prefix ("/pkg.Service/").
DEFAULT_METHOD_RULES: dict[str, MethodAuth] = {
    "/grpc.health.v1.Health/": PASSTHROUGH,
    "/grpc.reflection.v1alpha.ServerReflection/": PASSTHROUGH,
    "/grpc.reflection.v1.ServerReflection/": PASSTHROUGH,
}


@dataclass(frozen=True)
class AuthSettings:
    """Server-side limits of signed calls.

    ``skew_s`` bounds the difference between the caller's timestamp and our clock (both directions) and is
    also how long a nonce is remembered. ``nonce_cache_max_entries`` bounds that memory (see ``NonceCache``).
    """

    skew_s: float = 30.0
    nonce_cache_max_entries: int = 200_000
    rate_limit: RateLimitSettings = field(default_factory=RateLimitSettings)
    default_rule: MethodAuth = RESTRICTED


DEFAULT_AUTH_SETTINGS = AuthSettings()
