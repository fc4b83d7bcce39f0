"""The KV cache of a continuously batched set of sequences, on top of transformers' ``Cache`` API.

Rows are left-padded to a common cache length. Each row carries its own attention mask (0 over padding)
and its own position counter, so a sequence computes what it would alone: its keys sit at different
cache indices but get the same rotary positions, and padding is never attended to.

``GrowingLayer`` keeps keys/values in buffers with spare capacity: appending a decoded token writes one
column in place instead of copying the whole cache (what ``DynamicLayer``'s ``torch.cat`` does every step,
~14% of a batch-8 decode step of SmolLM2 on CPU).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers import DynamicCache
from transformers.cache_utils import Cache, DynamicLayer


def _left_pad(x: torch.Tensor, length: int, dim: int) -> torch.Tensor:
    """``x`` zero-padded at the start of ``dim`` up to ``length``."""
    missing = length - x.shape[dim]
    if missing == 0:
        return x
    shape = list(x.shape)
    shape[dim] = missing
    return torch.cat([x.new_zeros(shape), x], dim=dim)


class GrowingLayer(DynamicLayer):
    """A ``DynamicLayer`` whose ``keys``/``values`` are views [B, kv_heads, T, head_dim] of larger buffers."""

    def __init__(self, **kwargs: object) -> None:
        self._key_buffer: torch.Tensor | None = None  # [B, kv_heads, capacity, head_dim]
        self._value_buffer: torch.Tensor | None = None
        # Separate lengths: callers (``join``, transformers' ``batch_select_indices``) set keys, then read the
        # old values to compute the new ones.
        self._key_length = self._value_length = 0
        super().__init__(**kwargs)

    @staticmethod
    def _capacity(length: int) -> int:
        return length + max(64, length // 2)  # geometric growth: appends cost O(1) amortised

    def _fresh(self, value: torch.Tensor | None) -> torch.Tensor | None:
        """A new buffer holding ``value`` (a fresh one: the old buffer may still back a caller's view)."""
        if value is None:
            return None
        buffer = value.new_empty((*value.shape[:2], self._capacity(value.shape[2]), value.shape[3]))
        buffer[:, :, : value.shape[2]] = value
        return buffer

    @property
    def keys(self) -> torch.Tensor | None:
        return None if self._key_buffer is None else self._key_buffer[:, :, : self._key_length]

    @keys.setter
    def keys(self, value: torch.Tensor | None) -> None:
        self._key_buffer = self._fresh(value)
        self._key_length = 0 if value is None else value.shape[2]

    @property
    def values(self) -> torch.Tensor | None:
        return None if self._value_buffer is None else self._value_buffer[:, :, : self._value_length]

    @values.setter
    def values(self, value: torch.Tensor | None) -> None:
        self._value_buffer = self._fresh(value)
        self._value_length = 0 if value is None else value.shape[2]

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        self.dtype, self.device = key_states.dtype, key_states.device
        self.keys, self.values = key_states[:, :, :0], value_states[:, :, :0]
        self.is_initialized = True

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: object, **kwargs: object
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        assert self._key_buffer is not None and self._value_buffer is not None
        start = self._key_length
        end = start + key_states.shape[2]
        if end > self._key_buffer.shape[2]:
            shape = (*key_states.shape[:2], self._capacity(end), key_states.shape[3])
            keys, values = self._key_buffer.new_empty(shape), self._value_buffer.new_empty(shape)
            keys[:, :, :start], values[:, :, :start] = self.keys, self.values
            self._key_buffer, self._value_buffer = keys, values
        self._key_buffer[:, :, start:end] = key_states
        self._value_buffer[:, :, start:end] = value_states
        self._key_length = self._value_length = end
        return self.keys, self.values


class GrowingCache(DynamicCache):
    """A ``DynamicCache`` made of ``GrowingLayer``s, optionally starting from given keys/values per layer."""

    def __init__(self, layers_kv: Sequence[tuple[torch.Tensor, torch.Tensor]] = ()) -> None:
        Cache.__init__(self, layer_class_to_replicate=GrowingLayer)
        for keys, values in layers_kv:
            layer = GrowingLayer()
            layer.update(keys, values)
            self.layers.append(layer)


class HFKVBatch:
    """KV cache, attention mask and next positions of a batch of sequences (see the module docstring).

    ``join`` and ``keep`` consume their inputs: use only the returned batch afterwards.
    """

    def __init__(self, cache: GrowingCache, mask: torch.Tensor, next_pos: torch.Tensor) -> None:
        self.cache = cache  # per layer: keys/values [B, kv_heads, T, head_dim]
        self.mask = mask  # [B, T] long, 1 = a real token, 0 = padding
        self.next_pos = next_pos  # [B] long, the rotary position of each row's next token

    @property
    def size(self) -> int:
        return int(self.mask.shape[0])

    @torch.inference_mode()
    def join(self, other: HFKVBatch) -> HFKVBatch:
        length = max(self.mask.shape[1], other.mask.shape[1])
        for mine, theirs in zip(self.cache.layers, other.cache.layers, strict=True):
            mine.keys = torch.cat([_left_pad(mine.keys, length, 2), _left_pad(theirs.keys, length, 2)], dim=0)
            mine.values = torch.cat([_left_pad(mine.values, length, 2), _left_pad(theirs.values, length, 2)], dim=0)
        self.mask = torch.cat([_left_pad(self.mask, length, 1), _left_pad(other.mask, length, 1)], dim=0)
        self.next_pos = torch.cat([self.next_pos, other.next_pos])
        return self

    @torch.inference_mode()
    def keep(self, rows: Sequence[int]) -> HFKVBatch:
        index = torch.tensor(list(rows), dtype=torch.long, device=self.mask.device)
        mask = self.mask.index_select(0, index)  # [B', T]
        # Columns that are padding in every remaining row are dead weight: drop them from the left.
        used = mask.any(dim=0).nonzero()
        start = int(used[0, 0]) if len(used) else mask.shape[1]
        for layer in self.cache.layers:
            layer.keys = layer.keys.index_select(0, index)[:, :, start:]
            layer.values = layer.values.index_select(0, index)[:, :, start:]
        self.mask = mask[:, start:]
        self.next_pos = self.next_pos.index_select(0, index)
        return self
