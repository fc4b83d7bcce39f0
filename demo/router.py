"""Route a chat to the top-ranked serving miner and fall over to the next one on error or timeout.

The metagraph snapshot is refreshed by ``NetworkWatcher``; the router only reads it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import grpc

from subnet.client import MinerClient
from subnet.errors import ResponseVerificationError
from subnet.keys import Keypair
from subnet.metagraph import Axon, Metagraph
from subnet.proto import subnet_pb2 as pb


@dataclass(frozen=True)
class Answer:
    """What the chat shows while and after a miner answers."""

    text: str
    uid: int
    hotkey: str
    done: bool
    ttft_s: float = 0.0
    tokens_per_s: float = 0.0
    failed_over: tuple[int, ...] = ()  # uids tried before this one


class NoMinerAvailable(RuntimeError):
    """No serving miner answered."""


def ranked_axons(graph: Metagraph | None) -> list[Axon]:
    """Serving miners, highest incentive first (ties: lower uid first)."""
    if graph is None:
        return []
    serving = graph.serving()
    return sorted(serving, key=lambda a: (-float(graph.I[a.uid]), a.uid))


async def stream_answer(candidates: Sequence[Axon], gateway: Keypair, messages: list[dict[str, str]], *,
                        max_new_tokens: int, first_token_timeout_s: float, total_timeout_s: float,
                        max_attempts: int = 3) -> AsyncIterator[Answer]:
    """Stream the answer of the first candidate that produces one; fall over to the next on any failure
    before its answer completes. Raises NoMinerAvailable when every attempt failed."""
    request = pb.GenerateRequest(messages=[pb.ChatMessage(role=m["role"], content=m["content"]) for m in messages],
                                 max_new_tokens=max_new_tokens, temperature=0.7, top_p=0.95,
                                 seed=time.time_ns() & 0xFFFFFFFF)
    tried: list[int] = []
    errors: list[str] = []
    for axon in list(candidates)[:max_attempts]:
        text = ""
        try:
            async with MinerClient.connect(axon.endpoint, keypair=gateway, receiver_ss58=axon.hotkey) as miner:
                stream = miner.generate_stream(request, timeout_s=total_timeout_s)
                started = time.monotonic()
                async for chunk in stream:
                    if chunk.HasField("delta"):
                        text += chunk.delta.text
                        yield Answer(text, axon.uid, axon.hotkey, False, failed_over=tuple(tried))
                    elif chunk.HasField("final"):
                        final = chunk.final
                        yield Answer(final.text, axon.uid, axon.hotkey, True, final.ttft_s, final.tokens_per_s,
                                     tuple(tried))
                        return
                    if not text and time.monotonic() - started > first_token_timeout_s:
                        stream.cancel()
                        raise TimeoutError("no first token in time")
            errors.append(f"uid {axon.uid}: the stream ended without a final answer")
        except (grpc.aio.AioRpcError, ResponseVerificationError, TimeoutError, OSError) as exc:
            detail = exc.details() if isinstance(exc, grpc.aio.AioRpcError) else str(exc)
            errors.append(f"uid {axon.uid}: {detail}")
        tried.append(axon.uid)
    raise NoMinerAvailable("no miner answered: " + ("; ".join(errors) or "no miner is serving yet"))
