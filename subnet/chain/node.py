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

from consensus.ledger import InvariantViolation
from subnet.chain import calls
from subnet.chain.genesis import Genesis
from subnet.chain.runtime import TxRejected, apply_call, begin_block
from subnet.chain.state import ChainState, state_root
from subnet.chain.store import ZERO_HASH, ChainStore, Header, StoreError, TxRecord, corrupt_error, tx_root

log = logging.getLogger(__name__)

MAX_TX_LIFETIME_BLOCKS = 600  # a transaction names the last block it may be included in, at most this far ahead
MAX_QUEUE = 10_000
MAX_WAITERS_PER_TX = 64  # callers waiting on one queued transaction (resubmissions)


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
        self._queue: list[SignedTx] = []
        # hash -> the submitters waiting for it, from queueing until the block that decides it is durable
        self._waiters: dict[str, list[Future[TxOutcome]]] = {}
        self._lock = threading.Lock()
        self._block_lock = threading.Lock()

    @classmethod
    def open(cls, data_dir: str | Path, genesis: Genesis | None) -> ChainNode:
        """Resume the chain in ``data_dir``, or start it from ``genesis`` if the dir holds no chain yet."""
        store = ChainStore(data_dir)
        try:
            stored_genesis = store.genesis_hash()
            if stored_genesis is None:
                if store.has_headers():
                    raise corrupt_error(store.path, "headers without a genesis hash")
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
                raise corrupt_error(store.path, "the stored state does not match the last header")
            try:
                state = ChainState.from_records(records)
                state.ledger.check_invariant()
            except (ValueError, InvariantViolation) as exc:
                raise corrupt_error(store.path, str(exc)) from None
            return cls(store, state, records, head)
        except BaseException:
            store.close()
            raise

    def close(self) -> None:
        with self._lock:
            self._queue = []
            waiting, self._waiters = self._waiters, {}
        for futures in waiting.values():
            for future in futures:
                _settle(future, error=NodeStopping("the chain node stopped before including this transaction; "
                                                   "resubmit"))
        self.store.close()

    # --- submission --------------------------------------------------------------------------------------

    def submit(self, tx: SignedTx) -> Future[TxOutcome]:
        """Queue ``tx`` for the next block and return a future for its outcome.

        Resubmitting is safe (a client retrying after a dropped connection): a transaction already included
        resolves at once with its recorded outcome, and one still queued (or in the block being written) gets a
        new future for the same outcome; it is never applied twice. Raises TxRejected if ``tx`` is expired, lives
        too long, the queue is full or ``MAX_WAITERS_PER_TX`` callers already wait for it.
        """
        future: Future[TxOutcome] = Future()
        with self._lock:  # held across the store lookup: a hash leaves _waiters only once its block is durable
            waiters = self._waiters.get(tx.hash)
            if waiters is not None:
                if len(waiters) >= MAX_WAITERS_PER_TX:
                    raise TxRejected("duplicate", f"this transaction already has {len(waiters)} callers waiting "
                                     "for the next block: wait for one of them")
                waiters.append(future)
                return future
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
            if len(self._queue) >= MAX_QUEUE:
                raise TxRejected("queue_full", "the transaction queue is full: retry in a few blocks")
            self._queue.append(tx)
            self._waiters[tx.hash] = [future]
        return future

    # --- blocks ------------------------------------------------------------------------------------------

    def produce_block(self, now_ms: int | None = None) -> Header:
        """Apply the queued transactions in arrival order as one block, make it durable, then answer them."""
        with self._block_lock:
            with self._lock:
                batch, self._queue = self._queue, []
            try:
                state = self.state.copy()
                outcome = begin_block(state)
                records_out: list[TxRecord] = []
                for idx, tx in enumerate(batch):
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
                self.store.commit_block(header, records_out, upserts, deletes)
            except BaseException as exc:
                error = NodeStopping(f"block {self.head.height + 1} could not be produced ({exc}); resubmit")
                self._answer([(tx.hash, None) for tx in batch], error=error)
                raise
            self.state, self._records, self.head = state, records, header
        self._answer([(rec.hash, TxOutcome(rec.hash, rec.height, rec.ok, rec.reason, rec.message))
                      for rec in records_out])
        if outcome.epoch is not None:
            log.info("block %d: epoch paid %d units (owner cut %d)", header.height, outcome.epoch.paid,
                     outcome.epoch.owner_cut)
        return header

    def _answer(self, outcomes: list[tuple[str, TxOutcome | None]], *, error: Exception | None = None) -> None:
        with self._lock:
            waiting = [(self._waiters.pop(tx_hash, []), outcome) for tx_hash, outcome in outcomes]
        for futures, outcome in waiting:
            for future in futures:
                _settle(future, result=outcome, error=error)


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
