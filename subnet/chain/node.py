"""Block production: the node's in-memory state, its store, and the queue of submitted transactions.

``ChainNode`` is synchronous and knows nothing of gRPC: the service layer verifies a transaction's signature,
hands it to ``submit`` and waits for the returned future, which resolves only once the block that decided the
transaction is durable. ``produce_block`` is called every block time (APScheduler in the server).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from pathlib import Path

from subnet.chain import calls
from subnet.chain.genesis import Genesis
from subnet.chain.runtime import TxRejected, apply_call, begin_block
from subnet.chain.state import ChainState, state_root
from subnet.chain.store import ZERO_HASH, ChainStore, Header, StoreError, TxRecord, tx_root

log = logging.getLogger(__name__)

MAX_TX_LIFETIME_BLOCKS = 600  # a transaction names the last block it may be included in, at most this far ahead
MAX_QUEUE = 10_000


@dataclass(frozen=True)
class SignedTx:
    """A transaction whose signature the service layer has already checked."""

    hash: str  # hex SHA-256 of the signed bytes
    signer: str
    body: bytes
    signature: bytes
    call: calls.Call
    valid_until_block: int


@dataclass(frozen=True)
class TxOutcome:
    hash: str
    height: int  # the block that included (or refused) it
    ok: bool
    reason: str  # "" when ok
    message: str


class NodeStopping(RuntimeError):
    """The node is shutting down; the transaction was not included. Resubmit it."""


class ChainNode:
    def __init__(self, store: ChainStore, state: ChainState, records: dict[str, bytes], head: Header) -> None:
        self.store = store
        self.state = state  # replaced (never mutated) at each block, so readers see whole blocks
        self.head = head
        self._records = records
        self._queue: list[tuple[SignedTx, Future[TxOutcome]]] = []
        self._queued_hashes: set[str] = set()
        self._lock = threading.Lock()
        self._block_lock = threading.Lock()

    @classmethod
    def open(cls, data_dir: str | Path, genesis: Genesis | None) -> ChainNode:
        """Resume the chain in ``data_dir``, or start it from ``genesis`` if the dir holds no chain yet."""
        store = ChainStore(data_dir)
        try:
            stored_genesis = store.genesis_hash()
            if stored_genesis is None:
                if genesis is None:
                    raise StoreError(f"{data_dir} holds no chain yet: pass --genesis FILE to create one")
                state = genesis.initial_state()
                records = state.records()
                head = Header(0, ZERO_HASH, tx_root([]), state_root(records), int(time.time() * 1000), 0, None,
                              state.ledger.issuance, state.ledger.recycled)
                store.init_genesis(genesis.hash, head, records)
                return cls(store, state, records, head)
            if genesis is not None and genesis.hash != stored_genesis:
                raise StoreError(f"{data_dir} holds a chain from another genesis; use another --data-dir")
            records = store.load_records()
            head = store.last_header()
            if head is None or state_root(records) != head.state_root:
                raise StoreError(f"{data_dir}: the stored state does not match the last header; refusing to run "
                                 "on a corrupt chain (restore the data dir from a backup)")
            state = ChainState.from_records(records)
            state.ledger.check_invariant()
            return cls(store, state, records, head)
        except BaseException:
            store.close()
            raise

    def close(self) -> None:
        with self._lock:
            queued, self._queue = self._queue, []
            self._queued_hashes.clear()
        for _, future in queued:
            _settle(future, error=NodeStopping("the chain node stopped before including this transaction; resubmit"))
        self.store.close()

    # --- submission --------------------------------------------------------------------------------------

    def submit(self, tx: SignedTx) -> Future[TxOutcome]:
        """Queue ``tx`` for the next block. A transaction already included resolves at once with its outcome;
        an expired or duplicate one raises TxRejected."""
        future: Future[TxOutcome] = Future()
        done = self.store.tx(tx.hash)
        if done is not None:
            future.set_result(TxOutcome(done.hash, done.height, done.ok, done.reason, done.message))
            return future
        next_block = self.state.block + 1
        if tx.valid_until_block < next_block:
            raise TxRejected("expired", f"valid until block {tx.valid_until_block}, but the next block is "
                             f"{next_block}: rebuild the transaction")
        if tx.valid_until_block > next_block + MAX_TX_LIFETIME_BLOCKS:
            raise TxRejected("lifetime_too_long", f"valid_until_block may be at most {MAX_TX_LIFETIME_BLOCKS} "
                             "blocks ahead")
        with self._lock:
            if tx.hash in self._queued_hashes:
                raise TxRejected("duplicate", "this transaction is already waiting for the next block")
            if len(self._queue) >= MAX_QUEUE:
                raise TxRejected("queue_full", "the transaction queue is full: retry in a few blocks")
            self._queue.append((tx, future))
            self._queued_hashes.add(tx.hash)
        return future

    # --- blocks ------------------------------------------------------------------------------------------

    def produce_block(self, now_ms: int | None = None) -> Header:
        """Apply the queued transactions in arrival order as one block, make it durable, then answer them."""
        with self._block_lock:
            with self._lock:
                batch, self._queue = self._queue, []
                self._queued_hashes.clear()
            state = self.state.copy()
            outcome = begin_block(state)
            records_out: list[TxRecord] = []
            for idx, (tx, _) in enumerate(batch):
                ok, reason, message = True, "", ""
                if tx.valid_until_block < state.block:
                    ok, reason, message = False, "expired", "the transaction expired before it could be included"
                else:
                    try:
                        apply_call(state, tx.signer, tx.call)
                    except TxRejected as exc:
                        ok, reason, message = False, exc.reason, str(exc)
                records_out.append(TxRecord(tx.hash, state.block, idx, tx.signer, tx.body, tx.signature,
                                            ok, reason, message))
            state.ledger.check_invariant()
            records = state.records()
            upserts = {k: v for k, v in records.items() if self._records.get(k) != v}
            deletes = [k for k in self._records if k not in records]
            header = Header(
                height=state.block, parent=self.head.hash, tx_root=tx_root([t.hash for t in records_out]),
                state_root=state_root(records), time_ms=int(time.time() * 1000) if now_ms is None else now_ms,
                minted=outcome.minted, epoch_paid=None if outcome.epoch is None else outcome.epoch.paid,
                issuance=state.ledger.issuance, recycled=state.ledger.recycled,
            )
            try:
                self.store.commit_block(header, records_out, upserts, deletes)
            except BaseException as exc:
                for _, future in batch:
                    _settle(future, error=NodeStopping(f"block {header.height} could not be written: {exc}"))
                raise
            self.state, self._records, self.head = state, records, header
        for (_, future), rec in zip(batch, records_out, strict=True):
            _settle(future, result=TxOutcome(rec.hash, rec.height, rec.ok, rec.reason, rec.message))
        if outcome.epoch is not None:
            log.info("block %d: epoch paid %d units (owner cut %d)", header.height, outcome.epoch.paid,
                     outcome.epoch.owner_cut)
        return header


def _settle(future: Future[TxOutcome], *, result: TxOutcome | None = None, error: Exception | None = None) -> None:
    """Answer a submitter, unless it stopped waiting (its call was cancelled): the block stands either way."""
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
    except InvalidStateError:  # cancelled by the waiting call, possibly from another thread
        pass


def verify_header_chain(store: ChainStore) -> int:
    """Check every header links to its parent and commits to its block's transactions. Returns the height.

    Raises StoreError at the first inconsistency.
    """
    head = store.last_header()
    if head is None:
        raise StoreError("no headers")
    parent = ZERO_HASH
    for height in range(0, head.height + 1):
        headers = store.headers(height, height)
        if not headers:
            raise StoreError(f"header {height} is missing")
        header = headers[0]
        if header.parent != parent:
            raise StoreError(f"header {height} does not link to its parent")
        if header.tx_root != tx_root([t.hash for t in store.txs_in(height)]):
            raise StoreError(f"header {height} does not match its transactions")
        parent = header.hash
    return head.height
