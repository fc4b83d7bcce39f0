"""The gRPC ``Miner`` service: validated requests in, streamed tokens out, signed by the interceptor.

The caller's stake (established by the auth interceptor) orders the queue; the call's deadline is passed to the
engine, which drops the request when it passes. Named errors map to gRPC status codes with a message.
"""

from __future__ import annotations

import logging
import time

import grpc
from prometheus_client import Counter, Histogram

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
from miners.generators import Generator
from subnet.auth.server_interceptor import current_caller
from subnet.models import ChatMessage
from subnet.proto import subnet_pb2 as pb
from subnet.proto import subnet_pb2_grpc as pb_grpc
from subnet.seed_binding import bind_seed

log = logging.getLogger(__name__)
VERSION = "subnet-miner/0.1"

REQUESTS = Counter("subnet_miner_requests_total", "requests by method and outcome", ["method", "outcome"])
TOKENS = Counter("subnet_miner_generated_tokens_total", "tokens generated")
LATENCY = Histogram("subnet_miner_request_seconds", "request latency", ["method"],
                    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 60))

_FINISH = {"stop": pb.FINISH_REASON_STOP, "length": pb.FINISH_REASON_LENGTH, "cancelled": pb.FINISH_REASON_CANCELLED,
           "deadline": pb.FINISH_REASON_CANCELLED}
_STATUS = [
    (InvalidRequestError, grpc.StatusCode.INVALID_ARGUMENT),
    (QueueFullError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (EngineStoppedError, grpc.StatusCode.UNAVAILABLE),
    (GenerationFailedError, grpc.StatusCode.INTERNAL),
]


def to_request(message: pb.GenerateRequest, max_new_tokens: int, temperature_floor: float = 0.0,
               hotkey_ss58: str | None = None) -> GenerationRequest:
    """The engine's request for a wire request; 0 means "the default" for max_new_tokens and top_p.

    max_new_tokens above our limit is clamped (as the proto documents), not refused: the answer ends at the limit
    (and a validator then pays it only for the share of the requested tokens it holds). With ``hotkey_ss58`` (the serving miner's), the
    request's seed is bound to that hotkey (``subnet.seed_binding``), as validators expect.
    """
    sampling = SamplingParams(
        max_new_tokens=min(message.max_new_tokens or max_new_tokens, max_new_tokens),
        # The floor never hides an invalid (negative) temperature from validation.
        temperature=float(message.temperature) if message.temperature < 0 else max(float(message.temperature),
                                                                                   temperature_floor),
        top_p=float(message.top_p) if message.top_p else 1.0,
        seed=bind_seed(message.seed, hotkey_ss58) if hotkey_ss58 is not None else message.seed,
    )
    messages = tuple(ChatMessage(m.role, m.content) for m in message.messages)
    if any(m.role not in ("system", "user", "assistant") for m in messages):
        raise InvalidRequestError("chat roles must be system, user or assistant")
    return GenerationRequest(messages=messages, prompt=message.prompt, sampling=sampling,
                             request_id=message.request_id)


class MinerService(pb_grpc.MinerServicer):
    def __init__(self, generator: Generator, hotkey_ss58: str, *, temperature_floor: float = 0.0) -> None:
        self.generator = generator
        self.hotkey_ss58 = hotkey_ss58
        self.temperature_floor = temperature_floor

    def _final(self, done: Completion, request_id: str) -> pb.GenerateResponse:
        identity = self.generator.identity
        return pb.GenerateResponse(
            text=done.text, token_ids=list(done.token_ids), logprobs=list(done.logprobs),
            prompt_tokens=len(done.prompt_token_ids), completion_tokens=len(done.token_ids),
            ttft_s=done.ttft_s or 0.0, tokens_per_s=done.tokens_per_s, finish_reason=_FINISH[done.finish_reason],
            model=_identity_message(identity),
            request_id=request_id,
        )

    async def _events(self, message: pb.GenerateRequest, context: grpc.aio.ServicerContext):
        request = to_request(message, self.generator.max_new_tokens, self.temperature_floor, self.hotkey_ss58)
        caller = current_caller()
        remaining = context.time_remaining()
        deadline = time.monotonic() + remaining if remaining is not None else None
        priority = float(caller.stake_units) if caller else 0.0
        async for event in self.generator.stream(request, priority=priority, deadline=deadline):
            yield event

    async def _abort_for(self, exc: Exception, method: str, context: grpc.aio.ServicerContext) -> None:
        for kind, code in _STATUS:
            if isinstance(exc, kind):
                REQUESTS.labels(method, code.name.lower()).inc()
                await context.abort(code, str(exc))
        raise exc

    async def Generate(self, request: pb.GenerateRequest, context) -> pb.GenerateResponse:
        started = time.monotonic()
        try:
            async for event in self._events(request, context):
                if isinstance(event, Completion):
                    TOKENS.inc(len(event.token_ids))
                    REQUESTS.labels("Generate", "ok").inc()
                    LATENCY.labels("Generate").observe(time.monotonic() - started)
                    return self._final(event, request.request_id)
        except (InvalidRequestError, QueueFullError, EngineStoppedError, GenerationFailedError) as exc:
            await self._abort_for(exc, "Generate", context)
        await context.abort(grpc.StatusCode.INTERNAL, "generation ended without a result")

    async def GenerateStream(self, request: pb.GenerateRequest, context):
        started = time.monotonic()
        try:
            async for event in self._events(request, context):
                if isinstance(event, TokenEvent):
                    yield pb.GenerateChunk(delta=pb.TokenDelta(text=event.text, token_ids=[event.token_id],
                                                               logprobs=[event.logprob]))
                else:
                    TOKENS.inc(len(event.token_ids))
                    REQUESTS.labels("GenerateStream", "ok").inc()
                    LATENCY.labels("GenerateStream").observe(time.monotonic() - started)
                    yield pb.GenerateChunk(final=self._final(event, request.request_id))
                    return
        except (InvalidRequestError, QueueFullError, EngineStoppedError, GenerationFailedError) as exc:
            await self._abort_for(exc, "GenerateStream", context)

    async def Info(self, request: pb.InfoRequest, context) -> pb.InfoResponse:
        g = self.generator
        return pb.InfoResponse(model=_identity_message(g.identity),
                               max_new_tokens=g.max_new_tokens, max_prompt_tokens=g.max_prompt_tokens,
                               max_batch=g.max_batch, version=VERSION, hotkey=self.hotkey_ss58)


def _identity_message(identity) -> pb.ModelIdentity:
    return pb.ModelIdentity(name=identity.name, weights_sha256=identity.weights_sha256, dtype=identity.dtype)
