"""Signed calls on gRPC: who may call and how every request and response is proven.

- ``wire``: metadata keys, the exact signed byte layouts, strict parsing (pure functions).
- ``server_interceptor``: ``AuthInterceptor`` verifies requests, applies policy and rate limits, signs responses.
- ``client_interceptor``: ``signing_interceptors`` sign requests and verifies the server's signature.
- ``policy``: the ``AccessPolicy`` interface, ``MetagraphPolicy`` (the default) and ``AllowAll``.
- ``nonces``, ``ratelimit``, ``settings``: replay cache, stake-scaled token buckets, per-method rules.

The format is described for humans in ``subnet/WIRE.md``.
"""

from __future__ import annotations

from subnet.auth.client_interceptor import ClientSigner, signing_interceptors
from subnet.auth.nonces import NonceCache
from subnet.auth.policy import AccessPolicy, AllowAll, Decision, MetagraphPolicy, NeuronAccess
from subnet.auth.ratelimit import RateLimiter, RateLimitSettings
from subnet.auth.server_interceptor import AuthInterceptor, CallerInfo, current_caller
from subnet.auth.settings import OPEN, PASSTHROUGH, RESTRICTED, SIGNED, AuthSettings, MethodAuth
from subnet.auth.wire import ResponseProof

__all__ = [
    "OPEN",
    "PASSTHROUGH",
    "RESTRICTED",
    "SIGNED",
    "AccessPolicy",
    "AllowAll",
    "AuthInterceptor",
    "AuthSettings",
    "CallerInfo",
    "ClientSigner",
    "Decision",
    "MetagraphPolicy",
    "MethodAuth",
    "NeuronAccess",
    "NonceCache",
    "RateLimitSettings",
    "RateLimiter",
    "ResponseProof",
    "current_caller",
    "signing_interceptors",
]
