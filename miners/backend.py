"""The model backend interface the batching engine drives, and the request/result types of generation.

A backend owns the model and its KV cache; the engine owns scheduling, sampling and detokenization. The
interface is deliberately small: encode a prompt, prefill new sequences, run one decode step over a batch,
and two batch operations (``join``, ``keep``) that make continuous batching possible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from subnet.errors import SubnetError
from subnet.models import ChatMessage, ModelIdentity

if TYPE_CHECKING:
    import torch

FinishReason = Literal["stop", "length", "cancelled", "deadline"]


class GenerationError(SubnetError):
    """Base class of the engine's named errors."""


class InvalidRequestError(GenerationError, ValueError):
    """The request is malformed (bad sampling parameters, empty or over-long prompt); fix it and resend."""


class QueueFullError(GenerationError):
    """The miner's request queue is full; retry later (maps to gRPC RESOURCE_EXHAUSTED)."""


class EngineStoppedError(GenerationError):
    """The engine is not running (not started, or shutting down); the miner cannot take requests."""


class GenerationFailedError(GenerationError):
    """The model failed while generating this request (e.g. out of memory); the request was dropped."""


@dataclass(frozen=True)
class SamplingParams:
    """How to pick tokens. ``temperature`` 0 means greedy (argmax); ``top_p`` in (0, 1] is the nucleus mass;
    ``seed`` makes a sampled answer reproducible regardless of what else is in the batch."""

    max_new_tokens: int = 64
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None


@dataclass(frozen=True)
class GenerationRequest:
    """A prompt and its sampling parameters. The prompt is the chat ``messages`` rendered by the model's
    chat template, followed by the raw text ``prompt`` (either may be empty, not both)."""

    messages: tuple[ChatMessage, ...] = ()
    prompt: str = ""
    sampling: SamplingParams = field(default_factory=SamplingParams)
    request_id: str = ""


@dataclass(frozen=True)
class TokenEvent:
    """One generated token as it is streamed.

    ``logprob`` is log_softmax of the raw logits (temperature 1, before top-p) at the chosen token.
    ``text`` is the newly decodable text; it may be empty while a multi-byte character is incomplete, and
    the ``text`` of all events of a request concatenate to its ``Completion.text``.
    """

    index: int
    token_id: int
    logprob: float
    text: str


@dataclass(frozen=True)
class Completion:
    """The final result of a request: the last event of its stream.

    ``token_ids`` include the end-of-sequence token when ``finish_reason`` is ``stop`` (its log-prob is
    verifiable like any other); ``text`` excludes special tokens. ``ttft_s`` is from submission to the
    first token (``None`` if none was generated); ``tokens_per_s`` is completion tokens divided by the
    time from admission into the batch to the last token.
    """

    request_id: str
    model: ModelIdentity
    prompt_token_ids: tuple[int, ...]
    token_ids: tuple[int, ...]
    logprobs: tuple[float, ...]
    text: str
    finish_reason: FinishReason
    ttft_s: float | None
    tokens_per_s: float
    queue_wait_s: float


class KVBatch(Protocol):
    """A backend's opaque per-batch state (KV cache, masks, positions) for ``size`` sequences, in rows."""

    @property
    def size(self) -> int: ...

    def join(self, other: KVBatch) -> KVBatch:
        """Rows of ``self`` followed by rows of ``other``, as one batch (both inputs are consumed)."""
        ...

    def keep(self, rows: Sequence[int]) -> KVBatch:
        """Only the given rows, in that order (the input is consumed)."""
        ...


class Backend(Protocol):
    """A loaded model the engine can batch. All methods but ``encode`` run on the engine's worker threads:
    ``prefill`` of new rows and ``decode`` of the running batch may run at the same time, on different batches.

    Logits returned are float32 CPU tensors of shape ``[rows, vocab]`` for the next token of each row.
    """

    identity: ModelIdentity
    eos_token_ids: frozenset[int]
    max_positions: int

    def encode(self, messages: Sequence[ChatMessage], prompt: str) -> list[int]:
        """Token ids of the rendered prompt (see ``subnet.models.encode_prompt``)."""
        ...

    def detokenize(self, token_ids: Sequence[int]) -> str:
        """Text of ``token_ids`` without special tokens (may end in U+FFFD mid-character)."""
        ...

    def prefill(self, prompts: Sequence[Sequence[int]]) -> tuple[KVBatch, torch.Tensor]:
        """Run the prompts (any lengths) and return their batch state and next-token logits."""
        ...

    def decode(self, batch: KVBatch, token_ids: Sequence[int]) -> torch.Tensor:
        """Append one token per row (in row order) and return the next-token logits."""
        ...
