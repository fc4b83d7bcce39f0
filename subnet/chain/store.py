"""SQLite persistence of the chain: one transaction per block (WAL, synchronous=FULL).

A block's header, its transactions with their results, and the state records that changed are written in one
SQLite transaction; a submitted transaction is answered only after that commit returns, so an acknowledged
transaction survives any crash. On open, the store refuses a file that is not a chain database, one that fails
SQLite's structural check (``PRAGMA quick_check``), one made from another genesis, and one whose state does not hash
to the last header's state root. Every SQLite error surfaces as ``StoreError``; a refused file is never written to.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

APPLICATION_ID = 0x53554E54  # "SUNT": marks the file as a subnet chain database
SCHEMA_VERSION = 2  # 2: the state root is a multiset hash (StateHash)
DB_NAME = "chain.sqlite3"
ZERO_HASH = "00" * 32

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS headers (
    height INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE, parent TEXT NOT NULL, tx_root TEXT NOT NULL,
    state_root TEXT NOT NULL, time_ms INTEGER NOT NULL, minted INTEGER NOT NULL, epoch_paid INTEGER,
    issuance INTEGER NOT NULL, recycled INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS txs (
    hash TEXT PRIMARY KEY, height INTEGER NOT NULL, idx INTEGER NOT NULL, signer TEXT NOT NULL,
    body BLOB NOT NULL, signature BLOB NOT NULL, ok INTEGER NOT NULL, reason TEXT NOT NULL, message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS txs_by_height ON txs (height, idx);
"""


class StoreError(RuntimeError):
    """The data dir holds something this node must not open or overwrite, or the database failed."""


def corrupt_error(path: Path, detail: str) -> StoreError:
    return StoreError(f"corrupt chain database {path}: {detail}; refusing to run on it (it is left untouched): "
                      "restore the data dir from a backup")


def _sqlite_error(path: Path, exc: sqlite3.Error) -> StoreError:
    """Map a SQLite error to StoreError: corruption says how to recover, anything else (I/O, disk full) is named."""
    name = getattr(exc, "sqlite_errorname", None)
    damaged_text = name is None and str(exc).startswith("Could not decode")  # a stored text is not UTF-8
    if name in ("SQLITE_CORRUPT", "SQLITE_NOTADB") or damaged_text or (type(exc) is sqlite3.DatabaseError and not name):
        return corrupt_error(path, str(exc))
    return StoreError(f"chain database {path}: {exc} ({name or type(exc).__name__})")


