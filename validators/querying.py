"""Send one challenge to one miner through the signed client and record what came back.

A failed call is an expected outcome, not an exception: it becomes a ``Response.failed`` with a short reason
(timeout, refused, unavailable, unsigned...). The response's signature is verified by the client before the
answer is used. Whatever a miner sends back, ``run_query`` returns an ``Outcome``: a correctly signed reply that
is not a valid ``GenerateResponse`` (corrupt wire format, invalid UTF-8 in a string field) fails as
"undecodable reply", for that miner only. The reasons are short fixed phrases (they are counted per step);
the details go to the debug log.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass, field

import grpc
from google.protobuf.message import DecodeError

from subnet.client import MinerClient
from subnet.errors import ResponseVerificationError
from subnet.keys import Keypair
from subnet.proto import subnet_pb2 as pb
from validators.challenges import Challenge
from validators.rewards import Response

log = logging.getLogger(__name__)
UNDECODABLE = "undecodable reply"

@dataclass(frozen=True)
class Query:
    uid: int
    hotkey: str
    endpoint: str
    challenge: Challenge
    seed: int
    probe_of: int | None = None  # a copy-detection probe: the uid whose exact request this repeats
    # Sent to the miner; opaque and unique per query, so a probe cannot be told from a scored request by its id
    # (an id made of the challenge and the target's uid would repeat the target's own request's id).
    request_id: str = ""


@dataclass(frozen=True)
class Outcome:
    query: Query
    response: Response
    token_ids: tuple[int, ...] = ()
    logprobs: tuple[float, ...] = ()
    model_hash: str = ""
    model_dtype: str = ""  # the precision the miner says it computes in


@dataclass
class MinerClients:
    """One signed client per (endpoint, hotkey), reused across steps; channels reconnect by themselves."""

    keypair: Keypair
    timeout_s: float
    _clients: dict[tuple[str, str], MinerClient] = field(default_factory=dict)

    def get(self, endpoint: str, hotkey: str) -> MinerClient:
        key = (endpoint, hotkey)
        if key not in self._clients:
            self._clients[key] = MinerClient.connect(endpoint, keypair=self.keypair, receiver_ss58=hotkey,
                                                     default_timeout_s=self.timeout_s)
        return self._clients[key]

    async def keep_only(self, live: set[tuple[str, str]]) -> None:
        for key in [k for k in self._clients if k not in live]:
            await self._clients.pop(key).close()

    async def close(self) -> None:
        await self.keep_only(set())


def request_of(query: Query) -> pb.GenerateRequest:
    ch = query.challenge
    return pb.GenerateRequest(messages=[pb.ChatMessage(role=m["role"], content=m["content"]) for m in ch.messages],
                              max_new_tokens=ch.max_new_tokens, temperature=ch.temperature, top_p=1.0,
                              seed=query.seed, request_id=query.request_id or secrets.token_hex(8))


async def run_query(clients: MinerClients, query: Query, semaphore: asyncio.Semaphore, timeout_s: float) -> Outcome:
    async with semaphore:
        started = time.monotonic()
        try:
            client = clients.get(query.endpoint, query.hotkey)
            reply = await client.generate(request_of(query), timeout_s=timeout_s)
        except grpc.aio.AioRpcError as exc:
            reason = "timeout" if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED else exc.code().name.lower()
            return _failed(query, reason, f"{exc.code().name}: {exc.details()}")
        except ResponseVerificationError as exc:
            return _failed(query, "bad response signature", exc)
        except (DecodeError, UnicodeDecodeError) as exc:
            # Signed (the signature is checked before parsing), but not a GenerateResponse.
            return _failed(query, UNDECODABLE, exc)
        except grpc.RpcError as exc:  # other gRPC failures than a status from the call (e.g. a usage error)
            return _failed(query, "rpc error", exc)
        except (OSError, ValueError) as exc:
            return _failed(query, "client error", exc)
        latency_s = time.monotonic() - started
    return Outcome(query, Response(text=reply.text, latency_s=latency_s, n_tokens=len(reply.token_ids)),
                   tuple(reply.token_ids), tuple(reply.logprobs), reply.model.weights_sha256, reply.model.dtype)


def _failed(query: Query, reason: str, detail: object) -> Outcome:
    if isinstance(detail, BaseException):
        detail = f"{type(detail).__name__}: {detail}"
    log.debug("query to uid %d (%s) failed: %s (%s)", query.uid, query.endpoint, reason, detail)
    return Outcome(query, Response.failed(reason))
