"""A real subnet of processes for the scenarios: one chain, wallets, miners and validators, all stopped by PID.

Every process is a ``tests.proc.Proc`` (its own session, output copied to ``<root>/<name>.log``). ``Network`` keeps
them all, so ``stop_all`` (called in ``finally``) stops each one it started, whatever failed, hung processes
(SIGSTOP, used as a real "hang") are resumed first so they can exit cleanly.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from subnet.chain.client import ChainClient
from subnet.chain.genesis import Genesis
from subnet.chain.params import Hyperparameters
from subnet.keys import Keypair
from subnet.metagraph import Metagraph
from subnet.wallet import Wallet
from tests.chain_fixtures import TOKEN, start_chain
from tests.proc import Proc, command, free_port

ROOT = Path(__file__).resolve().parents[2]


class Network:
    def __init__(self, root: Path, hyper: Hyperparameters, *, block_time_s: float, names: list[str]) -> None:
        self.root = root
        self.hyper = hyper
        self.block_time_s = block_time_s
        self.wallets = root / "wallets"
        self.owner_cold, self.owner_hot = Keypair.generate(), Keypair.generate()
        self.cold = {name: Keypair.generate() for name in names}  # one coldkey per neuron: no shared balance
        self.hot = {name: Wallet(name=name, hotkey="default", root=self.wallets).create_hotkey()[0] for name in names}
        self.genesis = Genesis(self.owner_cold.ss58_address, self.owner_hot.ss58_address, hyper, tuple(sorted(
            (k.ss58_address, 10_000 * TOKEN) for k in [self.owner_cold, *self.cold.values()])))
        self.port = free_port()
        self.chain_dir = root / "chain"
        self.chain: Proc | None = None
        self.procs: dict[str, Proc] = {}
        self.stopped: set[str] = set()  # names under SIGSTOP
        self.endpoint = f"127.0.0.1:{self.port}"

    # --- chain ----------------------------------------------------------------------------------------

    def start_chain(self) -> None:
        self.chain = start_chain(self.chain_dir, self.genesis, block_time_s=self.block_time_s, port=self.port)

    def kill_chain(self) -> None:
        assert self.chain is not None
        self.chain.kill()

    def restart_chain(self) -> None:
        self.chain = start_chain(self.chain_dir, None, block_time_s=self.block_time_s, port=self.port)

    def client(self, **kw: float) -> ChainClient:
        return ChainClient(self.endpoint, **kw)

    async def register(self, names: list[str], stake_tokens: dict[str, int]) -> None:
        """Register every name (concurrently) and add the given stakes."""
        async with self.client(timeout_s=30) as c:
            await asyncio.gather(*(c.register(self.cold[n], self.hot[n]) for n in names))
            await asyncio.gather(*(c.add_stake(self.cold[n], self.hot[n].ss58_address, t * TOKEN)
                                   for n, t in stake_tokens.items()))

    async def uids(self, names: list[str]) -> dict[str, int]:
        async with self.client() as c:
            graph = await Metagraph.sync(c)
        return {n: graph.uid_of(self.hot[n].ss58_address) for n in names}

    async def wait_permits(self, names: list[str], timeout_s: float) -> None:
        """Wait for the epoch that gives the staked validators their permits (miners serve only them)."""
        async with self.client() as c:
            deadline = asyncio.get_running_loop().time() + timeout_s
            while asyncio.get_running_loop().time() < deadline:
                graph = await Metagraph.sync(c)
                if all(graph.validator_permit[graph.uid_of(self.hot[n].ss58_address)] for n in names):
                    return
                await asyncio.sleep(self.block_time_s)
        raise TimeoutError(f"validators {names} got no permit within {timeout_s:.0f}s")

    # --- miners and validators ------------------------------------------------------------------------

    def _wallet_flags(self, name: str) -> list[str]:
        return ["--wallet.name", name, "--wallet.path", str(self.wallets), "--chain.endpoint", self.endpoint]

    def start_miner(self, name: str, flags: list[str], behaviour: str | None = None) -> Proc:
        """``subnet-miner`` (or ``tests.misbehaving_miner BEHAVIOUR``) for ``name``; not waited for."""
        args = [*self._wallet_flags(name), "--axon.port", "0", *flags]
        argv = [command("subnet-miner"), *args] if behaviour is None else \
            [sys.executable, "-m", "tests.misbehaving_miner", behaviour, *args]
        self.procs[name] = Proc(argv, log_path=self.root / f"{name}.log", cwd=ROOT)
        return self.procs[name]

    def validator_argv(self, name: str, flags: list[str]) -> list[str]:
        return [command("subnet-validator"), *self._wallet_flags(name), "--state-dir", str(self.root / f"{name}-state"),
                *flags]

    def start_validator(self, name: str, flags: list[str]) -> Proc:
        self.procs[name] = Proc(self.validator_argv(name, flags), log_path=self.root / f"{name}.log")
        return self.procs[name]

    async def wait_ready(self, names: list[str], timeout_s: float) -> None:
        await asyncio.gather(*(asyncio.to_thread(self.procs[n].wait_ready, timeout_s) for n in names))

    def hang(self, name: str) -> None:
        """SIGSTOP: the process keeps its sockets open and answers nothing, a real hang."""
        os.kill(self.procs[name].pid, signal.SIGSTOP)
        self.stopped.add(name)

    def resume(self, name: str) -> None:
        if name in self.stopped:
            os.kill(self.procs[name].pid, signal.SIGCONT)
            self.stopped.discard(name)

    def log(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop_all(self) -> None:
        """Stop every process this network started, by PID; the chain last."""
        for name in list(self.stopped):
            self.resume(name)
        for proc in self.procs.values():
            try:
                proc.stop(10)
            except Exception as exc:  # keep stopping the others
                print(f"  could not stop {proc.name} (pid {proc.pid}): {exc}", flush=True)
        if self.chain is not None:
            self.chain.stop(10)
