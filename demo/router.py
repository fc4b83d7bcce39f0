"""Route a chat to the top-ranked serving miner and fall over to the next one on error or timeout.

The metagraph snapshot is refreshed by ``NetworkWatcher``; the router only reads it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import grpc
from google.protobuf.message import DecodeError

from subnet import Axon, Keypair, Metagraph, MinerClient, ResponseVerificationError
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
                        max_new_tokens: int, first_token_timeout_s: float, idle_timeout_s: float,
                        total_timeout_s: float, max_attempts: int = 3) -> AsyncIterator[Answer]:
    """Stream the answer of the first candidate that produces one; fall over to the next on any failure
    before its answer completes. Raises NoMinerAvailable when every attempt failed.

    A candidate fails when its first chunk takes longer than ``first_token_timeout_s``, a later chunk longer than
    ``idle_timeout_s``, the whole call longer than ``total_timeout_s`` (the gRPC deadline), the stream ends
    without a final answer, a message of the stream does not decode (signed or not, bytes that are not a
    ``GenerateChunk``), or the response signature does not verify. The final ``Answer`` (``done=True``) is
    yielded only after the stream has ended and its signature checked out."""
    request = pb.GenerateRequest(messages=[pb.ChatMessage(role=m["role"], content=m["content"]) for m in messages],
                                 max_new_tokens=max_new_tokens, temperature=0.7, top_p=0.95,
                                 seed=time.time_ns() & 0xFFFFFFFF)
    tried: list[int] = []
    errors: list[str] = []
    for axon in list(candidates)[:max_attempts]:
        text = ""
        final: pb.GenerateResponse | None = None
        try:
            async with MinerClient.connect(axon.endpoint, keypair=gateway, receiver_ss58=axon.hotkey) as miner:
                stream = miner.generate_stream(request, timeout_s=total_timeout_s)
                chunks = aiter(stream)
                received = 0
                while True:
                    wait_s = idle_timeout_s if received else first_token_timeout_s
                    try:
                        # Time out on each chunk, not after it arrives: a silent miner must not hold the chat
                        # until the gRPC deadline.
                        chunk = await asyncio.wait_for(anext(chunks), wait_s)
                    except StopAsyncIteration:
                        break  # the stream ended and its signature verified
                    except TimeoutError:
                        stream.cancel()
                        what = "a next token" if received else "a first token"
                        raise TimeoutError(f"no {what} within {wait_s:g} s") from None
                    received += 1
                    if chunk.HasField("delta") and final is None:
                        text += chunk.delta.text
                        yield Answer(text, axon.uid, axon.hotkey, False, failed_over=tuple(tried))
                    elif chunk.HasField("final"):
                        final = chunk.final
            if final is not None:
                yield Answer(final.text, axon.uid, axon.hotkey, True, final.ttft_s, final.tokens_per_s, tuple(tried))
                return
            errors.append(f"uid {axon.uid}: the stream ended without a final answer")
        except (grpc.RpcError, ResponseVerificationError, TimeoutError, OSError) as exc:
            detail = exc.details() if isinstance(exc, grpc.aio.AioRpcError) else str(exc)
            errors.append(f"uid {axon.uid}: {detail}")
        except (DecodeError, ValueError) as exc:  # a chunk that is not a GenerateChunk (ValueError: UTF-8 etc.)
            errors.append(f"uid {axon.uid}: undecodable stream ({exc})")
        tried.append(axon.uid)
    raise NoMinerAvailable("no miner answered: " + ("; ".join(errors) or "no miner is serving yet"))