@dataclass(frozen=True)
class Header:
    height: int
    parent: str
    tx_root: str
    state_root: str
    time_ms: int
    minted: int  # units minted by this block
    epoch_paid: int | None  # units paid out if an epoch ran in this block
    issuance: int  # total issuance after this block
    recycled: int  # cumulative units recycled after this block

    @property
    def hash(self) -> str:
        fields = [self.height, self.parent, self.tx_root, self.state_root, self.time_ms, self.minted, self.epoch_paid,
                  self.issuance, self.recycled]
        return hashlib.sha256(json.dumps(fields, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class TxRecord:
    hash: str
    height: int
    idx: int
    signer: str
    body: bytes
    signature: bytes
    ok: bool
    reason: str
    message: str


def tx_root(tx_hashes: list[str]) -> str:
    h = hashlib.sha256(b"subnet-txs/v1")
    for tx_hash in tx_hashes:
        h.update(bytes.fromhex(tx_hash))
    return h.hexdigest()


def _locked(method):
    """Serialise use of the connection, and turn SQLite errors into StoreError."""

    def wrapper(self, *args, **kwargs):
        with self._lock:
            try:
                return method(self, *args, **kwargs)
            except sqlite3.Error as exc:
                raise _sqlite_error(self.path, exc) from exc

    wrapper.__doc__, wrapper.__name__ = method.__doc__, method.__name__
    return wrapper


class ChainStore:
    def __init__(self, data_dir: str | Path) -> None:
        self.path = Path(data_dir) / DB_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One connection shared by the block producer thread and the gRPC handlers: serialise its use.
        self._lock = threading.RLock()
        fresh = not self.path.exists()
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise _sqlite_error(self.path, exc) from None
        try:
            self._open(fresh)
        except BaseException:
            self._db.close()
            raise

    def _open(self, fresh: bool) -> None:
        db = self._db
        try:
            app_id = db.execute("PRAGMA application_id").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a chain database ({exc}); use another --data-dir") from None
        try:
            has_tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0
            if has_tables and app_id != APPLICATION_ID:
                raise StoreError(f"{self.path} belongs to another program; use another --data-dir")
            if not has_tables and app_id == APPLICATION_ID:
                raise corrupt_error(self.path, "the schema is gone")
            if has_tables:
                # Structural check of every page before anything reads (or would write) the chain: O(file size).
                problem = db.execute("PRAGMA quick_check(1)").fetchone()[0]
                if problem != "ok":
                    detail = problem.replace("*** in database main ***", "").strip().splitlines()[0]
                    raise corrupt_error(self.path, f"SQLite's check found: {detail[:200]}")
                if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                    raise StoreError(f"{self.path} has an unknown schema version; use the matching subnet-chain "
                                     "release")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            if fresh or not has_tables:
                db.executescript(_SCHEMA)
                db.execute(f"PRAGMA application_id={APPLICATION_ID}")
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.Error as exc:
            raise _sqlite_error(self.path, exc) from None

    @_locked
    def close(self) -> None:
        self._db.close()

    @_locked
    def has_headers(self) -> bool:
        return self._db.execute("SELECT 1 FROM headers LIMIT 1").fetchone() is not None

    # --- reads -------------------------------------------------------------------------------------------

    @_locked
    def genesis_hash(self) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key='genesis_hash'").fetchone()
        return row[0] if row else None

    @_locked
    def load_records(self) -> dict[str, bytes]:
        return {k: bytes(v) for k, v in self._db.execute("SELECT key, value FROM state")}

    @_locked
    def last_header(self) -> Header | None:
        row = self._db.execute("SELECT * FROM headers ORDER BY height DESC LIMIT 1").fetchone()
        return _header(row, self.path) if row else None

    @_locked
    def headers(self, start: int, end: int) -> list[Header]:
        """Headers with start <= height <= end, in order."""
        rows = self._db.execute("SELECT * FROM headers WHERE height BETWEEN ? AND ? ORDER BY height", (start, end))
        return [_header(r, self.path) for r in rows]

    @_locked
    def header_hash(self, height: int) -> str | None:
        row = self._db.execute("SELECT hash FROM headers WHERE height=?", (height,)).fetchone()
        return row[0] if row else None

    @_locked
    def tx(self, tx_hash: str) -> TxRecord | None:
        row = self._db.execute("SELECT * FROM txs WHERE hash=?", (tx_hash,)).fetchone()
        return _tx(row) if row else None

    @_locked
    def txs_in(self, height: int) -> list[TxRecord]:
        return [_tx(r) for r in self._db.execute("SELECT * FROM txs WHERE height=? ORDER BY idx", (height,))]

    # --- writes ------------------------------------------------------------------------------------------

    def init_genesis(self, genesis_hash: str, header: Header, records: dict[str, bytes]) -> None:
        self._write_block(header, [], records, [], genesis_hash=genesis_hash)

    def commit_block(self, header: Header, txs: list[TxRecord], upserts: dict[str, bytes], deletes: list[str]) -> None:
        """Write one block atomically; when this returns, the block is durable."""
        self._write_block(header, txs, upserts, deletes)

    @_locked
    def _write_block(self, header: Header, txs: list[TxRecord], upserts: dict[str, bytes], deletes: list[str],
                     genesis_hash: str | None = None) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            if genesis_hash is not None:
                db.execute("INSERT INTO meta VALUES ('genesis_hash', ?)", (genesis_hash,))
            db.execute("INSERT INTO headers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (header.height, header.hash, header.parent, header.tx_root, header.state_root,
                        header.time_ms, header.minted, header.epoch_paid, header.issuance, header.recycled))
            db.executemany("INSERT INTO txs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           [(t.hash, t.height, t.idx, t.signer, t.body, t.signature, int(t.ok), t.reason, t.message)
                            for t in txs])
            db.executemany("INSERT INTO state VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                           list(upserts.items()))
            db.executemany("DELETE FROM state WHERE key=?", [(k,) for k in deletes])
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:  # SQLite may already have rolled back (e.g. on corruption or a full disk)
                db.execute("ROLLBACK")
            raise


def _header(row: tuple, path: Path) -> Header:
    height, stored_hash, parent, root, state_root, time_ms, minted, epoch_paid, issuance, recycled = row
    header = Header(height, parent, root, state_root, time_ms, minted, epoch_paid, issuance, recycled)
    if header.hash != stored_hash:  # a damaged row that SQLite's structural check cannot see
        raise corrupt_error(path, f"header {height} does not hash to its stored hash")
    return header


def _tx(row: tuple) -> TxRecord:
    tx_hash, height, idx, signer, body, signature, ok, reason, message = row
    return TxRecord(tx_hash, height, idx, signer, bytes(body), bytes(signature), bool(ok), reason, message)
