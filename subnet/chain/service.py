"""The ``Chain`` gRPC service over a ``ChainNode``, and the block clock that drives it (APScheduler)."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import grpc
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from subnet import ss58
from subnet.chain import queries
from subnet.chain.codec import decode_transaction
from subnet.chain.node import ChainNode, NodeStopping
from subnet.chain.runtime import TxRejected
from subnet.proto import subnet_pb2 as pb
from subnet.proto import subnet_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)

MAX_HEADERS_PER_CALL = 1000
# Block subscriptions hold a task and a wait on the block condition each: bound them, so a hostile client cannot
# exhaust the node's memory or tasks. Per connection (``context.peer()``: address and port) and in total.
MAX_SUBSCRIBERS = 256
MAX_SUBSCRIBERS_PER_CONNECTION = 8
# A subscription may start this far above the head and wait; further ahead is refused (INVALID_ARGUMENT): a
# height nobody will see for weeks is a mistake (or a slot held on purpose), not a plan.
MAX_SUBSCRIBE_AHEAD_BLOCKS = 100_000
# Refusals at admission (never queued, never stored). Not listed: FAILED_PRECONDITION (state: fee, registration...).
_PRE_QUEUE_STATUS = {
    "queue_full": grpc.StatusCode.RESOURCE_EXHAUSTED, "too_many_queued": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "bad_signature": grpc.StatusCode.UNAUTHENTICATED, "malformed": grpc.StatusCode.INVALID_ARGUMENT,
    **{reason: grpc.StatusCode.INVALID_ARGUMENT for reason in (
        "invalid_address", "invalid_amount", "invalid_endpoint", "invalid_model", "invalid_certificate",
        "length_mismatch", "out_of_range", "invalid_commit", "unknown_hyperparameter", "invalid_hyperparameter",
        "unknown_call", "lifetime_too_long", "invalid_proof")},
}


class BlockClock:
    """Produces a block every ``block_time_s`` on a worker thread, and wakes block subscribers."""

    def __init__(self, node: ChainNode, block_time_s: float) -> None:
        self.node = node
        self.block_time_s = block_time_s
        self.new_block = asyncio.Condition()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="block")
        self._scheduler = AsyncIOScheduler()

    def start(self) -> None:
        self._scheduler.add_job(self._tick, "interval", seconds=self.block_time_s, max_instances=1, coalesce=True,
                                misfire_grace_time=None)
        self._scheduler.start()

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            header = await loop.run_in_executor(self._executor, self.node.produce_block)
        except asyncio.CancelledError:  # shutting down: ``stop`` lets the block being written finish
            log.debug("block tick cancelled by shutdown")
            return
        except Exception:
            log.exception("block production failed; the node keeps its last durable block")
            return
        log.debug("block %d %s", header.height, header.hash[:16])
        async with self.new_block:
            self.new_block.notify_all()

    async def stop(self) -> None:
        self._scheduler.shutdown(wait=False)
        self._executor.shutdown(wait=True)  # let a block being written finish: it is all or nothing anyway
        async with self.new_block:
            self.new_block.notify_all()


class ChainService(pb_grpc.ChainServicer):
    def __init__(self, node: ChainNode, clock: BlockClock, *, max_subscribers: int = MAX_SUBSCRIBERS,
                 max_subscribers_per_connection: int = MAX_SUBSCRIBERS_PER_CONNECTION) -> None:
        self.node = node
        self.clock = clock
        self.stopping = False
        self.max_subscribers = max_subscribers
        self.max_subscribers_per_connection = max_subscribers_per_connection
        self._subscribers: Counter[str] = Counter()  # open block subscriptions per peer (connection)

    async def stop(self) -> None:
        """End every block subscription (they return, so their streams close with OK) and stop the clock."""
        self.stopping = True
        await self.clock.stop()  # wakes every waiting subscription, which then sees ``stopping``

    async def SubmitTransaction(self, request: pb.Transaction, context: grpc.aio.ServicerContext) -> pb.TxResult:
        try:
            tx = decode_transaction(request, self.node.state.genesis_hash)
            future = self.node.submit(tx)
        except TxRejected as exc:
            code = _PRE_QUEUE_STATUS.get(exc.reason, grpc.StatusCode.FAILED_PRECONDITION)
            await context.abort(code, f"[{exc.reason}] {exc}")
        try:
            outcome = await asyncio.wrap_future(future)
        except NodeStopping as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        return pb.TxResult(tx_hash=outcome.hash, block=outcome.height, ok=outcome.ok, reason=outcome.reason,
                           message=outcome.message)

    async def GetTransaction(self, request: pb.GetTransactionRequest, context) -> pb.TxResult:
        record = self.node.store.tx(request.tx_hash)
        if record is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no block includes transaction {request.tx_hash}")
        return pb.TxResult(tx_hash=record.hash, block=record.height, ok=record.ok, reason=record.reason,
                           message=record.message)

    async def GetStatus(self, request: pb.StatusRequest, context) -> pb.ChainStatus:
        node = self.node
        return queries.status(node.state, node.head, self.clock.block_time_s)

    async def GetMetagraph(self, request: pb.MetagraphRequest, context) -> pb.MetagraphResponse:
        return queries.metagraph(self.node.state, request.include_matrices)

    async def GetBalance(self, request: pb.BalanceRequest, context) -> pb.BalanceResponse:
        if not ss58.is_valid(request.address):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{request.address!r} is not an SS58 address")
        return queries.balance(self.node.state, request.address, self.node.stake_entries())

    async def GetHyperparameters(self, request: pb.HyperparametersRequest, context) -> pb.HyperparametersResponse:
        return queries.hyperparameters(self.node.state)

    async def GetHeaders(self, request: pb.HeadersRequest, context) -> pb.HeadersResponse:
        end = min(request.end, request.start + MAX_HEADERS_PER_CALL - 1)
        if end < request.start:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "end must be >= start")
        return pb.HeadersResponse(headers=[queries.header(h) for h in self.node.store.headers(request.start, end)])

    async def SubscribeBlocks(self, request: pb.SubscribeBlocksRequest, context):
        """Stream every header above ``from_height`` (0: above the current head), then each new one, until the
        client leaves or the node stops (the stream then ends with OK; clients reconnect).

        A subscription waits on the block condition, never polls: one far ahead of the head costs nothing while
        it waits. ``from_height`` more than ``MAX_SUBSCRIBE_AHEAD_BLOCKS`` above the head is refused with
        INVALID_ARGUMENT; more than ``max_subscribers_per_connection`` subscriptions on one connection, or
        ``max_subscribers`` in all, with RESOURCE_EXHAUSTED.
        """
        head = self.node.head.height
        if request.from_height > head + MAX_SUBSCRIBE_AHEAD_BLOCKS:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                f"from_height {request.from_height} is more than {MAX_SUBSCRIBE_AHEAD_BLOCKS} blocks "
                                f"above the head ({head}); subscribe from a height at most that far ahead, or from 0 "
                                "for the next block")
        peer = context.peer() or "unknown"
        refusal = self._subscription_refusal(peer)
        if refusal is not None:
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, refusal)
        self._subscribers[peer] += 1  # no await since the check: nothing can slip in between
        try:
            sent = request.from_height or head
            while not self.stopping:
                head = self.node.head.height
                if sent < head:
                    batch = self.node.store.headers(sent + 1, min(head, sent + MAX_HEADERS_PER_CALL))
                    for h in batch:
                        yield queries.header(h)
                    sent = batch[-1].height if batch else head
                    continue
                async with self.clock.new_block:
                    # Also when ``sent`` is above the head: wait (a plain ``== head`` test here used to spin).
                    await self.clock.new_block.wait_for(lambda after=sent: self.stopping or self.node.head.height > after)
        finally:
            self._subscribers[peer] -= 1
            if self._subscribers[peer] <= 0:
                del self._subscribers[peer]

    def _subscription_refusal(self, peer: str) -> str | None:
        """Why a new subscription from ``peer`` is refused, or None when there is room."""
        if self._subscribers[peer] >= self.max_subscribers_per_connection:
            return (f"this connection already has {self._subscribers[peer]} block subscriptions, the most one "
                    "connection may hold: close one, or share one subscription between consumers")
        total = sum(self._subscribers.values())
        if total >= self.max_subscribers:
            return (f"this node already serves {total} block subscriptions, its limit: retry later, or poll "
                    "GetStatus and GetHeaders instead")
        return None
