"""Tiny random-weight Llama models for tests and the local network.

A tiny model has SmolLM2's tokenizer (vocab 49152, same chat template) and a few layers of width 64, so it
loads in well under a second and decodes hundreds of tokens per second on one CPU core. Its weights are a
pure function of a seed, so a miner and a validator that both build ``tiny-<seed>`` hold byte-identical
files with the same SHA-256, while a different seed gives a different model (a "liar" in tests).

The weights are shaped so greedy decoding is not decided by float rounding: the unembedding of each token
is the (signed, permuted) embedding of another, which gives the top logit a wide margin, while attention
and MLP still move it enough that the output depends on the whole context (a corrupted KV cache changes
the tokens and log-probs).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from subnet.models import building_cache_dir, gguf_tokenizer_dir, silence_progress_bars, smollm2_gguf_path

# Bump when the construction below changes, so caches built by older code are not reused.
TINY_BUILD_VERSION = 2


@dataclass(frozen=True)
class TinyModelSettings:
    """Shape of a tiny model; the defaults are what ``--model tiny`` serves."""

    hidden_size: int = 64
    intermediate_size: int = 192
    num_layers: int = 2
    num_heads: int = 4
    num_kv_heads: int = 2
    max_positions: int = 4096
    # How strongly attention and MLP outputs push the residual stream away from the current token's
    # embedding: 0 gives a pure bigram model, 3 near-tied logits. At 1.2 (measured over 800 greedy steps)
    # the context changes the greedy token at ~3% of steps and the top-2 logit gap stays above 0.1%.
    context_mix: float = 1.2
    # The favoured token's logit is about 8 * logit_scale and the others have standard deviation
    # logit_scale: at 3.0, temperature-1 sampling picks the top token with probability ~0.66 on average.
    logit_scale: float = 3.0


def tiny_model_name(seed: int) -> str:
    """The model name a tiny model is served under, e.g. ``tiny-0``."""
    return f"tiny-{seed}"


def build_tiny_model(out_dir: Path, *, seed: int, tokenizer_dir: Path, settings: TinyModelSettings) -> None:
    """Write a tiny Llama model (config, safetensors, tokenizer) into ``out_dir``; deterministic in ``seed``."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    silence_progress_bars()
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir, local_files_only=True)
    vocab = len(tokenizer)
    s = settings
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=s.hidden_size,
        intermediate_size=s.intermediate_size,
        num_hidden_layers=s.num_layers,
        num_attention_heads=s.num_heads,
        num_key_value_heads=s.num_kv_heads,
        head_dim=s.hidden_size // s.num_heads,
        max_position_embeddings=s.max_positions,
        rms_norm_eps=1e-5,
        tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id,
    )
    generator = torch.Generator().manual_seed(seed)

    def normal(shape: tuple[int, ...], std: float) -> torch.Tensor:
        return torch.randn(shape, generator=generator, dtype=torch.float32) * std

    with torch.device("meta"):
        skeleton = LlamaForCausalLM(config)
    params: dict[str, torch.Tensor] = {}
    # Sorted names: the draw order, hence the weights, depend only on the seed and the architecture.
    for name, param in sorted(skeleton.named_parameters()):
        shape = tuple(param.shape)
        if name.endswith("norm.weight"):
            params[name] = torch.ones(shape)
        elif name == "model.embed_tokens.weight":
            # Signs, not Gaussians: every embedding has the same norm, so no token dominates the unembedding.
            params[name] = torch.randint(0, 2, shape, generator=generator).float() * 2 - 1  # [V, H]
        elif name == "lm_head.weight":
            continue  # derived from the embedding below
        elif name.endswith(("o_proj.weight", "down_proj.weight")):
            params[name] = normal(shape, s.context_mix / shape[1] ** 0.5)
        else:
            params[name] = normal(shape, 1.0 / shape[1] ** 0.5)
    # Unembedding row v is the embedding of token perm[v]: the current token's embedding (which dominates
    # the residual stream) has a logit margin of about hidden_size - 4*sqrt(hidden_size) over all others.
    perm = torch.randperm(vocab, generator=generator)
    params["lm_head.weight"] = params["model.embed_tokens.weight"][perm].clone() * (s.logit_scale / s.hidden_size**0.5)
    model = LlamaForCausalLM(config)
    model.load_state_dict(params, strict=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    (out_dir / "tiny_model.json").write_text(
        json.dumps({"seed": seed, "build_version": TINY_BUILD_VERSION, **asdict(settings)}, indent=1)
    )


def ensure_tiny_model(seed: int = 0, *, cache_dir: Path, settings: TinyModelSettings | None = None) -> Path:
    """The folder of tiny model ``seed`` under ``cache_dir``, built on first use (atomically, race-safe).

    The first call on a machine also converts SmolLM2's GGUF tokenizer (about 15 s); later calls return
    at once.
    """
    settings = settings or TinyModelSettings()
    cache_dir = cache_dir.expanduser()
    # Non-default shapes get their own entry, named by a hash of the settings.
    digest = hashlib.sha256(json.dumps(asdict(settings), sort_keys=True).encode()).hexdigest()[:8]
    suffix = "" if settings == TinyModelSettings() else f"-{digest}"
    final = cache_dir / f"tiny-v{TINY_BUILD_VERSION}-seed{seed}{suffix}"
    with building_cache_dir(final) as scratch:
        if scratch is not None:
            tokenizer_dir = gguf_tokenizer_dir(smollm2_gguf_path(), cache_dir=cache_dir)
            build_tiny_model(scratch, seed=seed, tokenizer_dir=tokenizer_dir, settings=settings)
    return final
