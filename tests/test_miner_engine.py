"""The batching engine on a real tiny model: continuous batching exactness, sampling reproducibility,
streaming, deadlines, cancellation, queue limits, priority, shutdown and failure isolation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from miners.backend import (
    Completion,
    EngineStoppedError,
    GenerationFailedError,
    GenerationRequest,
    InvalidRequestError,
    QueueFullError,
    SamplingParams,
    TokenEvent,
)
from miners.engine import Engine, EngineSettings
from miners.transformers_backend import HFKVBatch, TransformersBackend
from subnet.models import ChatMessage

PROMPTS = [
    "Hi",
    "What is two plus two?",
    "Write a haiku about the sea, with a title and a short explanation of its imagery.",
    "List the planets of the solar system in order from the sun.",
    "Translate 'good morning' into French, German and Spanish, one per line.",
    "ok",
]


@pytest.fixture(scope="module")
def tiny(model_cache_dir: Path) -> TransformersBackend:
    return TransformersBackend.load("tiny", device="cpu", dtype="float32", cache_dir=model_cache_dir)


@pytest.fixture
async def engine(tiny: TransformersBackend) -> AsyncIterator[Engine]:
    engine = Engine(tiny, EngineSettings(max_batch=8, max_queue=16, max_new_tokens=400))
    await engine.start()
    yield engine
    await engine.stop(grace_s=0)


def ask(text: str, **sampling: object) -> GenerationRequest:
    return GenerationRequest(messages=(ChatMessage("user", text),), sampling=SamplingParams(**sampling))


async def solo(tiny: TransformersBackend, requests: Sequence[GenerationRequest]) -> list[Completion]:
    """Each request run alone (batch of one)."""
    engine = Engine(tiny, EngineSettings(max_batch=1, max_new_tokens=400))
    await engine.start()
    try:
        return [await engine.generate(r) for r in requests]
    finally:
        await engine.stop()


async def staggered(engine: Engine, requests: Sequence[GenerationRequest], join_after: int = 3) -> list[Completion]:
    """Submit request i+1 once request i has streamed ``join_after`` tokens, so each joins a running batch."""
    results: list[Completion | None] = [None] * len(requests)
    started = [asyncio.Event() for _ in requests]

    async def run(i: int) -> None:
        async for event in engine.submit(requests[i]):
            if isinstance(event, TokenEvent) and event.index + 1 == join_after:
                started[i].set()
            if isinstance(event, Completion):
                started[i].set()
                results[i] = event

    tasks = []
    for i in range(len(requests)):
        tasks.append(asyncio.create_task(run(i)))
        await started[i].wait()
    await asyncio.gather(*tasks)
    return [r for r in results if r is not None]


async def test_requests_joining_mid_batch_get_exactly_their_solo_tokens(
    engine: Engine, tiny: TransformersBackend
) -> None:
    requests = [ask(p, max_new_tokens=30 + 7 * i) for i, p in enumerate(PROMPTS)]
    alone = await solo(tiny, requests)
    steps_before = engine.stats().decode_steps
    together = await staggered(engine, requests)
    for a, b in zip(alone, together, strict=True):
        assert b.token_ids == a.token_ids
        assert b.text == a.text
        assert max(abs(x - y) for x, y in zip(a.logprobs, b.logprobs, strict=True)) < 1e-4
    generated = sum(len(c.token_ids) for c in together)
    steps = engine.stats().decode_steps - steps_before
    assert steps < 0.6 * generated, f"{steps} decode steps for {generated} tokens: requests were not batched"


async def test_seeded_sampling_is_reproducible_alone_or_batched(engine: Engine, tiny: TransformersBackend) -> None:
    sampled = [ask(p, max_new_tokens=40, temperature=1.0, top_p=0.95, seed=1234) for p in PROMPTS[:4]]
    alone = await solo(tiny, sampled)
    # Batched with greedy neighbours and with each other, arriving mid-batch.
    mixed = [x for pair in zip(sampled, [ask(p, max_new_tokens=60) for p in PROMPTS[2:6]], strict=True) for x in pair]
    together = (await staggered(engine, mixed, join_after=2))[::2]
    assert [c.token_ids for c in together] == [c.token_ids for c in alone]
    other_seed = await engine.generate(ask(PROMPTS[0], max_new_tokens=40, temperature=1.0, top_p=0.95, seed=99))
    assert other_seed.token_ids != alone[0].token_ids


async def test_stream_yields_ordered_deltas_then_one_completion(engine: Engine, tiny: TransformersBackend) -> None:
    events = [e async for e in engine.submit(ask("Tell me a story about a fox.", max_new_tokens=50))]
    *deltas, final = events
    assert isinstance(final, Completion) and all(isinstance(d, TokenEvent) for d in deltas)
    assert [d.index for d in deltas] == list(range(len(final.token_ids)))
    assert [d.token_id for d in deltas] == list(final.token_ids)
    assert [d.logprob for d in deltas] == list(final.logprobs)
    assert "".join(d.text for d in deltas) == final.text == tiny.detokenize(final.token_ids)
    assert final.finish_reason in ("length", "stop") and final.ttft_s is not None and final.tokens_per_s > 0
    assert final.model == tiny.identity


async def test_deadline_drops_a_running_request_and_frees_its_row(tiny: TransformersBackend) -> None:
    now = [100.0]  # the engine's clock, moved by the test
    engine = Engine(tiny, EngineSettings(max_batch=1, max_new_tokens=400), clock=lambda: now[0])
    await engine.start()
    try:
        expired = await engine.generate(ask("late", max_new_tokens=5), deadline=99.0)
        assert expired.finish_reason == "deadline" and expired.token_ids == ()
        slow = engine.submit(ask("Count to a thousand.", max_new_tokens=400), deadline=110.0)
        waiting = asyncio.create_task(engine.generate(ask("next", max_new_tokens=5)))
        seen = 0
        async for event in slow:
            if isinstance(event, TokenEvent):
                seen += 1
                if seen == 3:
                    now[0] = 111.0  # the deadline passes while it decodes
            else:
                assert event.finish_reason == "deadline"
                assert 3 <= len(event.token_ids) < 400
        assert (await waiting).finish_reason == "length"
    finally:
        await engine.stop()
    assert engine.stats().requests_finished["deadline"] == 2


async def test_full_queue_raises_queue_full(tiny: TransformersBackend) -> None:
    engine = Engine(tiny, EngineSettings(max_batch=1, max_queue=2, max_new_tokens=400))
    await engine.start()
    try:
        running = engine.submit(ask("busy", max_new_tokens=400))
        await anext(running)  # admitted into the batch: no longer queued
        queued = [engine.submit(ask("wait", max_new_tokens=2)) for _ in range(2)]
        with pytest.raises(QueueFullError, match="queue is full"):
            engine.submit(ask("one too many", max_new_tokens=2))
        assert engine.stats().requests_rejected == 1
        running.cancel()
        for stream in queued:
            assert [e async for e in stream][-1].finish_reason == "length"
    finally:
        await engine.stop()


async def test_queue_serves_higher_stake_first_and_fifo_among_equals(tiny: TransformersBackend) -> None:
    engine = Engine(tiny, EngineSettings(max_batch=1, max_new_tokens=400))
    await engine.start()
    order: list[str] = []

    async def consume(name: str, stake: float) -> None:
        async for event in engine.submit(ask(name, max_new_tokens=2), priority=stake):
            if isinstance(event, Completion):
                order.append(name)

    try:
        blocker = engine.submit(ask("blocker", max_new_tokens=400))
        await anext(blocker)
        stakes = {"low": 1.0, "high-1": 5.0, "high-2": 5.0, "none": 0.0, "top": 9.0}
        tasks = []
        for name, stake in stakes.items():
            tasks.append(asyncio.create_task(consume(name, stake)))
            await asyncio.sleep(0)  # let the task submit before the next one
        while engine.stats().queue_depth < len(stakes):
            await asyncio.sleep(0.001)
        blocker.cancel()
        await asyncio.gather(*tasks)
    finally:
        await engine.stop()
    assert order == ["top", "high-1", "high-2", "low", "none"]


async def test_closing_the_stream_cancels_and_frees_the_row(tiny: TransformersBackend) -> None:
    engine = Engine(tiny, EngineSettings(max_batch=1, max_new_tokens=400))
    await engine.start()
    try:
        stream = engine.submit(ask("a long answer please", max_new_tokens=400))
        async for event in stream:
            if isinstance(event, TokenEvent) and event.index == 1:
                break
        await stream.aclose()
        while engine.stats().requests_finished.get("cancelled") != 1:
            await asyncio.sleep(0.001)
        assert engine.stats().batch_size == 0
        # A consumer task cancelled while it waits for tokens also cancels its request.
        consumer = asyncio.create_task(engine.generate(ask("another long one", max_new_tokens=400)))
        while engine.stats().batch_size == 0:
            await asyncio.sleep(0.001)
        consumer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await consumer
        done = await engine.generate(ask("short", max_new_tokens=3))
        assert done.finish_reason == "length"
    finally:
        await engine.stop()
    stats = engine.stats()
    assert stats.requests_finished == {"cancelled": 2, "length": 1}
    assert stats.generated_tokens < 400


async def test_invalid_requests_raise_before_queueing(engine: Engine) -> None:
    with pytest.raises(InvalidRequestError, match="empty"):
        engine.submit(GenerationRequest())
    with pytest.raises(InvalidRequestError, match="temperature"):
        engine.submit(ask("x", temperature=-1.0))
    with pytest.raises(InvalidRequestError, match="max_new_tokens"):
        engine.submit(ask("x", max_new_tokens=401))
    with pytest.raises(InvalidRequestError, match="prompt has"):
        engine.submit(GenerationRequest(prompt="word " * 2000))
    assert engine.stats().requests_submitted == 0


async def test_stop_finishes_in_flight_work_then_refuses(tiny: TransformersBackend) -> None:
    engine = Engine(tiny, EngineSettings(max_batch=2, max_new_tokens=400))
    await engine.start()
    short = asyncio.create_task(engine.generate(ask("short", max_new_tokens=5)))
    while engine.stats().batch_size < 1:
        await asyncio.sleep(0.001)
    await engine.stop(grace_s=600)  # returns as soon as the work in flight is done, not after the grace
    assert short.done() and short.result().finish_reason == "length"
    with pytest.raises(EngineStoppedError):
        engine.submit(ask("too late"))


async def test_stop_cancels_what_outlasts_the_grace_period(tiny: TransformersBackend) -> None:
    engine = Engine(tiny, EngineSettings(max_batch=2, max_new_tokens=400))
    await engine.start()
    endless = asyncio.create_task(engine.generate(ask("long", max_new_tokens=400)))
    other = asyncio.create_task(engine.generate(ask("another", max_new_tokens=400)))
    while engine.stats().batch_size < 2:
        await asyncio.sleep(0.001)
    await engine.stop(grace_s=0)
    assert (await endless).finish_reason == "cancelled"
    assert (await other).finish_reason == "cancelled"
    assert engine.stats().batch_size == 0


class FailingBackend(TransformersBackend):
    """A real backend whose decode step breaks on the ``fail_at``-th call (e.g. out of memory)."""

    def __init__(self, inner: TransformersBackend, fail_at: int) -> None:
        super().__init__(inner.loaded)
        self.calls, self.fail_at = 0, fail_at

    def decode(self, batch: HFKVBatch, token_ids: Sequence[int]):
        self.calls += 1
        if self.calls == self.fail_at:
            raise RuntimeError("simulated out of memory")
        return super().decode(batch, token_ids)


async def test_a_model_failure_fails_its_batch_not_the_engine(tiny: TransformersBackend) -> None:
    engine = Engine(FailingBackend(tiny, fail_at=3), EngineSettings(max_batch=4))
    await engine.start()
    try:
        with pytest.raises(GenerationFailedError, match="simulated out of memory"):
            await engine.generate(ask("doomed", max_new_tokens=10))
        assert (await engine.generate(ask("fine", max_new_tokens=10))).finish_reason == "length"
    finally:
        await engine.stop()
    assert engine.stats().requests_finished == {"error": 1, "length": 1}


class RecordingBackend(TransformersBackend):
    """A real backend that records when each prefill and decode call ran and the decode batch sizes."""

    def __init__(self, inner: TransformersBackend) -> None:
        super().__init__(inner.loaded)
        self.prefills: list[tuple[float, float]] = []
        self.decodes: list[tuple[float, float, int]] = []

    def prefill(self, prompts):
        start = time.perf_counter()
        result = super().prefill(prompts)
        self.prefills.append((start, time.perf_counter()))
        return result

    def decode(self, batch: HFKVBatch, token_ids: Sequence[int]):
        start = time.perf_counter()
        result = super().decode(batch, token_ids)
        self.decodes.append((start, time.perf_counter(), batch.size))
        return result


async def test_newcomers_prefill_while_the_batch_decodes_and_never_overfill_it(tiny: TransformersBackend) -> None:
    backend = RecordingBackend(tiny)
    engine = Engine(backend, EngineSettings(max_batch=3, max_new_tokens=400))
    await engine.start()
    try:
        long = asyncio.create_task(engine.generate(ask("a long answer please", max_new_tokens=300)))
        while engine.stats().decode_steps < 3:
            await asyncio.sleep(0.001)
        # Six newcomers for two free rows, arriving while the long one decodes.
        results = await asyncio.gather(*(engine.generate(ask(p, max_new_tokens=20)) for p in PROMPTS[:6]))
        assert all(r.finish_reason in ("length", "stop") for r in results)
        await long
    finally:
        await engine.stop()
    sizes = [size for _, _, size in backend.decodes]
    assert max(sizes) == 3, f"decode batch sizes {sorted(set(sizes))}: the batch must fill up to, never past, 3"
    # The first newcomers' prefill ran while a decode step of the long request was in progress.
    overlapped = [
        (a, b) for a, b in backend.prefills[1:] if any(s < b and a < e for s, e, _ in backend.decodes)
    ]
    assert overlapped, "no prefill overlapped a decode step: newcomers stalled the running batch"
