"""The batching engine: a stake-ordered queue in front of one model worker thread doing continuous batching.

Requests that arrive while a batch is decoding are prefilled and merged into it before the next decode step;
a sequence that finishes (end of sequence, length, deadline, cancelled consumer) leaves the batch at once,
freeing its row. The model runs on one worker thread (torch releases the GIL), so the asyncio event loop
stays responsive; results travel back through ``loop.call_soon_threadsafe``.

    engine = Engine(backend, EngineSettings(max_batch=8))
    await engine.start()
    async for event in engine.submit(request, priority=stake, deadline=time.monotonic() + 10):
        ...  # TokenEvent ... then one Completion
    await engine.stop(grace_s=5)
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from miners.backend import (
    Backend,
    Completion,
    EngineStoppedError,
    GenerationFailedError,
    GenerationRequest,
    InvalidRequestError,
    KVBatch,
    QueueFullError,
)
from miners.decoding import choose_tokens, validate_request
from miners.slot import RequestStream, Slot

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class EngineSettings:
    """Limits of one engine; every field has a default."""

    max_batch: int = 8  # sequences decoded together
    max_queue: int = 64  # requests waiting for a row; one more raises QueueFullError
    max_prompt_tokens: int = 1024
    max_new_tokens: int = 512


@dataclass(frozen=True)
class EngineStats:
    """A snapshot of the engine's counters and gauges (for Prometheus)."""

    requests_submitted: int = 0
    requests_rejected: int = 0  # refused with QueueFullError
    requests_finished: dict[str, int] = field(default_factory=dict)  # by finish reason, plus "error"
    prompt_tokens: int = 0
    generated_tokens: int = 0
    decode_steps: int = 0
    queue_depth: int = 0
    batch_size: int = 0


