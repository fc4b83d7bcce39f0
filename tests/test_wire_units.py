"""The pieces of the auth layer on their own: nonce cache, rate limiter, policy, wire format, method rules."""

from __future__ import annotations

import random

import pytest

from consensus.units import UNITS_PER_TOKEN
from subnet.auth import OPEN, PASSTHROUGH, RESTRICTED, SIGNED, AllowAll, AuthInterceptor, MetagraphPolicy, wire
from subnet.auth.nonces import BELOW_FLOOR, REPLAYED, NonceCache
from subnet.auth.policy import AccessPolicy
from subnet.auth.ratelimit import RateLimiter, RateLimitSettings
from subnet.errors import BadResponseSignatureError, UnsignedResponseError
from subnet.keys import Keypair


class Clock:
    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_nonce_cache_detects_replays_and_forgets_after_the_window() -> None:
    clock = Clock()
    cache = NonceCache(window_s=30, max_entries=100, clock=clock)
    assert cache.check_and_add("a", clock.t) is None
    assert cache.check_and_add("b", clock.t) is None
    assert cache.check_and_add("a", clock.t) == REPLAYED
    clock.t += 30.5
    cache.check_and_add("c", clock.t)
    assert len(cache) == 1  # a and b expired: the server's skew check now refuses their timestamps anyway


def test_nonce_cache_stays_bounded_over_100k_calls_and_never_forgets_a_live_replay() -> None:
    clock = Clock()
    rng = random.Random(7)
    cache = NonceCache(window_s=30, max_entries=5_000, clock=clock)
    issued: list[tuple[int, float]] = []
    accepted = 0
    for i in range(100_000):
        clock.t += 0.0005  # 2,000 calls/s: far more live nonces than the cache may hold
        stamp = clock.t + rng.uniform(-1.0, 1.0)  # callers' clocks disagree a little
        if cache.check_and_add(i, stamp) is None:
            accepted += 1
            issued.append((i, stamp))
        assert len(cache) <= 5_000
    assert accepted > 90_000  # narrowing the window only refuses calls stamped near the floor
    # Every accepted nonce still inside the skew window is refused when replayed, remembered or not.
    for key, stamp in issued[-20_000:]:
        if abs(stamp - clock.t) <= 30:
            assert cache.check_and_add(key, stamp) in (REPLAYED, BELOW_FLOOR)
    assert cache.floor_s > clock.t - 30


def test_nonce_cache_floor_refuses_timestamps_of_dropped_entries() -> None:
    clock = Clock()
    cache = NonceCache(window_s=30, max_entries=2, clock=clock)
    assert cache.check_and_add("x", clock.t - 3) is None
    assert cache.check_and_add("y", clock.t - 2) is None
    assert cache.check_and_add("z", clock.t - 1) is None  # drops x, floor = its timestamp
    assert cache.floor_s == clock.t - 3
    assert cache.check_and_add("x", clock.t - 3) == BELOW_FLOOR  # the replay of the dropped nonce
    assert cache.check_and_add("y", clock.t - 2) == REPLAYED


def test_rate_limiter_scales_with_stake_and_refills() -> None:
    clock = Clock(0.0)
    settings = RateLimitSettings(
        base_burst_requests=2, burst_per_token_staked=1, max_burst_requests=10, refill_window_s=10
    )
    limiter = RateLimiter(settings, clock=clock)
    assert limiter.capacity_for(0) == 2
    assert limiter.capacity_for(3 * UNITS_PER_TOKEN) == 5
    assert limiter.capacity_for(10**6 * UNITS_PER_TOKEN) == 10
    assert [limiter.try_acquire("poor", 0) for _ in range(2)] == [0.0, 0.0]
    assert limiter.try_acquire("poor", 0) == pytest.approx(5.0)  # 2 tokens per 10 s: one in 5 s
    for _ in range(5):
        assert limiter.try_acquire("rich", 3 * UNITS_PER_TOKEN) == 0.0
    assert limiter.try_acquire("rich", 3 * UNITS_PER_TOKEN) > 0
    clock.t += 5.0
    assert limiter.try_acquire("poor", 0) == 0.0
    assert limiter.try_acquire("poor", 0) > 0


