"""Model resolution, identity, loading errors, the tiny model, sampling and incremental text."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from miners.backend import GenerationRequest, InvalidRequestError, SamplingParams
from miners.decoding import IncrementalText, choose_tokens, validate_request
from miners.engine import Engine, EngineSettings
from miners.transformers_backend import TransformersBackend
from subnet.model_loading import cpu_has_native_bf16, load_model, resolve_device, resolve_dtype
from subnet.models import (
    SMOLLM2_NAME,
    ChatMessage,
    DeviceUnavailableError,
    ModelNotFoundError,
    ModelTooLargeError,
    NotAModelError,
    sha256_file,
    smollm2_gguf_path,
    teacher_forced_logprobs,
    weights_sha256,
)
from subnet.tiny_model import TinyModelSettings, build_tiny_model, ensure_tiny_model


@pytest.fixture(scope="module")
def tiny(model_cache_dir: Path) -> TransformersBackend:
    return TransformersBackend.load("tiny", device="cpu", dtype="float32", cache_dir=model_cache_dir)


def ask(question: str, **sampling: object) -> GenerationRequest:
    return GenerationRequest(messages=(ChatMessage("user", question),), sampling=SamplingParams(**sampling))


@pytest.mark.slow
async def test_smollm2_knows_the_capital_of_france_and_its_logprobs_verify(model_cache_dir: Path) -> None:
    backend = TransformersBackend.load("smollm2-135m", device="cpu", dtype="float32", cache_dir=model_cache_dir)
    assert backend.identity.name == SMOLLM2_NAME
    assert backend.identity.weights_sha256 == sha256_file(smollm2_gguf_path())
    engine = Engine(backend, EngineSettings(max_batch=2))
    await engine.start()
    try:
        done = await engine.generate(ask("What is the capital of France?", max_new_tokens=12))
    finally:
        await engine.stop()
    assert "Paris" in done.text
    checked = teacher_forced_logprobs(backend.model, done.prompt_token_ids, done.token_ids)
    assert checked.argmax_ids == done.token_ids
    assert max(abs(a - b) for a, b in zip(checked.logprobs, done.logprobs, strict=True)) < 1e-3


async def test_reported_logprobs_equal_teacher_forcing(tiny: TransformersBackend) -> None:
    engine = Engine(tiny, EngineSettings(max_batch=4))
    await engine.start()
    try:
        greedy = await engine.generate(ask("Name three colours.", max_new_tokens=40))
        sampled = await engine.generate(
            ask("Name three colours.", max_new_tokens=40, temperature=1.3, top_p=0.9, seed=7)
        )
    finally:
        await engine.stop()
    for done in (greedy, sampled):
        checked = teacher_forced_logprobs(tiny.model, done.prompt_token_ids, done.token_ids)
        assert max(abs(a - b) for a, b in zip(checked.logprobs, done.logprobs, strict=True)) < 1e-4
    assert teacher_forced_logprobs(tiny.model, greedy.prompt_token_ids, greedy.token_ids).argmax_ids == greedy.token_ids
    # Sampling really sampled: some chosen token was not the argmax (so the check above is not vacuous).
    assert (
        teacher_forced_logprobs(tiny.model, sampled.prompt_token_ids, sampled.token_ids).argmax_ids != sampled.token_ids
    )


def test_missing_path_and_non_models_raise_named_errors(tmp_path: Path, model_cache_dir: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="no model at"):
        load_model(str(tmp_path / "nowhere"), cache_dir=model_cache_dir)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(NotAModelError, match=r"not a \.gguf"):
        load_model(str(text), cache_dir=model_cache_dir)
    fake_gguf = tmp_path / "fake.gguf"
    fake_gguf.write_bytes(b"definitely not a gguf file" * 100)
    with pytest.raises(NotAModelError, match=r"fake\.gguf"):
        load_model(str(fake_gguf), cache_dir=tmp_path / "cache")
    assert not list((tmp_path / "cache").iterdir()), "a failed conversion must not leave a cache entry"
    with pytest.raises(NotAModelError, match="not a Hugging Face model folder"):
        load_model(str(tmp_path), cache_dir=model_cache_dir)


def test_a_model_larger_than_memory_is_refused_before_loading(tiny_model_dir: Path, model_cache_dir: Path) -> None:
    with pytest.raises(ModelTooLargeError, match="MiB"):
        load_model(str(tiny_model_dir), device="cpu", cache_dir=model_cache_dir, memory_budget_bytes=1 << 20)


def test_device_and_dtype_resolution() -> None:
    cpu = torch.device("cpu")
    assert resolve_dtype("auto", cpu) == (torch.bfloat16 if cpu_has_native_bf16() else torch.float32)
    assert resolve_dtype("bfloat16", cpu) == torch.bfloat16
    with pytest.raises(ValueError, match="unknown dtype"):
        resolve_dtype("int3", cpu)
    assert resolve_device("cpu") == cpu
    if torch.cuda.is_available():
        assert resolve_device("auto").type == "cuda"
    else:
        assert resolve_device("auto") == cpu
        with pytest.raises(DeviceUnavailableError, match="--device cpu"):
            resolve_device("cuda")


def test_cpu_flag_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUBNET_CPU_BF16", raising=False)
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16\n")
    assert cpu_has_native_bf16(cpuinfo)
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 fma\n")
    assert not cpu_has_native_bf16(cpuinfo)
    # The override used to run the suite down the native-bf16 path on any CPU.
    monkeypatch.setenv("SUBNET_CPU_BF16", "native")
    assert cpu_has_native_bf16(cpuinfo) and resolve_dtype("auto", torch.device("cpu")) == torch.bfloat16
    monkeypatch.setenv("SUBNET_CPU_BF16", "emulated")
    assert not cpu_has_native_bf16(tmp_path / "missing") and resolve_dtype("auto", torch.device("cpu")) == torch.float32


def test_tiny_models_are_deterministic_per_seed(tmp_path: Path, tiny_model_dir: Path, model_cache_dir: Path) -> None:
    tokenizer_dir = tiny_model_dir  # the tiny folder holds SmolLM2's tokenizer
    small = TinyModelSettings(num_layers=1)
    again_a, again_b, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for folder, seed in ((again_a, 3), (again_b, 3), (other, 4)):
        folder.mkdir()
        build_tiny_model(folder, seed=seed, tokenizer_dir=tokenizer_dir, settings=small)
    assert weights_sha256(again_a) == weights_sha256(again_b)
    assert weights_sha256(again_a) != weights_sha256(other)
    assert ensure_tiny_model(0, cache_dir=model_cache_dir) == tiny_model_dir  # cached: same folder, no rebuild


def test_tiny_greedy_argmax_has_a_wide_margin(tiny: TransformersBackend) -> None:
    """Batched == unbatched greedy relies on this: float noise (~1e-6 relative) cannot flip the argmax."""
    batch, logits = tiny.prefill([tiny.encode((ChatMessage("user", "hi there"),), "")])
    for _ in range(30):
        top = torch.topk(logits[0], 2).values
        assert (top[0] - top[1]) / top[0].abs() > 1e-4
        logits = tiny.decode(batch, [int(torch.argmax(logits[0]))])


def test_batch_rows_compute_what_each_sequence_computes_alone(tiny: TransformersBackend) -> None:
    """Prefill (shared-prefix and raw rows mixed), decode, drop a row, join a newcomer: every row's logits
    equal a plain forward pass over that row's own tokens."""
    chat = [tiny.encode((ChatMessage("user", q),), "") for q in ("Hi", "What is the capital of France?")]
    raw = tiny.encode((), "Once upon a time there was")
    assert tiny.shared_prefix and all(tuple(p[: len(tiny.shared_prefix)]) == tiny.shared_prefix for p in chat)

    def step(batch: object, seqs: list[list[int]], logits: torch.Tensor, check: bool = True) -> torch.Tensor:
        for seq, row in zip(seqs, logits, strict=True):
            if check:
                with torch.inference_mode():
                    alone = tiny.model(input_ids=torch.tensor([seq]), logits_to_keep=1).logits[0, -1]
                assert torch.allclose(row, alone, atol=1e-4)
        tokens = logits.argmax(dim=-1).tolist()
        for seq, token in zip(seqs, tokens, strict=True):
            seq.append(token)
        return tiny.decode(batch, tokens)

    seqs = [list(chat[0]), list(raw), list(chat[1])]
    batch, logits = tiny.prefill(seqs)
    for _ in range(3):
        logits = step(batch, seqs, logits)
    batch, seqs, logits = batch.keep([2, 0]), [seqs[2], seqs[0]], logits[[2, 0]]
    logits = step(batch, seqs, logits)
    newcomer, newcomer_logits = tiny.prefill([raw[:3]])
    batch, seqs = batch.join(newcomer), [*seqs, list(raw[:3])]
    logits = torch.cat([logits, newcomer_logits])
    for i in range(70):  # past the cache buffers' first capacity, so they grow
        logits = step(batch, seqs, logits, check=i % 10 == 0)
    step(batch, seqs, logits)
    assert batch.size == 3


