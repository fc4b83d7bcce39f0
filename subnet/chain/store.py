"""SQLite persistence of the chain: one transaction per block (WAL, synchronous=FULL).

A block's header, its transactions with their results, and the state records that changed are written in one
SQLite transaction; a submitted transaction is answered only after that commit returns, so an acknowledged
transaction survives any crash. On open, the store refuses a file that is not a chain database, one made from
another genesis, and one whose state does not hash to the last header's state root.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

APPLICATION_ID = 0x53554E54  # "SUNT": marks the file as a subnet chain database
SCHEMA_VERSION = 1
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
    """The data dir holds something this node must not open or overwrite."""


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
    def wrapper(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

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
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            app_id = self._db.execute("PRAGMA application_id").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a chain database ({exc}); use another --data-dir") from None
        has_tables = self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0
        if has_tables and app_id != APPLICATION_ID:
            raise StoreError(f"{self.path} belongs to another program; use another --data-dir")
        if fresh or not has_tables:
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA application_id={APPLICATION_ID}")
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        elif self._db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            raise StoreError(f"{self.path} has an unknown schema version; use the matching subnet-chain release")

    @_locked
    def close(self) -> None:
        self._db.close()

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
        return _header(row) if row else None

    @_locked
    def headers(self, start: int, end: int) -> list[Header]:
        """Headers with start <= height <= end, in order."""
        rows = self._db.execute("SELECT * FROM headers WHERE height BETWEEN ? AND ? ORDER BY height", (start, end))
        return [_header(r) for r in rows]

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
            db.execute("ROLLBACK")
            raise


def _header(row: tuple) -> Header:
    height, _hash, parent, root, state_root, time_ms, minted, epoch_paid, issuance, recycled = row
    return Header(height, parent, root, state_root, time_ms, minted, epoch_paid, issuance, recycled)


def _tx(row: tuple) -> TxRecord:
    tx_hash, height, idx, signer, body, signature, ok, reason, message = row
    return TxRecord(tx_hash, height, idx, signer, bytes(body), bytes(signature), bool(ok), reason, message)
