"""The transformers backend: any causal LM that transformers loads, batched through ``miners.kv_cache``.

Prefill reuses a cached shared prefix: every single-turn chat prompt starts with the chat template's
preamble (for SmolLM2 its system prompt), whose KV is computed once at load and copied into each new row.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import torch

from miners.kv_cache import GrowingCache, HFKVBatch
from subnet.model_loading import LoadedModel, end_token_ids, load_model
from subnet.models import DEFAULT_CACHE_DIR, ChatMessage, encode_prompt


def default_cpu_threads() -> int:
    """Intra-op threads for the model on CPU: every core but one, which stays free for the event loop, gRPC and
    tokenization. With all cores, the model's idle OpenMP threads spin while the serving side needs a core;
    on this 2-core machine one model thread served 8 streams at 40 tokens/s against 31 with two (bench_miner.py,
    measured before the engine had its prefill thread)."""
    return max(1, torch.get_num_threads() - 1)


class TransformersBackend:
    """A ``miners.backend.Backend`` over a transformers causal LM (GPU when present, CPU otherwise).

    ``threads`` is the number of torch intra-op threads the model uses on CPU (default ``default_cpu_threads``).
    """

    def __init__(self, loaded: LoadedModel, *, threads: int | None = None) -> None:
        self.loaded = loaded
        self.model = loaded.model
        self.tokenizer = loaded.tokenizer
        self.identity = loaded.identity
        self.device = loaded.device
        self.dtype = loaded.dtype
        self.eos_token_ids = end_token_ids(loaded)
        self.max_positions = int(getattr(self.model.config, "max_position_embeddings", 2048))
        # Any in-vocabulary id works for padding: padded positions are masked out.
        pad = self.tokenizer.pad_token_id
        self.pad_token_id = int(pad if pad is not None else min(self.eos_token_ids, default=0))
        # encode runs on the event loop, detokenize on the worker: a fast tokenizer may mutate its Rust-side
        # settings while encoding, and raises "Already borrowed" if another thread uses it at that moment.
        self._tokenizer_lock = threading.Lock()
        # torch.set_num_threads does not reach threads that already exist (here the main thread kept 2 after a
        # worker set 1), so every thread that runs the model sets it once; on CUDA torch's default is kept.
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self.threads = threads or (default_cpu_threads() if self.device.type == "cpu" else torch.get_num_threads())
        self._thread_state = threading.local()
        # Chat prompts share the template's preamble (SmolLM2: 23 of a short question's ~37 tokens); its KV
        # is computed once here and reused by every prefill, which cuts prefill work and TTFT by more than half.
        self.shared_prefix = self._chat_preamble()
        self._prefix_kv = self._prefix_cache()

    @classmethod
    def load(
        cls,
        spec: str,
        *,
        device: str = "auto",
        dtype: str = "auto",
        cache_dir: Path = DEFAULT_CACHE_DIR,
        memory_budget_bytes: int | None = None,
        threads: int | None = None,
    ) -> TransformersBackend:
        """Load ``spec`` (see ``subnet.model_loading``); slow, so call it off the event loop."""
        return cls(
            load_model(spec, device=device, dtype=dtype, cache_dir=cache_dir, memory_budget_bytes=memory_budget_bytes),
            threads=threads,
        )

    def encode(self, messages: Sequence[ChatMessage], prompt: str) -> list[int]:
        with self._tokenizer_lock:
            return encode_prompt(self.tokenizer, messages, prompt)

    def detokenize(self, token_ids: Sequence[int]) -> str:
        with self._tokenizer_lock:
            return self.tokenizer.decode(list(token_ids), skip_special_tokens=True)

    def _configure_thread(self) -> None:
        if not getattr(self._thread_state, "configured", False):
            torch.set_num_threads(self.threads)
            self._thread_state.configured = True

    @torch.inference_mode()
    def prefill(self, prompts: Sequence[Sequence[int]]) -> tuple[HFKVBatch, torch.Tensor]:
        self._configure_thread()
        prefix, n_prefix = self.shared_prefix, len(self.shared_prefix)
        reuse = [i for i, p in enumerate(prompts) if n_prefix and len(p) > n_prefix and tuple(p[:n_prefix]) == prefix]
        fresh = [i for i in range(len(prompts)) if i not in set(reuse)]
        parts = []
        if reuse:
            parts.append(self._prefill_rows([prompts[i][n_prefix:] for i in reuse], with_prefix=True))
        if fresh:
            parts.append(self._prefill_rows([prompts[i] for i in fresh], with_prefix=False))
        batch, logits = parts[0]
        if len(parts) == 2:
            batch = batch.join(parts[1][0])
            logits = torch.cat([logits, parts[1][1]])
            # Rows are now [reuse..., fresh...]; put them back in the caller's order.
            order = [(reuse + fresh).index(i) for i in range(len(prompts))]
            batch, logits = batch.keep(order), logits[order]
        return batch, logits

    def _prefill_rows(self, prompts: Sequence[Sequence[int]], *, with_prefix: bool) -> tuple[HFKVBatch, torch.Tensor]:
        """Prefill left-padded ``prompts``, after the cached shared prefix when ``with_prefix``."""
        rows, length = len(prompts), max(len(p) for p in prompts)
        ids = torch.full((rows, length), self.pad_token_id, dtype=torch.long)  # [n, L]
        mask = torch.zeros((rows, length), dtype=torch.long)  # [n, L]
        for row, prompt in enumerate(prompts):
            ids[row, length - len(prompt) :] = torch.tensor(list(prompt), dtype=torch.long)
            mask[row, length - len(prompt) :] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        positions = (mask.cumsum(dim=1) - 1).clamp(min=0)  # [n, L]: 0.. over real tokens
        cache = GrowingCache()
        if with_prefix:
            # Cache layout per row: [shared prefix (P)] [padding] [prompt suffix]; the mask hides the padding.
            cache = GrowingCache([(k.expand(rows, -1, -1, -1), v.expand(rows, -1, -1, -1)) for k, v in self._prefix_kv])
            n_prefix = len(self.shared_prefix)
            positions = positions + n_prefix
            mask = torch.cat([mask.new_ones((rows, n_prefix)), mask], dim=1)  # [n, P+L]
        out = self.model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        return HFKVBatch(cache, mask, mask.sum(dim=1)), out.logits[:, -1].float().cpu()  # logits [n, V]

    def _chat_preamble(self) -> tuple[int, ...]:
        """Token ids every single-turn chat prompt starts with (the template's fixed system preamble), or ()."""
        if not getattr(self.tokenizer, "chat_template", None):
            return ()
        try:
            a, b = (self.encode((ChatMessage("user", text),), "") for text in ("apple", "zebra"))
        except Exception:  # a template that rejects this conversation shape: no shared prefix, no harm
            return ()
        common = 0
        while common < min(len(a), len(b)) and a[common] == b[common]:
            common += 1
        # Keep one token back: a real prompt's first content token may merge with the preamble's last one.
        return tuple(a[: max(common - 1, 0)])

    @torch.inference_mode()
    def _prefix_cache(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per layer, keys and values [1, kv_heads, P, head_dim] of the shared prefix (empty if none)."""
        if not self.shared_prefix:
            return []
        self._configure_thread()
        cache = GrowingCache()
        ids = torch.tensor([self.shared_prefix], dtype=torch.long, device=self.device)  # [1, P]
        self.model(input_ids=ids, past_key_values=cache, use_cache=True, logits_to_keep=1)
        return [(layer.keys, layer.values) for layer in cache.layers]

    @torch.inference_mode()
    def decode(self, batch: HFKVBatch, token_ids: Sequence[int]) -> torch.Tensor:
        self._configure_thread()
        ids = torch.tensor(list(token_ids), dtype=torch.long, device=self.device)[:, None]  # [B, 1]
        batch.mask = torch.cat([batch.mask, batch.mask.new_ones((batch.size, 1))], dim=1)  # [B, T+1]
        out = self.model(
            input_ids=ids,
            attention_mask=batch.mask,
            position_ids=batch.next_pos[:, None],
            past_key_values=batch.cache,
            use_cache=True,
        )
        batch.next_pos = batch.next_pos + 1
        return out.logits[:, -1].float().cpu()  # [B, V]