@pytest.mark.parametrize(
    ("sampling", "match"),
    [
        (SamplingParams(temperature=-0.5), "temperature"),
        (SamplingParams(temperature=math.nan), "temperature"),
        (SamplingParams(top_p=0.0), "top_p"),
        (SamplingParams(top_p=1.5), "top_p"),
        (SamplingParams(max_new_tokens=0), "max_new_tokens"),
        (SamplingParams(max_new_tokens=10_000), "max_new_tokens"),
        (SamplingParams(seed=-1), "seed"),
    ],
)
def test_bad_sampling_parameters_are_named(sampling: SamplingParams, match: str) -> None:
    with pytest.raises(InvalidRequestError, match=match):
        validate_request(sampling, [1, 2, 3], max_prompt_tokens=100, max_new_tokens=256, max_positions=4096)


def test_prompt_limits_are_enforced() -> None:
    limits = {"max_prompt_tokens": 4, "max_new_tokens": 64, "max_positions": 16}
    with pytest.raises(InvalidRequestError, match="empty"):
        validate_request(SamplingParams(), [], **limits)
    with pytest.raises(InvalidRequestError, match="limit of 4"):
        validate_request(SamplingParams(), [1] * 5, **limits)
    with pytest.raises(InvalidRequestError, match="context of 16"):
        validate_request(SamplingParams(max_new_tokens=13), [1] * 4, **limits)
    validate_request(SamplingParams(max_new_tokens=12), [1] * 4, **limits)


