"""``ChainClient``: the async client every role uses to read the chain and submit transactions.

Every call has a deadline. Calls that fail with UNAVAILABLE (the node restarting, a dropped connection) are
retried with backoff for up to ``reconnect_budget_s``; a resubmitted transaction keeps its hash, so the node
answers with the recorded outcome instead of applying it twice.

Trust: pass ``node_address`` (the genesis's ``node_address``, or ``--chain.node-address``) and every call is
signed with a throwaway key and every answer must carry that node key's signature over the call's nonce; an
answer that does not raises ``subnet.errors.ResponseVerificationError``; it never returns. Pass
``tls_ca`` (a PEM file) to speak TLS to a node started with ``--tls-cert``. Block subscriptions are a stream that
never ends, so their signature could only be checked at the end: with a pinned key, each header announced by
the subscription is fetched again with a verified ``GetHeaders`` before it is yielded.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import grpc
import grpc.aio

from subnet import ss58
from subnet.auth.client_interceptor import DEFAULT_UNSIGNED_PREFIXES, signing_interceptors
from subnet.chain import calls
from subnet.chain.codec import build_transaction, transaction_hash
from subnet.client import plain_channel
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


MAX_RECEIVE_BYTES = 64 << 20  # a full metagraph with its matrices
SUBSCRIBE_METHOD = "/subnet.v1.Chain/SubscribeBlocks"


def tls_channel_credentials(ca_path: Path | str) -> grpc.ChannelCredentials:
    """Credentials that trust the certificates in the PEM file ``ca_path`` (a self-signed node certificate works
    too). Raises ``OSError`` when the file cannot be read or is not PEM."""
    try:
        data = Path(ca_path).read_bytes()
    except OSError as exc:
        raise OSError(f"cannot read the chain's TLS CA file {ca_path}: {exc.strerror or exc}") from None
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise OSError(f"the chain's TLS CA file {ca_path} holds no PEM certificate")
    return grpc.ssl_channel_credentials(root_certificates=data)


class ChainClient:
    def __init__(self, endpoint: str, *, node_address: str | None = None, tls_ca: Path | str | None = None,
                 timeout_s: float = 10.0, reconnect_budget_s: float = 30.0) -> None:
        self.endpoint = endpoint
        self.node_address = node_address
        self.timeout_s = timeout_s
        self.reconnect_budget_s = reconnect_budget_s
        credentials = tls_channel_credentials(tls_ca) if tls_ca is not None else None
        interceptors = None
        if node_address is not None and not ss58.is_valid(node_address):
            raise ValueError(f"the chain node address {node_address!r} is not an SS58 address (the genesis's "
                             "node_address, or `subnet-chain --print-node-address`)")
        if node_address is not None:
            # Queries need no identity, only a fresh nonce for the node to sign over: a throwaway key does.
            # The subscription stream is left unsigned: its check could only come at the stream's end, i.e. never
            # (``subscribe_blocks`` verifies what it yields instead).
            interceptors = signing_interceptors(Keypair.generate(), node_address, verify_responses=True,
                                                unsigned_prefixes=(*DEFAULT_UNSIGNED_PREFIXES, SUBSCRIBE_METHOD))
        self._channel = plain_channel(endpoint, credentials=credentials, interceptors=interceptors,
                                      max_receive_message_bytes=MAX_RECEIVE_BYTES)
        self._stub = pb_grpc.ChainStub(self._channel)
        self._raw: dict[str, grpc.aio.UnaryUnaryMultiCallable] = {}
        self._genesis_hash: str | None = None

    def _unary(self, method: str) -> tuple[grpc.aio.UnaryUnaryMultiCallable, type]:
        """A callable for ``method`` that returns the response's raw bytes, and the response type to parse them.

        Raw bytes, because a pinned client's signature check must cover the bytes received: re-serializing a
        parsed message is not byte-exact for every message (map fields, e.g. the hyperparameters, have no fixed
        order)."""
        descriptor = pb.DESCRIPTOR.services_by_name["Chain"].methods_by_name[method]
        if method not in self._raw:
            self._raw[method] = self._channel.unary_unary(
                f"/{pb.DESCRIPTOR.services_by_name['Chain'].full_name}/{method}",
                request_serializer=lambda m: m.SerializeToString(), response_deserializer=None)
        return self._raw[method], getattr(pb, descriptor.output_type.name)

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
                call, response_type = self._unary(method)
                return response_type.FromString(await call(request, timeout=timeout_s or self.timeout_s))
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
        """Yield every new header, forever; reconnects by itself after the node restarts. With a pinned node key
        each announced header is fetched again, verified, before it is yielded (see the module docstring)."""
        last = from_height
        while True:
            try:
                async for header in self._stub.SubscribeBlocks(pb.SubscribeBlocksRequest(from_height=last)):
                    if self.node_address is None:
                        last = header.height
                        yield header
                        continue
                    for verified in await self.headers(last + 1 if last else header.height, header.height):
                        last = verified.height
                        yield verified
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

    async def register(self, coldkey: Keypair, hotkey: Keypair) -> pb.TxResult:
        """Register ``hotkey`` under ``coldkey``: the hotkey signs its consent (subnet.chain.registration), the
        coldkey signs and pays the transaction."""
        from subnet.chain.registration import sign_registration

        if not isinstance(hotkey, Keypair):
            raise TypeError("register needs the hotkey's Keypair (it signs its consent), not its address")
        status = await self.status()
        # Twice the transaction's lifetime: ``submit`` dates the transaction from a later status, and the proof
        # must outlive it (the chain allows proofs up to registration.MAX_PROOF_WINDOW_BLOCKS ahead).
        valid_until = status.block + 2 * TX_LIFETIME_BLOCKS
        signature = sign_registration(hotkey, status.genesis_hash, coldkey.ss58_address, valid_until)
        return await self.submit(coldkey, calls.Register(hotkey.ss58_address, signature, valid_until))

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

    async def set_admitted_models(self, owner_coldkey: Keypair, models: Sequence[calls.AdmittedModel]) -> pb.TxResult:
        """Replace the subnet's admitted models (owner only); an empty list admits nothing."""
        return await self.submit(owner_coldkey, calls.SetAdmittedModels(tuple(models)))


NODE_ADDRESS_ENV = "SUBNET_CHAIN_NODE_ADDRESS"
TLS_CA_ENV = "SUBNET_CHAIN_TLS_CA"


def add_chain_trust_flags(parser) -> None:
    """``--chain.node-address`` and ``--chain.tls-ca``, the same for every command that talks to the chain
    (dest ``chain_node_address`` and ``chain_tls_ca``; defaults from $SUBNET_CHAIN_NODE_ADDRESS/$SUBNET_CHAIN_TLS_CA)."""
    import os

    parser.add_argument("--chain.node-address", "--chain-node-address", dest="chain_node_address",
                        default=os.environ.get(NODE_ADDRESS_ENV) or None, metavar="SS58",
                        help="accept only chain answers signed by this node key (the genesis's node_address)")
    parser.add_argument("--chain.tls-ca", "--chain-tls-ca", dest="chain_tls_ca", type=Path,
                        default=os.environ.get(TLS_CA_ENV) or None, metavar="PEM",
                        help="speak TLS to the chain, trusting the certificates in this PEM file")
