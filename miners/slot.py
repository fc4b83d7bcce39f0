"""One request's life inside the engine (``Slot``, worker side) and its consumer handle (``RequestStream``).

The worker thread fills a slot token by token and posts events to the consumer's event loop with
``call_soon_threadsafe``; the consumer reads them from an ``asyncio.Queue``. Cancellation flows the other
way as a flag the worker checks before every step.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from miners.backend import Completion, FinishReason, GenerationRequest, TokenEvent
from miners.decoding import IncrementalText
from subnet.sampling import random_seed

if TYPE_CHECKING:
    from miners.backend import Backend


class Slot:
    """Mutable state of one request. Written by the worker thread only, except ``cancelled``."""

    def __init__(
        self,
        request: GenerationRequest,
        prompt_ids: list[int],
        backend: Backend,
        loop: asyncio.AbstractEventLoop,
        *,
        deadline: float | None,
        submitted_at: float,
    ) -> None:
        self.request = request
        self.prompt_ids = prompt_ids
        self.identity = backend.identity
        self._eos = backend.eos_token_ids
        self.loop = loop
        self.queue: asyncio.Queue[TokenEvent | Completion | BaseException] = asyncio.Queue()
        self.deadline = deadline
        self.submitted_at = submitted_at
        self.admitted_at: float | None = None
        self.first_token_at: float | None = None
        self.last_token_at: float | None = None
        # The sampler's noise is keyed by (seed, position): a request without a seed gets a fresh random one.
        self.seed = request.sampling.seed if request.sampling.seed is not None else random_seed()
        self._text = IncrementalText(backend.detokenize)
        self._deltas: list[str] = []
        self.token_ids: list[int] = []
        self.logprobs: list[float] = []
        self.cancelled = False  # set by the consumer's side; a plain bool write is atomic
        self.done = False

    def natural_finish(self) -> FinishReason | None:
        """``stop`` after an end-of-sequence token, ``length`` at max_new_tokens, else None."""
        if self.token_ids and self.token_ids[-1] in self._eos:
            return "stop"
        if len(self.token_ids) >= self.request.sampling.max_new_tokens:
            return "length"
        return None

    def add_token(self, token_id: int, logprob: float, now: float) -> None:
        """Record a generated token and stream it with the text it completes."""
        self.token_ids.append(token_id)
        self.logprobs.append(logprob)
        if self.first_token_at is None:
            self.first_token_at = now
        self.last_token_at = now
        delta = self._text.push(token_id, last=self.natural_finish() is not None)
        self._deltas.append(delta)
        self._post(TokenEvent(index=len(self.token_ids) - 1, token_id=token_id, logprob=logprob, text=delta))

    def finish(self, reason: FinishReason, now: float, error: BaseException | None = None) -> None:
        """Post the final ``Completion`` (or ``error``) exactly once."""
        if self.done:
            return
        self.done = True
        if error is not None:
            self._post(error)
            return
        n = len(self.token_ids)
        generating_s = (self.last_token_at or now) - (self.admitted_at or now)
        self._post(
            Completion(
                request_id=self.request.request_id,
                model=self.identity,
                prompt_token_ids=tuple(self.prompt_ids),
                token_ids=tuple(self.token_ids),
                logprobs=tuple(self.logprobs),
                text="".join(self._deltas),
                finish_reason=reason,
                ttft_s=None if self.first_token_at is None else self.first_token_at - self.submitted_at,
                tokens_per_s=n / generating_s if n and generating_s > 0 else 0.0,
                queue_wait_s=(self.admitted_at or now) - self.submitted_at,
            )
        )

    def _post(self, item: TokenEvent | Completion | BaseException) -> None:
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:  # the consumer's event loop is closed: nobody is listening any more
            self.cancelled = True


class RequestStream:
    """Async iterator over one request's events: ``TokenEvent``s, then one ``Completion``.

    Closing it early (``aclose``, leaving ``async with``, cancelling the consuming task, or dropping it)
    cancels the request, which frees its queue place or batch row. A model failure is raised from
    iteration as ``GenerationFailedError``.
    """

    def __init__(self, slot: Slot, withdraw: Callable[[Slot], None]) -> None:
        self._slot = slot
        self._withdraw = withdraw
        self._closed = False

    @property
    def prompt_tokens(self) -> int:
        return len(self._slot.prompt_ids)

    def __aiter__(self) -> RequestStream:
        return self

    async def __anext__(self) -> TokenEvent | Completion:
        if self._closed:
            raise StopAsyncIteration
        try:
            item = await self._slot.queue.get()
        except asyncio.CancelledError:
            self.cancel()
            raise
        if isinstance(item, BaseException):
            self._closed = True
            raise item
        if isinstance(item, Completion):
            self._closed = True
        return item

    def cancel(self) -> None:
        """Stop generating for this request (no-op once it has finished)."""
        self._closed = True
        if not self._slot.done:
            self._slot.cancelled = True
            self._withdraw(self._slot)

    async def aclose(self) -> None:
        self.cancel()

    async def __aenter__(self) -> RequestStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.cancel()

    def __del__(self) -> None:
        # Only the flag: a finalizer may run on any thread, at any time, so it must not take locks.
        if not self._slot.done:
            self._slot.cancelled = True