def test_sampling_choice_follows_seed_temperature_and_top_p() -> None:
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]] * 2))
    greedy = SamplingParams(temperature=0)
    assert choose_tokens(logits[:1], [greedy], [5], [0])[0][0] == 0
    hot = SamplingParams(temperature=1.0, seed=5)

    def draws(seed: int, params: SamplingParams) -> list[int]:
        """The choices at positions 0..199 of one request: the noise is fresh at every position."""
        return [choose_tokens(logits[:1], [params], [seed], [i])[0][0] for i in range(200)]

    assert draws(5, hot) == draws(5, hot)
    assert draws(5, hot) != draws(6, hot)
    counts = [draws(5, hot).count(t) for t in range(4)]
    assert counts[0] > counts[1] > counts[2] > 0  # follows the distribution
    assert set(draws(5, SamplingParams(temperature=1.0, top_p=0.6))) == {0, 1}  # 0.5 < 0.6 <= 0.8
    token, logprob = choose_tokens(logits[:1], [SamplingParams(temperature=5.0, top_p=0.1)], [1], [0])[0]
    assert token == 0 and logprob == pytest.approx(math.log(0.5), abs=1e-6)  # raw logits, not tempered
    # Rows of one batch are independent: each row's choice is what it gets alone.
    batch = choose_tokens(logits, [hot, hot], [5, 6], [3, 3])
    assert [t for t, _ in batch] == [choose_tokens(logits[:1], [hot], [s], [3])[0][0] for s in (5, 6)]


def test_incremental_text_never_splits_a_character(tiny: TransformersBackend) -> None:
    text = "Café ☕ naïve 東京 🎉🎉 done"
    ids = tiny.tokenizer(text, add_special_tokens=False)["input_ids"]
    stream = IncrementalText(tiny.detokenize)
    deltas = [stream.push(token, last=i == len(ids) - 1) for i, token in enumerate(ids)]
    assert "".join(deltas) == tiny.detokenize(ids) == text
    assert all("\ufffd" not in d for d in deltas)
    assert "" in deltas[:-1], "the text should contain a character spread over several tokens"


def test_every_thread_that_runs_the_model_uses_the_backends_thread_count(model_cache_dir: Path) -> None:
    import threading

    loaded = load_model("tiny", device="cpu", dtype="float32", cache_dir=model_cache_dir)
    with pytest.raises(ValueError, match="threads must be >= 1"):
        TransformersBackend(loaded, threads=0)
    backend = TransformersBackend(loaded, threads=3)
    seen: list[int] = []

    def worker() -> None:
        torch.set_num_threads(1)  # whatever the thread had before, the model call applies the backend's count
        backend.prefill([backend.encode((ChatMessage("user", "hi"),), "")])
        seen.append(torch.get_num_threads())

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [3]
