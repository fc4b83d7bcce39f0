"""The validator's settings: one frozen dataclass, every field with a default and its unit."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ValidatorSettings:
    chain_endpoint: str = "127.0.0.1:9944"
    chain_node_address: str | None = None  # pin the chain node key (see ChainClient)
    chain_tls_ca: Path | None = None
    wallet_name: str = "default"
    wallet_hotkey: str = "default"
    wallet_path: Path | None = None
    state_dir: Path = Path("~/.subnet/validator")
    # The admitted models this validator holds, to inspect, verify and so pay their miners' answers (model specs,
    # see subnet.model_loading). Empty: exact challenges only, and no miner can be verified, so none is paid.
    reference_models: tuple[str, ...] = ("smollm2-135m",)
    device: str = "auto"
    sample_size: int = 0  # miners queried per step; 0 = every serving miner
    timeout_s: float = 30.0  # deadline of one query
    step_interval_s: float = 10.0  # time between the starts of two steps
    weights_check_interval_s: float = 2.0  # how often to check whether weights are due
    n_exact: int = 2  # exact challenges per step
    n_open: int = 1  # open challenges per step (they need the reference model)
    open_temperature: float = 0.7  # sampling temperature of open challenges (> 0: answers bound to the miner's key)
    probes_per_step: int = 2  # unscored cross-probes that expose relays (see validators.copying)
    verify_fraction: float = 0.8  # share of answers, greedy and sampled, re-checked by teacher forcing (same model)
    lie_penalty_steps: int = 20  # steps a miner caught lying scores 0
    max_concurrent_queries: int = 256  # calls in flight at once (all miners x all challenges fit, below ~256)
    seed: int | None = None  # base seed of the challenges; None = fresh randomness (a seed makes steps replayable)
    version_key: int = 1
    ema_alpha: float = 0.2
