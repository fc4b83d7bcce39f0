"""``ChainClient``: the async client every role uses to read the chain and submit transactions.

Every call has a deadline. Calls that fail with UNAVAILABLE (the node restarting, a dropped connection) are
retried with backoff for up to ``reconnect_budget_s``; a resubmitted transaction keeps its hash, so the node
answers with the recorded outcome instead of applying it twice.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Sequence

import grpc
import grpc.aio

from subnet.chain import calls
from subnet.chain.codec import build_transaction, transaction_hash
from subnet.keys import Keypair
from subnet.proto import subnet_pb2 as pb
from subnet.proto import subnet_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)

TX_LIFETIME_BLOCKS = 64


class ChainUnavailable(ConnectionError):
    """The chain node could not be reached within the reconnect budget."""


class TransactionRefused(Exception):
    """The chain refused a transaction. ``reason`` is the chain's short code (e.g. ``insufficient_balance``)."""

    def __init__(self, reason: str, message: str, block: int = 0) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason, self.message, self.block = reason, message, block


class ChainClient:
    def __init__(self, endpoint: str, *, timeout_s: float = 10.0, reconnect_budget_s: float = 30.0) -> None:
        self.endpoint = endpoint
        self.timeout_s = timeout_s
        self.reconnect_budget_s = reconnect_budget_s
        self._channel = grpc.aio.insecure_channel(endpoint, options=[("grpc.max_receive_message_length", 64 << 20)])
        self._stub = pb_grpc.ChainStub(self._channel)
        self._genesis_hash: str | None = None

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> ChainClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _call(self, method: str, request, *, timeout_s: float | None = None):
        """Call ``method`` with a deadline, retrying UNAVAILABLE with jittered backoff within the budget."""
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + self.reconnect_budget_s
        delay = 0.1
        while True:
            try:
                return await getattr(self._stub, method)(request, timeout=timeout_s or self.timeout_s)
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.UNAVAILABLE or loop.time() + delay > give_up_at:
                    if exc.code() == grpc.StatusCode.UNAVAILABLE:
                        raise ChainUnavailable(f"chain at {self.endpoint} unreachable: {exc.details()}") from None
                    raise
                log.debug("chain %s unavailable (%s); retrying in %.1fs", self.endpoint, exc.details(), delay)
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 2.0)

    # --- queries ---------------------------------------------------------------------------------------

    async def status(self) -> pb.ChainStatus:
        return await self._call("GetStatus", pb.StatusRequest())

    async def metagraph(self, include_matrices: bool = False) -> pb.MetagraphResponse:
        return await self._call("GetMetagraph", pb.MetagraphRequest(include_matrices=include_matrices))

    async def balance(self, address: str) -> pb.BalanceResponse:
        return await self._call("GetBalance", pb.BalanceRequest(address=address))

    async def hyperparameters(self) -> dict[str, int]:
        return dict((await self._call("GetHyperparameters", pb.HyperparametersRequest())).values)

    async def headers(self, start: int, end: int) -> list[pb.BlockHeader]:
        out: list[pb.BlockHeader] = []
        while start <= end:
            batch = (await self._call("GetHeaders", pb.HeadersRequest(start=start, end=end))).headers
            if not batch:
                break
            out.extend(batch)
            start = batch[-1].height + 1
        return out

    async def transaction(self, tx_hash: str) -> pb.TxResult | None:
        try:
            return await self._call("GetTransaction", pb.GetTransactionRequest(tx_hash=tx_hash))
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise

    async def subscribe_blocks(self, from_height: int = 0) -> AsyncIterator[pb.BlockHeader]:
        """Yield every new header, forever; reconnects by itself after the node restarts."""
        last = from_height
        while True:
            try:
                async for header in self._stub.SubscribeBlocks(pb.SubscribeBlocksRequest(from_height=last)):
                    last = header.height
                    yield header
            except grpc.aio.AioRpcError as exc:
                if exc.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED):
                    raise
            await asyncio.sleep(0.5)

    async def genesis_hash(self) -> str:
        if self._genesis_hash is None:
            self._genesis_hash = (await self.status()).genesis_hash
        return self._genesis_hash

    # --- transactions ----------------------------------------------------------------------------------

    async def submit(self, keypair: Keypair, call: calls.Call, *, lifetime_blocks: int = TX_LIFETIME_BLOCKS,
                     timeout_s: float | None = None) -> pb.TxResult:
        """Sign ``call`` with ``keypair``, submit it and wait until a durable block decides it.

        Returns the result when included successfully; raises TransactionRefused when the chain refuses it
        (before or at inclusion) and ChainUnavailable if the node stays unreachable.
        """
        status = await self.status()
        self._genesis_hash = status.genesis_hash
        tx = build_transaction(keypair, status.genesis_hash, call, status.block + lifetime_blocks)
        tx_hash = transaction_hash(tx.signer, tx.body)
        wait_s = timeout_s or max(self.timeout_s, 3 * status.block_time_s + 5)
        try:
            result = await self._call("SubmitTransaction", tx, timeout_s=wait_s)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                # The node may still include it: look it up once before giving up.
                result = await self.transaction(tx_hash)
                if result is None:
                    raise
            else:
                reason, _, message = (exc.details() or "").partition("] ")
                raise TransactionRefused(reason.lstrip("[") or exc.code().name.lower(), message or exc.details()) \
                    from None
        except ChainUnavailable:
            result = await self.transaction(tx_hash)  # included before the node went away?
            if result is None:
                raise
        if not result.ok:
            raise TransactionRefused(result.reason, result.message, result.block)
        return result

    async def transfer(self, coldkey: Keypair, dest: str, amount: int) -> pb.TxResult:
        return await self.submit(coldkey, calls.Transfer(dest, amount))

    async def register(self, coldkey: Keypair, hotkey: str) -> pb.TxResult:
        return await self.submit(coldkey, calls.Register(hotkey))

    async def serve(self, hotkey: Keypair, endpoint: str, model_name: str = "", model_hash: str = "",
                    tls_certificate: bytes = b"") -> pb.TxResult:
        return await self.submit(hotkey, calls.Serve(endpoint, model_name, model_hash, tls_certificate))

    async def add_stake(self, coldkey: Keypair, hotkey: str, amount: int) -> pb.TxResult:
        return await self.submit(coldkey, calls.AddStake(hotkey, amount))

    async def remove_stake(self, coldkey: Keypair, hotkey: str, amount: int) -> pb.TxResult:
        return await self.submit(coldkey, calls.RemoveStake(hotkey, amount))

    async def set_weights(self, hotkey: Keypair, uids: Sequence[int], values: Sequence[int],
                          version_key: int = 0) -> pb.TxResult:
        return await self.submit(hotkey, calls.SetWeights(tuple(uids), tuple(values), version_key))

    async def commit_weights(self, hotkey: Keypair, commit_hash: bytes) -> pb.TxResult:
        return await self.submit(hotkey, calls.CommitWeights(commit_hash))

    async def reveal_weights(self, hotkey: Keypair, uids: Sequence[int], values: Sequence[int], salt: bytes,
                             version_key: int = 0) -> pb.TxResult:
        return await self.submit(hotkey, calls.RevealWeights(tuple(uids), tuple(values), salt, version_key))

    async def set_hyperparameter(self, owner_coldkey: Keypair, name: str, value: int | bool) -> pb.TxResult:
        return await self.submit(owner_coldkey, calls.SetHyperparameter(name, int(value)))
