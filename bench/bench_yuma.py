"""Time one Yuma epoch against np.sort(W, axis=0) on the same matrix (the floor any column quantile needs).

Run: .venv/bin/python bench/bench_yuma.py   (goal: <= 10x the sort at 256 x 4096)
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np

from consensus.yuma import YumaParams, epoch

SHAPES = [(64, 256), (256, 4096)]
PRESETS = {"classic": YumaParams(yuma3=False), "yuma3": YumaParams(yuma3=True)}


def median_time_s(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"{'shape':>12} {'model':>8} {'epoch ms':>10} {'sort ms':>9} {'ratio':>7}")
    for n_val, n_miners in SHAPES:
        W = rng.random((n_val, n_miners)) * (rng.random((n_val, n_miners)) < 0.8)  # (V, M), 20% empty
        S = rng.pareto(1.5, n_val) + 1.0  # (V,) heavy-tailed stake, like a real subnet
        repeats = 30 if n_val * n_miners < 100_000 else 9
        sort_s = median_time_s(lambda W=W: np.sort(W, axis=0), repeats)
        for name, params in PRESETS.items():
            bonds = epoch(W, S, None, params).bonds  # carry a realistic bond state in
            epoch_s = median_time_s(lambda W=W, S=S, b=bonds, p=params: epoch(W, S, b, p), repeats)
            print(
                f"{n_val:>5} x {n_miners:<5} {name:>8} {epoch_s * 1e3:>10.2f} {sort_s * 1e3:>9.2f}"
                f" {epoch_s / sort_s:>6.1f}x"
            )


if __name__ == "__main__":
    main()
