"""Block production: the node's in-memory state, its store, and the queue of submitted transactions.

``ChainNode`` is synchronous and knows nothing of gRPC: the service layer verifies a transaction's signature,
hands it to ``submit`` and waits for the returned future, which resolves only once the block that decided the
transaction is durable. ``produce_block`` is called every block time (APScheduler in the server).

Admission (``submit``) refuses at once, without queueing or storing anything, a transaction whose fields are
malformed, whose fee payer cannot pay, or whose signer already has ``max_queued_txs_per_signer`` waiting. In the
block, each transaction first pays its fee (recycled, kept even when the call is refused), then its call runs on
a fork of the block's state: a refusal or an unexpected error drops that fork only, and the block goes on.
Per-block work is proportional to what the block changed: large maps are layered, the state root is updated
incrementally and the ledger invariant is checked over the changes (the whole is checked on open).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from pathlib import Path

from consensus import ledger as ledger_rules
from consensus.ledger import InvariantViolation
from subnet.chain import calls
from subnet.chain.genesis import Genesis
from subnet.chain.runtime import TxRejected, apply_call, begin_block, fee_payer
from subnet.chain.state import ChainState, StateHash, is_large_record
from subnet.chain.store import ZERO_HASH, ChainStore, Header, StoreError, TxRecord, corrupt_error, tx_root
from subnet.chain.validation import check_call

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
        # Replaced at each block. Its small parts are never mutated; its large maps are shared with the next
        # state and updated in place when that one is published, so read the current ``state``, never an old one.
        self.state = state
        self.head = head
        self.read_lock = threading.Lock()
        self._small_records = {k: v for k, v in records.items() if not is_large_record(k)}
        self._root = StateHash.of(records)
        self._queue: list[SignedTx] = []
        self._queued_by_signer: dict[str, int] = {}
        self._refused_signers: frozenset[str] = frozenset()  # signers the last block refused a transaction of
        self._queued_fees: dict[str, int] = {}  # fee payer -> fees of its queued transactions
        self._logged_failures: set[tuple[str, str]] = set()
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
                head = Header(0, ZERO_HASH, tx_root([]), StateHash.of(records).hexdigest(), int(time.time() * 1000),
                              0, None, state.ledger.issuance, state.ledger.recycled)
                store.init_genesis(genesis.hash, head, records)
                return cls(store, state, records, head)
            if genesis is not None and genesis.hash != stored_genesis:
                raise StoreError(f"{data_dir} holds a chain from another genesis; use another --data-dir")
            records = store.load_records()
            head = store.last_header()
            if head is None or StateHash.of(records).hexdigest() != head.state_root:
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

    def stake_entries(self) -> list[tuple[tuple[str, str], int]]:
        """Every stake entry ((coldkey, hotkey), units) of the current state, copied under ``read_lock``."""
        with self.read_lock:
            return list(self.state.ledger.stakes.items())

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
            self._admit(tx)
            self._queue.append(tx)
            self._waiters[tx.hash] = [future]
        return future

    def _admit(self, tx: SignedTx) -> None:
        """Refuse ``tx`` now (TxRejected) if it is malformed, its signer has too many waiting, or nobody can pay
        its fee (counting the fees already queued for the same payer); else count it. Holds ``_lock``."""
        check_call(tx.call)
        state = self.state
        hp = state.hyper
        queued = self._queued_by_signer.get(tx.signer, 0)
        if tx.signer in self._refused_signers and queued >= hp.max_queued_txs_after_refusal:
            raise TxRejected("too_many_queued", f"the last block refused a transaction of this signer, so it may "
                             f"have only {hp.max_queued_txs_after_refusal} waiting for the next block: fix the "
                             "refused call, then retry after that block")
        if queued >= hp.max_queued_txs_per_signer:
            raise TxRejected("too_many_queued", f"this signer already has {queued} transactions waiting for a "
                             "block: wait for them to be included")
        payer = fee_payer(state, tx.signer, tx.call)
        if payer is None:
            raise TxRejected("not_registered", "the signing hotkey is not registered on this subnet, so no coldkey "
                             "pays its fees: run `subnet register` first")
        fee = hp.tx_fee(len(tx.body))
        owed = self._queued_fees.get(payer, 0) + fee
        if fee and state.ledger.balance(payer) < owed:
            raise TxRejected("cannot_pay_fee", f"the fee is {fee} units, paid from the free balance of the signing "
                             "coldkey (for hotkey calls, of the coldkey owning the hotkey): fund it first")
        self._queued_by_signer[tx.signer] = queued + 1
        self._queued_fees[payer] = owed

    # --- blocks ------------------------------------------------------------------------------------------

    def produce_block(self, now_ms: int | None = None) -> Header:
        """Apply the queued transactions in arrival order as one block, make it durable, then answer them."""
        with self._block_lock:
            with self._lock:
                batch, self._queue = self._queue, []
                self._queued_by_signer, self._queued_fees = {}, {}
            try:
                base = self.state
                state = base.fork()
                outcome = begin_block(state)
                records_out: list[TxRecord] = []
                dropped: list[TxOutcome] = []  # not included: answered, never stored
                for tx in batch:
                    verdict = self._apply(state, tx)
                    if isinstance(verdict, TxOutcome):
                        dropped.append(verdict)
                        continue
                    ok, reason, message = verdict
                    records_out.append(TxRecord(tx.hash, state.block, len(records_out), tx.signer, tx.body,
                                                tx.signature, ok, reason, message))
                upserts, deletes, root, small = self._changes(base, state)
                header = Header(
                    height=state.block, parent=self.head.hash, tx_root=tx_root([t.hash for t in records_out]),
                    state_root=root.hexdigest(), time_ms=int(time.time() * 1000) if now_ms is None else now_ms,
                    minted=outcome.minted, epoch_paid=None if outcome.epoch is None else outcome.epoch.paid,
                    issuance=state.ledger.issuance, recycled=state.ledger.recycled,
                )
                self.store.commit_block(header, records_out, upserts, deletes)
            except BaseException as exc:
                error = NodeStopping(f"block {self.head.height + 1} could not be produced ({exc}); resubmit")
                self._answer([(tx.hash, None) for tx in batch], error=error)
                raise
            # Publish, then write the block's layers into the shared maps: a lookup in the new state sees the same
            # values before, during and after the fold (its layers are read first until they are folded). Readers
            # that iterate a large map hold ``read_lock`` (see ``stake_entries``), which the fold holds too.
            self.state, self.head, self._root, self._small_records = state, header, root, small
            self._refused_signers = frozenset(rec.signer for rec in records_out if not rec.ok)
            with self.read_lock:
                state.fold_layers()
        self._answer([(rec.hash, TxOutcome(rec.hash, rec.height, rec.ok, rec.reason, rec.message))
                      for rec in records_out])
        self._answer([(out.hash, out) for out in dropped])
        if outcome.epoch is not None:
            log.info("block %d: epoch paid %d units (owner cut %d)", header.height, outcome.epoch.paid,
                     outcome.epoch.owner_cut)
        return header

    def _apply(self, state: ChainState, tx: SignedTx) -> tuple[bool, str, str] | TxOutcome:
        """Charge ``tx``'s fee and apply its call to ``state``: (ok, reason, message) to record, or the outcome
        of a transaction that is not included (expired, or its payer can no longer pay the fee)."""
        if tx.valid_until_block < state.block:
            return TxOutcome(tx.hash, state.block, False, "expired", "the transaction expired before it could be "
                             "included: rebuild it")
        hp = state.hyper
        payer = fee_payer(state, tx.signer, tx.call)
        try:
            if payer is None:
                raise ledger_rules.InsufficientBalance("no payer")
            ledger_rules.pay_fee(state.ledger, payer, hp.tx_fee(len(tx.body)),
                                 existential_deposit=hp.existential_deposit)
        except ledger_rules.LedgerError:
            return TxOutcome(tx.hash, state.block, False, "cannot_pay_fee", "the fee payer's free balance no longer "
                             "covers the fee: fund it and resubmit")
        attempt = state.fork(copy_neurons=False)
        try:
            apply_call(attempt, tx.signer, tx.call)
        except TxRejected as exc:
            return False, exc.reason, str(exc)
        except Exception as exc:  # a bug reached by some input: refuse this call only, keep the block
            key = (type(tx.call).__name__, type(exc).__name__)
            if key not in self._logged_failures:
                self._logged_failures.add(key)
                log.exception("refused transaction %s: %s failed with %s", tx.hash[:16], *key)
            return False, "internal", "the chain could not apply this call; it was refused and its fee kept"
        state.absorb(attempt)
        return True, "", ""

    def _changes(self, base: ChainState, state: ChainState) -> tuple[dict[str, bytes], list[str], StateHash,
                                                                     dict[str, bytes]]:
        """What ``state`` (a fork of ``base``) changed, as store upserts and deletes, the new state root and the
        new small records; checks the ledger invariant over the changes. O(what changed + the small parts)."""
        state.ledger.check_changes(base.ledger, (k for k, _, _ in state.ledger.balances.changed()),
                                   (k for k, _, _ in state.ledger.stakes.changed()))
        small, was = state.small_records(), self._small_records
        changes = [(k, was.get(k), v) for k, v in small.items() if was.get(k) != v]
        changes += [(k, old, None) for k, old in was.items() if k not in small]
        changes += state.changed_records()
        root = self._root.copy()
        upserts: dict[str, bytes] = {}
        deletes: list[str] = []
        for key, old, new in changes:
            if old == new:
                continue
            if old is not None:
                root.remove(key, old)
            if new is None:
                deletes.append(key)
            else:
                root.add(key, new)
                upserts[key] = new
        return upserts, deletes, root, small

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
