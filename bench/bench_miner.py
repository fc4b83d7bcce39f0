"""Miner serving throughput with SmolLM2-135M on this machine, as ratios to the single stream.

Run: .venv/bin/python bench/bench_miner.py [--model smollm2-135m] [--dtype auto] [--window-s 15]
Goals: aggregate tokens/s at 8 concurrent streams >= 5x one stream; time to first token at 8 <= 2x one.
For reference it also times transformers' ``generate`` on a padded batch of 1 and of 8 (the issue's yardstick),
and one raw decode step of 1 and of 8 rows (the ceiling any batching scheme has on this machine).

A "stream" is a client sending greedy chat requests back to back (at most 64 new tokens each); clients
start out of phase, as real traffic is, so newcomers join a running batch. Figures are taken over a
steady-state window (ramp-up and drain excluded). The single stream is also compared
with the memory-bandwidth bound: every decode step reads all weights once, so tokens/s <= bandwidth /
weight bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from miners.backend import Completion, GenerationRequest, SamplingParams
from miners.engine import Engine, EngineSettings
from miners.transformers_backend import TransformersBackend
from subnet.models import DEFAULT_CACHE_DIR, ChatMessage

QUESTIONS = [
    "What is the capital of France?",
    "Explain photosynthesis in two sentences.",
    "Write a short poem about autumn leaves.",
    "List three uses of a paperclip.",
    "Why is the sky blue?",
    "Give me a recipe idea with eggs and spinach.",
    "What does a compiler do?",
    "Describe the water cycle briefly.",
]
NEW_TOKENS = 64


@dataclass(frozen=True)
class LoadResult:
    streams: int
    tokens_per_s: float  # generated tokens per second in the steady window
    ttft_s: list[float]  # of the requests submitted in the steady window
    decode_tokens_per_s: float  # per stream, decode steps only (prefill excluded)


def read_bandwidth_gb_s() -> float:
    """Best-of-5 read bandwidth: summing a 256 MiB float32 tensor (far larger than any CPU cache)."""
    data = torch.ones(64 * 2**20, dtype=torch.float32)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        data.sum()
        best = min(best, time.perf_counter() - start)
    return data.numel() * 4 / best / 1e9


def request(i: int) -> GenerationRequest:
    question = QUESTIONS[i % len(QUESTIONS)]
    return GenerationRequest(
        messages=(ChatMessage("user", question),), sampling=SamplingParams(max_new_tokens=NEW_TOKENS)
    )


async def run_load(engine: Engine, streams: int, one_request_s: float, window_s: float) -> LoadResult:
    """``streams`` clients send requests back to back, starting ``one_request_s / streams`` apart so their
    requests are out of phase. Throughput and TTFT are measured over ``window_s`` of steady state, once
    every client has started, so ramp-up and drain do not count."""
    stop = asyncio.Event()
    finished: list[tuple[float, Completion]] = []  # (submitted at, result)

    async def client(k: int) -> None:
        await asyncio.sleep(k * one_request_s / streams)
        i = k
        while not stop.is_set():
            submitted = time.perf_counter()
            finished.append((submitted, await engine.generate(request(i))))
            i += streams

    clients = [asyncio.create_task(client(k)) for k in range(streams)]
    await asyncio.sleep(1.2 * one_request_s)  # ramp-up: every client started, the first ones on a 2nd request
    t0, tokens0 = time.perf_counter(), engine.stats().generated_tokens
    await asyncio.sleep(window_s)
    t1, tokens1 = time.perf_counter(), engine.stats().generated_tokens
    stop.set()
    await asyncio.gather(*clients)
    steady = [d for submitted, d in finished if t0 <= submitted <= t1 and d.ttft_s is not None and d.tokens_per_s]
    # tokens_per_s spans prefill + decode; the prefill part is ttft minus the wait in the queue.
    decode_s = [len(d.token_ids) / d.tokens_per_s - (d.ttft_s - d.queue_wait_s) for d in steady]
    decode_rate = sum(len(d.token_ids) - 1 for d in steady) / max(sum(decode_s), 1e-9)
    return LoadResult(streams, (tokens1 - tokens0) / (t1 - t0), [d.ttft_s for d in steady], decode_rate)


def on_model_thread(backend: TransformersBackend, fn: Callable[[], float]) -> float:
    """``fn()`` on a fresh thread using the backend's torch thread count, as the engine's threads do."""
    result: list[float] = []

    def run() -> None:
        torch.set_num_threads(backend.threads)
        result.append(fn())

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return result[0]


def static_batch_tokens_per_s(backend: TransformersBackend, rows: int) -> float:
    """The reference point of the issue: transformers' ``generate`` on a left-padded batch of ``rows`` chat
    prompts, greedy, exactly NEW_TOKENS each (no early stop, no arrivals), with the backend's thread count."""
    tokenizer = backend.tokenizer
    tokenizer.padding_side = "left"
    texts = [
        tokenizer.apply_chat_template([{"role": "user", "content": q}], tokenize=False, add_generation_prompt=True)
        for q in (QUESTIONS * rows)[:rows]
    ]
    encoded = tokenizer(texts, return_tensors="pt", padding=True)

    def run() -> float:
        with torch.inference_mode():
            start = time.perf_counter()
            backend.model.generate(
                **encoded,
                max_new_tokens=NEW_TOKENS,
                min_new_tokens=NEW_TOKENS,
                do_sample=False,
                pad_token_id=backend.pad_token_id,
            )
            return time.perf_counter() - start

    return rows * NEW_TOKENS / on_model_thread(backend, run)


