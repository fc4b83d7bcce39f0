"""``Overlay``: a mapping that records writes in its own layer over a parent mapping it never changes.

The chain applies a block to overlays over its state's large maps (accounts, stake, hotkey owners), and each
transaction to overlays over the block's, so that starting a block or a transaction costs nothing whatever the
number of accounts, a refused or failed transaction is dropped with its layer, and the block's changes are known
exactly (``changes``) for storage and the incremental state root. ``fold`` writes the layer into the parent.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

_GONE: Any = object()  # marks a key deleted in this layer


class Overlay(MutableMapping):
    __slots__ = ("changes", "parent")

    def __init__(self, parent: MutableMapping) -> None:
        self.parent = parent
        self.changes: dict = {}  # key -> new value, or _GONE

    def __getitem__(self, key):
        try:
            value = self.changes[key]
        except KeyError:
            return self.parent[key]
        if value is _GONE:
            raise KeyError(key)
        return value

    def __setitem__(self, key, value) -> None:
        self.changes[key] = value

    def __delitem__(self, key) -> None:
        if key not in self:
            raise KeyError(key)
        self.changes[key] = _GONE

    def __iter__(self) -> Iterator:
        changes = self.changes
        for key in self.parent:
            if key not in changes:
                yield key
        for key, value in changes.items():
            if value is not _GONE:
                yield key

    def __len__(self) -> int:  # O(size): only for checks and tests
        return sum(1 for _ in self)

    def changed(self) -> Iterator[tuple[Any, Any, bool]]:
        """(key, new value, present) for every key written in this layer."""
        for key, value in self.changes.items():
            yield key, (None if value is _GONE else value), value is not _GONE

    def fold(self) -> None:
        """Write this layer into the parent and empty it."""
        parent = self.parent
        for key, value in self.changes.items():
            if value is _GONE:
                parent.pop(key, None)
            else:
                parent[key] = value
        self.changes = {}