def test_rate_limiter_memory_is_bounded_and_can_be_disabled() -> None:
    limiter = RateLimiter(RateLimitSettings(max_callers=100), clock=Clock())
    for i in range(1_000):
        limiter.try_acquire(f"caller-{i}", 0)
    assert len(limiter._buckets) == 100
    off = RateLimiter(RateLimitSettings(enabled=False, base_burst_requests=1), clock=Clock())
    assert all(off.try_acquire("c", 0) == 0.0 for _ in range(100))


def test_metagraph_policy_decisions_refresh_and_sources() -> None:
    a, b, gw = (Keypair.generate().ss58_address for _ in range(3))
    policy = MetagraphPolicy(
        {a: (0, 5 * UNITS_PER_TOKEN, True)}, min_stake_units=UNITS_PER_TOKEN, allowlist=[gw], allowlist_stake_units=7
    )
    assert isinstance(policy, AccessPolicy) and isinstance(AllowAll(), AccessPolicy)
    decision = policy.check(a, "/m")
    assert (decision.allowed, decision.uid, decision.stake_units) == (True, 0, 5 * UNITS_PER_TOKEN)
    assert not policy.check(b, "/m").allowed
    assert policy.check(gw, "/m").allowed and policy.check(gw, "/m").stake_units == 7
    policy.update({b: (3, 2 * UNITS_PER_TOKEN, True)})  # a was deregistered, b registered
    assert not policy.check(a, "/m").allowed and policy.check(b, "/m").uid == 3
    snapshot = {a: (1, 0, True)}
    live = MetagraphPolicy(lambda: snapshot, min_stake_units=0)
    assert live.check(a, "/m").allowed
    snapshot[a] = (1, 0, False)
    assert "no validator permit" in live.check(a, "/m").reason


def test_request_metadata_round_trip_and_strictness() -> None:
    key, receiver = Keypair.generate(), Keypair.generate().ss58_address
    metadata, nonce = wire.sign_request(key, "/m", b"body", receiver)
    header = wire.parse_request_metadata(metadata)
    assert (header.caller, header.receiver, header.nonce) == (key.ss58_address, receiver, nonce)
    message = wire.request_message("/m", header.body_sha256, header.caller, receiver, nonce, header.timestamp_ms)
    assert key.verify(message, header.signature)
    ((key, value),) = metadata
    upper = ((key, value[:-128] + value[-128:].upper()),)
    with pytest.raises(wire.AuthFailure, match="malformed metadata"):
        wire.parse_request_metadata(upper)
    with pytest.raises(wire.AuthFailure, match="missing metadata"):
        wire.parse_request_metadata(())
    assert header.metadata() == metadata
    assert wire.new_nonce() != wire.new_nonce()


def test_response_digest_frames_message_boundaries() -> None:
    assert wire.response_digest([b"ab", b"c"]) != wire.response_digest([b"a", b"bc"])
    assert wire.response_digest([b""])[1] == 1 and wire.response_digest([])[1] == 0


def test_check_response_names_each_problem() -> None:
    server, caller = Keypair.generate(), Keypair.generate()
    digest, count = wire.response_digest([b"answer"])
    trailers = wire.sign_response(server, "/m", digest, count, caller.ss58_address, "ab" * 16)
    kw = dict(signer=server.ss58_address, caller=caller.ss58_address, nonce="ab" * 16, digest=digest, count=count)
    assert wire.check_response("/m", trailers, **kw).verify([b"answer"])
    with pytest.raises(UnsignedResponseError):
        wire.check_response("/m", (), **kw)
    with pytest.raises(BadResponseSignatureError, match="signed by"):
        wire.check_response("/m", trailers, **{**kw, "signer": caller.ss58_address})
    with pytest.raises(BadResponseSignatureError, match="different call"):
        wire.check_response("/m", trailers, **{**kw, "nonce": "cd" * 16})
    with pytest.raises(BadResponseSignatureError, match="does not cover"):
        wire.check_response("/m", trailers, **{**kw, "count": 2})


def test_method_rules_exact_then_service_then_default() -> None:
    interceptor = AuthInterceptor(
        Keypair.generate(), AllowAll(), methods={"/subnet.v1.Chain/": OPEN, "/subnet.v1.Chain/Submit": SIGNED}
    )
    assert interceptor.rule_for("/subnet.v1.Chain/Submit") == SIGNED
    assert interceptor.rule_for("/subnet.v1.Chain/Balance") == OPEN
    assert interceptor.rule_for("/subnet.v1.Miner/Generate") == RESTRICTED
    assert interceptor.rule_for("/grpc.health.v1.Health/Check") == PASSTHROUGH
