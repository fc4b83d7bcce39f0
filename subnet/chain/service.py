"""The ``Chain`` gRPC service over a ``ChainNode``, and the block clock that drives it (APScheduler)."""

from __future__ import annotations

import asyncio
import logging
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
_PRE_QUEUE_STATUS = {"queue_full": grpc.StatusCode.RESOURCE_EXHAUSTED, "bad_signature": grpc.StatusCode.UNAUTHENTICATED,
                     "malformed": grpc.StatusCode.INVALID_ARGUMENT}


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
    def __init__(self, node: ChainNode, clock: BlockClock) -> None:
        self.node = node
        self.clock = clock
        self.stopping = False

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
        return queries.balance(self.node.state, request.address)

    async def GetHyperparameters(self, request: pb.HyperparametersRequest, context) -> pb.HyperparametersResponse:
        return queries.hyperparameters(self.node.state)

    async def GetHeaders(self, request: pb.HeadersRequest, context) -> pb.HeadersResponse:
        end = min(request.end, request.start + MAX_HEADERS_PER_CALL - 1)
        if end < request.start:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "end must be >= start")
        return pb.HeadersResponse(headers=[queries.header(h) for h in self.node.store.headers(request.start, end)])

    async def SubscribeBlocks(self, request: pb.SubscribeBlocksRequest, context):
        sent = request.from_height or self.node.head.height
        while not self.stopping:
            head = self.node.head.height
            while sent < head:
                batch = self.node.store.headers(sent + 1, min(head, sent + MAX_HEADERS_PER_CALL))
                for h in batch:
                    yield queries.header(h)
                sent = batch[-1].height if batch else head
            async with self.clock.new_block:
                if self.node.head.height == sent and not self.stopping:
                    await self.clock.new_block.wait()