class Engine:
    """Continuous batching over a ``Backend`` (see the module docstring). Thread-safe ``submit``."""

    def __init__(
        self,
        backend: Backend,
        settings: EngineSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backend = backend
        self.settings = settings or EngineSettings()
        self._clock = clock
        self._cond = threading.Condition(threading.RLock())
        self._heap: list[tuple[float, int, Slot]] = []  # (-priority, arrival number, slot)
        self._arrivals = itertools.count()
        self._accepting = False
        self._abort = False
        self._idle = threading.Event()
        self._thread: threading.Thread | None = None
        self._counters = {"submitted": 0, "rejected": 0, "prompt_tokens": 0, "generated": 0, "steps": 0}
        self._finished: dict[str, int] = {}
        self._batch_size = 0

    async def start(self) -> None:
        """Start the worker thread; ``submit`` works from now until ``stop``."""
        if self._thread is not None:
            raise RuntimeError("the engine was already started; create a new Engine to restart")
        self._accepting = True
        self._thread = threading.Thread(target=self._run, name="model-worker", daemon=True)
        self._thread.start()

    def submit(
        self, request: GenerationRequest, *, priority: float = 0.0, deadline: float | None = None
    ) -> RequestStream:
        """Queue ``request`` and return its event stream (``TokenEvent``s, then one ``Completion``).

        Higher ``priority`` (the caller's stake) is served first, FIFO among equals. ``deadline`` is a time on
        the engine's clock (``time.monotonic`` by default) after which the request is dropped with
        finish_reason ``deadline``. Raises ``InvalidRequestError``, ``QueueFullError`` or
        ``EngineStoppedError`` here, before anything is queued.
        """
        loop = asyncio.get_running_loop()
        if not self._accepting:
            raise EngineStoppedError("the engine is not running (not started or shutting down); try another miner")
        if not request.messages and not request.prompt:
            raise InvalidRequestError("the prompt is empty: send at least one chat message or a non-empty prompt")
        prompt_ids = self.backend.encode(request.messages, request.prompt)
        s = self.settings
        validate_request(
            request.sampling,
            prompt_ids,
            max_prompt_tokens=s.max_prompt_tokens,
            max_new_tokens=s.max_new_tokens,
            max_positions=self.backend.max_positions,
        )
        slot = Slot(request, prompt_ids, self.backend, loop, deadline=deadline, submitted_at=self._clock())
        with self._cond:
            if len(self._heap) >= s.max_queue:
                self._counters["rejected"] += 1
                raise QueueFullError(
                    f"the miner's queue is full ({s.max_queue} requests waiting); retry after a short backoff"
                )
            self._counters["submitted"] += 1
            self._counters["prompt_tokens"] += len(prompt_ids)
            heapq.heappush(self._heap, (-priority, next(self._arrivals), slot))
            self._idle.clear()
            self._cond.notify()
        return RequestStream(slot, self._withdraw)

    async def generate(
        self, request: GenerationRequest, *, priority: float = 0.0, deadline: float | None = None
    ) -> Completion:
        """Submit and wait for the ``Completion`` (the streamed events are dropped)."""
        async with self.submit(request, priority=priority, deadline=deadline) as stream:
            async for event in stream:
                if isinstance(event, Completion):
                    return event
        raise GenerationFailedError("the stream ended without a result")  # unreachable by construction

    async def stop(self, grace_s: float = 5.0) -> None:
        """Refuse new requests, let queued and running ones finish for up to ``grace_s`` seconds, then end
        the rest with finish_reason ``cancelled`` and join the worker thread."""
        self._accepting = False
        if self._thread is None:
            return
        with self._cond:
            busy = bool(self._heap) or self._batch_size > 0
        if busy:
            await asyncio.to_thread(self._idle.wait, grace_s)
        with self._cond:
            self._abort = True
            self._cond.notify()
        await asyncio.to_thread(self._thread.join)

    def stats(self) -> EngineStats:
        """Current counters (monotonic since start) and gauges."""
        with self._cond:
            c = self._counters
            return EngineStats(
                requests_submitted=c["submitted"],
                requests_rejected=c["rejected"],
                requests_finished=dict(self._finished),
                prompt_tokens=c["prompt_tokens"],
                generated_tokens=c["generated"],
                decode_steps=c["steps"],
                queue_depth=len(self._heap),
                batch_size=self._batch_size,
            )

    # ---- worker thread ----------------------------------------------------------------------------------

    def _withdraw(self, slot: Slot) -> None:
        """Remove a cancelled slot from the queue at once (a running one leaves at the next step)."""
        with self._cond:
            for i, entry in enumerate(self._heap):
                if entry[2] is slot:
                    self._heap[i] = self._heap[-1]
                    self._heap.pop()
                    heapq.heapify(self._heap)
                    self._finish(slot, "cancelled")
                    break

    def _finish(self, slot: Slot, reason: str, error: BaseException | None = None) -> None:
        with self._cond:
            key = "error" if error is not None else reason
            self._finished[key] = self._finished.get(key, 0) + 1
        slot.finish(reason, self._clock(), error)

    def _run(self) -> None:
        batch: KVBatch | None = None
        rows: list[Slot] = []
        while True:
            with self._cond:
                while not self._heap and not rows and not self._abort:
                    self._idle.set()
                    self._cond.wait()
                if self._abort:
                    pending = [entry[2] for entry in self._heap] + rows
                    self._heap.clear()
                    break
                admitted = []
                while self._heap and len(rows) + len(admitted) < self.settings.max_batch:
                    admitted.append(heapq.heappop(self._heap)[2])
            try:
                batch, rows = self._step(batch, rows, admitted)
            except Exception as err:  # a model failure ends these requests, not the worker
                failure = GenerationFailedError(f"the model failed: {type(err).__name__}: {err}")
                for slot in rows + admitted:
                    if not slot.done:
                        self._finish(slot, "cancelled", failure)
                batch, rows = None, []
                with self._cond:
                    self._batch_size = 0
        for slot in pending:
            self._finish(slot, "cancelled")
        with self._cond:
            self._batch_size = 0
        self._idle.set()

    def _step(self, batch: KVBatch | None, rows: list[Slot], admitted: list[Slot]) -> tuple[KVBatch | None, list[Slot]]:
        """Admit newcomers (prefill, first token, merge), then one decode step for every live row."""
        now = self._clock()
        admitted = [slot for slot in admitted if not self._retire_if_dead(slot, now)]
        if admitted:
            for slot in admitted:
                slot.admitted_at = now
            new_batch, logits = self.backend.prefill([slot.prompt_ids for slot in admitted])
            self._emit(admitted, logits)
            batch = new_batch if batch is None else batch.join(new_batch)
            rows = rows + admitted
            with self._cond:
                self._batch_size = len(rows)
        batch, rows = self._retire(batch, rows)
        if rows:
            assert batch is not None
            logits = self.backend.decode(batch, [slot.token_ids[-1] for slot in rows])
            with self._cond:
                self._counters["steps"] += 1
            self._emit(rows, logits)
            batch, rows = self._retire(batch, rows)
        return batch, rows

    def _emit(self, slots: list[Slot], logits: torch.Tensor) -> None:
        chosen = choose_tokens(logits, [s.request.sampling for s in slots], [s.generator for s in slots])
        now = self._clock()
        for slot, (token_id, logprob) in zip(slots, chosen, strict=True):
            slot.add_token(token_id, logprob, now)
        with self._cond:
            self._counters["generated"] += len(slots)

    def _retire_if_dead(self, slot: Slot, now: float) -> bool:
        """Finish ``slot`` if it is complete, cancelled or past its deadline; True if it is now done."""
        if slot.done:
            return True
        reason = slot.natural_finish() or ("cancelled" if slot.cancelled else None)
        if reason is None and slot.deadline is not None and now > slot.deadline:
            reason = "deadline"
        if reason is None:
            return False
        self._finish(slot, reason)
        return True

    def _retire(self, batch: KVBatch | None, rows: list[Slot]) -> tuple[KVBatch | None, list[Slot]]:
        now = self._clock()
        keep = [i for i, slot in enumerate(rows) if not self._retire_if_dead(slot, now)]
        if len(keep) == len(rows):
            return batch, rows
        with self._cond:
            self._batch_size = len(keep)
        if not keep:
            return None, []
        assert batch is not None
        return batch.keep(keep), [rows[i] for i in keep]
