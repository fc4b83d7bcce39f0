"""A development subnet for tests: keys, a genesis file, and a running ``subnet-chain`` process."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from consensus.units import UNITS_PER_TOKEN
from subnet.chain.genesis import Genesis
from subnet.chain.params import Hyperparameters
from subnet.keys import Keypair
from tests.proc import Proc, command

TOKEN = UNITS_PER_TOKEN


@dataclass
class DevKeys:
    owner_cold: Keypair = field(default_factory=Keypair.generate)
    owner_hot: Keypair = field(default_factory=Keypair.generate)
    colds: list[Keypair] = field(default_factory=lambda: [Keypair.generate() for _ in range(8)])

    def genesis(self, hyper: Hyperparameters, balance_tokens: int = 10_000) -> Genesis:
        accounts = tuple(sorted((k.ss58_address, balance_tokens * TOKEN) for k in [self.owner_cold, *self.colds]))
        return Genesis(self.owner_cold.ss58_address, self.owner_hot.ss58_address, hyper, accounts)


def start_chain(data_dir: Path, genesis: Genesis | None, *, block_time_s: float = 0.25, port: int = 0,
                extra: list[str] | None = None) -> Proc:
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [command("subnet-chain"), "--data-dir", str(data_dir), "--port", str(port),
            "--block-time-s", str(block_time_s), *(extra or [])]
    if genesis is not None:
        path = data_dir.parent / f"{data_dir.name}-genesis.toml"
        path.write_text(genesis.to_toml())
        argv += ["--genesis", str(path)]
    proc = Proc(argv, log_path=data_dir.parent / f"{data_dir.name}.log")
    proc.wait_ready(30)
    return proc