def decode_step_ms(backend: TransformersBackend, rows: int, steps: int = 20) -> float:
    """Mean time of one raw ``backend.decode`` step for ``rows`` copies of a chat prompt (no engine), on a
    fresh thread with the backend's thread count: what batching costs the model itself."""
    prompt = backend.encode((ChatMessage("user", QUESTIONS[0]),), "")

    def run() -> float:
        batch, logits = backend.prefill([prompt] * rows)
        tokens = logits.argmax(dim=-1).tolist()
        backend.decode(batch, tokens)  # warm-up
        start = time.perf_counter()
        for _ in range(steps):
            backend.decode(batch, tokens)
        return (time.perf_counter() - start) / steps

    return on_model_thread(backend, run) * 1e3


async def main(model: str, dtype: str, window_s: float, cache_dir: Path) -> None:
    bandwidth = read_bandwidth_gb_s()  # first, with torch's default threads, before the backend sets its own
    backend = await asyncio.to_thread(TransformersBackend.load, model, dtype=dtype, cache_dir=cache_dir)
    weight_bytes = sum(p.numel() * p.element_size() for p in backend.model.parameters())
    engine = Engine(backend, EngineSettings(max_batch=8, max_new_tokens=NEW_TOKENS))
    await engine.start()
    try:
        start = time.perf_counter()
        warm = await engine.generate(request(0))  # warm-up: first-call allocations and kernel selection
        one_request_s = (time.perf_counter() - start) * NEW_TOKENS / max(len(warm.token_ids), 1)
        # The single stream runs first and last: the machine's load drifts, and the ratios need a fair base.
        loads = [await run_load(engine, n, one_request_s, window_s) for n in (1, 4, 8, 1)]
    finally:
        await engine.stop()
    stats = engine.stats()
    static = {rows: static_batch_tokens_per_s(backend, rows) for rows in (1, 8)}
    step_ms = {rows: decode_step_ms(backend, rows) for rows in (1, 8)}

    singles = [load for load in loads if load.streams == 1]
    single = LoadResult(
        1,
        statistics.mean(load.tokens_per_s for load in singles),
        [t for load in singles for t in load.ttft_s],
        statistics.mean(load.decode_tokens_per_s for load in singles),
    )
    bound = bandwidth * 1e9 / weight_bytes
    print(
        f"model {backend.identity.name} on {backend.device} in {str(backend.dtype)[6:]}, "
        f"{backend.threads} model threads, {weight_bytes / 2**20:.0f} MiB of weights"
    )
    print(
        f"read bandwidth {bandwidth:.1f} GB/s -> bound {bound:.1f} tokens/s for one stream's decode; measured "
        f"{single.decode_tokens_per_s:.1f} = {single.decode_tokens_per_s / bound:.0%} of the bound "
        f"({single.tokens_per_s:.1f} tokens/s with prefill)"
    )
    base_ttft = statistics.mean(single.ttft_s)
    print(f"{'streams':>7} {'requests':>8} {'tokens/s':>9} {'x single':>9} {'TTFT ms':>8} {'x single':>9}")
    for load in [single, *loads]:  # the pooled single stream, then each run in order
        ttft = statistics.mean(load.ttft_s)
        print(
            f"{load.streams:>7} {len(load.ttft_s):>8} {load.tokens_per_s:>9.1f} "
            f"{load.tokens_per_s / single.tokens_per_s:>8.2f}x {ttft * 1e3:>8.0f} {ttft / base_ttft:>8.2f}x"
        )
    print(
        f"engine: {stats.requests_submitted} requests, {stats.decode_steps} decode steps, "
        f"{stats.generated_tokens} tokens"
    )
    print(
        f"reference, transformers generate on a padded batch ({NEW_TOKENS} tokens each, no early stop): "
        f"1 row {static[1]:.1f} tokens/s, 8 rows {static[8]:.1f} tokens/s = {static[8] / static[1]:.2f}x"
    )
    print(
        f"raw decode step: 1 row {step_ms[1]:.0f} ms, 8 rows {step_ms[8]:.0f} ms, so decoding alone can reach at most "
        f"{8 * step_ms[1] / step_ms[8]:.2f}x one row at 8 streams"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--window-s", type=float, default=15.0, help="steady-state seconds per concurrency level")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    args = parser.parse_args()
    asyncio.run(main(args.model, args.dtype, args.window_s, args.cache_dir))
