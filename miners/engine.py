"""The batching engine: a stake-ordered queue in front of one model worker thread doing continuous batching.

Two worker threads share the model (torch releases the GIL while it computes). The prefill thread takes
queued requests while the batch has free rows, runs their prompts and emits their first tokens; the decode
thread merges prefilled rows into the running batch between steps and decodes every row one token per step.
So a newcomer's prefill overlaps the running batch's decode steps instead of stalling them (on CPU it runs on
the core the decode thread leaves free). A sequence that finishes (end of sequence, length, deadline,
cancelled consumer) leaves the batch at once, freeing its row. The asyncio event loop stays responsive;
results travel back through ``loop.call_soon_threadsafe``.

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
        self._threads: list[threading.Thread] = []
        # Rows are in exactly one place: the heap (queued), being prefilled, ready (prefilled, waiting to join
        # the batch) or the decode batch. Admission counts all but the heap against max_batch.
        self._prefilling = 0
        self._ready: list[tuple[KVBatch, list[Slot]]] = []
        self._counters = {"submitted": 0, "rejected": 0, "prompt_tokens": 0, "generated": 0, "steps": 0}
        self._finished: dict[str, int] = {}
        self._batch_size = 0

    async def start(self) -> None:
        """Start the worker thread; ``submit`` works from now until ``stop``."""
        if self._threads:
            raise RuntimeError("the engine was already started; create a new Engine to restart")
        self._accepting = True
        self._threads = [
            threading.Thread(target=self._run_prefill, name="model-prefill", daemon=True),
            threading.Thread(target=self._run_decode, name="model-decode", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

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
            self._cond.notify_all()
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
        the rest with finish_reason ``cancelled`` and join the worker threads."""
        self._accepting = False
        if not self._threads:
            return
        with self._cond:
            busy = self._busy()
        if busy:
            await asyncio.to_thread(self._idle.wait, grace_s)
        with self._cond:
            self._abort = True
            self._cond.notify_all()
        for thread in self._threads:
            await asyncio.to_thread(thread.join)

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

    def _busy(self) -> bool:
        return bool(self._heap or self._ready) or self._prefilling > 0 or self._batch_size > 0

    def _free_rows(self) -> int:
        ready = sum(len(slots) for _, slots in self._ready)
        return self.settings.max_batch - self._batch_size - self._prefilling - ready

    def _wait(self) -> None:
        """Wait for a change (call with the lock held), first telling ``stop`` when nothing is left to do."""
        if not self._busy():
            self._idle.set()
        self._cond.wait()

    def _withdraw(self, slot: Slot) -> None:
        """Remove a cancelled slot from the queue at once (a running one leaves at the next step)."""
        with self._cond:
            for i, entry in enumerate(self._heap):
                if entry[2] is slot:
                    self._heap[i] = self._heap[-1]
                    self._heap.pop()
                    heapq.heapify(self._heap)
                    self._finish(slot, "cancelled")
                    if not self._busy():
                        self._idle.set()
                    break

    def _finish(self, slot: Slot, reason: str, error: BaseException | None = None) -> None:
        with self._cond:
            key = "error" if error is not None else reason
            self._finished[key] = self._finished.get(key, 0) + 1
        slot.finish(reason, self._clock(), error)

    def _fail(self, slots: list[Slot], err: Exception) -> None:
        """A model failure ends these requests, not the engine."""
        failure = GenerationFailedError(f"the model failed: {type(err).__name__}: {err}")
        for slot in slots:
            if not slot.done:
                self._finish(slot, "cancelled", failure)

    def _run_prefill(self) -> None:
        while True:
            with self._cond:
                while not self._abort and not (self._heap and self._free_rows() > 0):
                    self._wait()
                if self._abort:
                    return  # the decode thread ends what is still queued
                admitted = []
                for _ in range(min(self._free_rows(), len(self._heap))):
                    admitted.append(heapq.heappop(self._heap)[2])
                self._prefilling = len(admitted)
            try:
                prefilled = self._prefill(admitted)
            except Exception as err:
                self._fail(admitted, err)
                prefilled = None
            with self._cond:
                self._prefilling = 0
                if prefilled is not None:
                    if self._abort:
                        for slot in prefilled[1]:
                            self._finish(slot, "cancelled")
                    else:
                        self._ready.append(prefilled)
                self._cond.notify_all()

    def _prefill(self, admitted: list[Slot]) -> tuple[KVBatch, list[Slot]] | None:
        """Run the prompts of the live newcomers and emit their first tokens; None if none is left."""
        now = self._clock()
        live = [slot for slot in admitted if not self._retire_if_dead(slot, now)]
        if not live:
            return None
        for slot in live:
            slot.admitted_at = now
        batch, logits = self.backend.prefill([slot.prompt_ids for slot in live])
        self._emit(live, logits)
        # A one-token answer is complete already: finish it here rather than after the decode thread's step.
        now = self._clock()
        keep = [i for i, slot in enumerate(live) if not self._retire_if_dead(slot, now)]
        if not keep:
            return None
        return (batch, live) if len(keep) == len(live) else (batch.keep(keep), [live[i] for i in keep])

    def _run_decode(self) -> None:
        batch: KVBatch | None = None
        rows: list[Slot] = []
        while True:
            with self._cond:
                while not self._ready and not rows and not self._abort:
                    self._wait()
                if self._abort:
                    pending = [slot for _, slots in self._ready for slot in slots]
                    pending += [entry[2] for entry in self._heap] + rows
                    self._ready.clear()
                    self._heap.clear()
                    break
                ready, self._ready = self._ready, []
                # Counted as batch rows from now on, so the prefill thread never admits past max_batch.
                self._batch_size += sum(len(slots) for _, slots in ready)
            try:
                batch, rows = self._step(batch, rows, ready)
            except Exception as err:
                self._fail(rows + [slot for _, slots in ready for slot in slots], err)
                batch, rows = None, []
                self._set_batch_size(0)
        for slot in pending:
            self._finish(slot, "cancelled")
        self._set_batch_size(0)
        self._idle.set()

    def _set_batch_size(self, size: int) -> None:
        with self._cond:
            self._batch_size = size
            self._cond.notify_all()  # freed rows let the prefill thread admit more

    def _step(
        self, batch: KVBatch | None, rows: list[Slot], ready: list[tuple[KVBatch, list[Slot]]]
    ) -> tuple[KVBatch | None, list[Slot]]:
        """Merge prefilled newcomers into the batch, then one decode step for every live row."""
        for new_batch, slots in ready:
            batch = new_batch if batch is None else batch.join(new_batch)
            rows = rows + slots
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
        chosen = choose_tokens(logits, [s.request.sampling for s in slots], [s.seed for s in slots],
                               [len(s.token_ids) for s in slots])
        now = self._clock()
        for slot, (token_id, logprob) in zip(slots, chosen, strict=True):
            slot.add_token(token_id, logprob, now)
        with self._cond:
            self._counters["generated"] += len(slots)

    def _end_reason(self, slot: Slot, now: float) -> str | None:
        """Why ``slot`` must leave now (complete, cancelled or past its deadline), or None to keep it."""
        reason = slot.natural_finish() or ("cancelled" if slot.cancelled else None)
        if reason is None and slot.deadline is not None and now > slot.deadline:
            reason = "deadline"
        return reason

    def _retire_if_dead(self, slot: Slot, now: float) -> bool:
        """Finish ``slot`` if it must leave now; True if it is done."""
        if slot.done:
            return True
        reason = self._end_reason(slot, now)
        if reason is not None:
            self._finish(slot, reason)
        return reason is not None

    def _retire(self, batch: KVBatch | None, rows: list[Slot]) -> tuple[KVBatch | None, list[Slot]]:
        now = self._clock()
        reasons = [None if slot.done else self._end_reason(slot, now) for slot in rows]
        keep = [i for i, (slot, reason) in enumerate(zip(rows, reasons, strict=True)) if not slot.done and not reason]
        if len(keep) == len(rows):
            return batch, rows
        # The gauge drops before the results go out, so whoever sees a result also sees its row freed.
        self._set_batch_size(len(keep))
        for slot, reason in zip(rows, reasons, strict=True):
            if reason is not None:
                self._finish(slot, reason)
        if not keep:
            return None, []
        assert batch is not None
        return batch.keep(keep), [rows[i] for i in keep]
