"""``subnet localnet``: the whole subnet on this machine, one process per role.

Creates development wallets and a genesis in the data dir (once), starts ``subnet-chain``, registers and stakes
the validators, registers the miners, starts miners, validators and the demo, prints a status table and writes
``localnet.json``. SIGINT/SIGTERM stop every child started so far, at any point (also while models are still
loading), the chain last, and exit 0; a child that dies while the network runs, or that has to be killed on the
way out, makes the exit code 1. A second start on the same data dir resumes the same chain with the same wallets.

Development wallets are protected by the password ``$SUBNET_WALLET_PASSWORD`` (default ``localnet``) with the
fast key-derivation setting: they are throwaway keys for a local network, never for real funds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import signal
import subprocess
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path

from consensus.units import UNITS_PER_TOKEN
from subnet.chain.calls import AdmittedModel
from subnet.chain.client import ChainClient
from subnet.chain.genesis import Genesis, load_genesis
from subnet.chain.node_key import load_or_create_node_key
from subnet.chain.params import Hyperparameters
from subnet.keyfile import kdf_from_env
from subnet.keys import Keypair
from subnet.metagraph import Metagraph
from subnet.procs import Child, ChildFailed, command_path
from subnet.wallet import Wallet

DEV_PASSWORD = "localnet"
STATE_FILE = "localnet.json"


class StopRequested(Exception):
    """SIGINT or SIGTERM arrived: stop everything started so far."""


class StopSignal:
    """Set by SIGINT/SIGTERM; every wait of the start-up and of the run loop wakes on it.

    The handler only records the signal and writes one byte to a pipe: it takes no lock (``threading.Event.set``
    in a signal handler can deadlock if the signal lands while the main thread holds the event's lock). The pipe
    is never drained, so once set it stays readable and every later ``select`` or asyncio reader wakes at once."""

    def __init__(self) -> None:
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._write_fd, False)
        self.signum: int | None = None

    def is_set(self) -> bool:
        return self.signum is not None

    def set(self, signum: int = signal.SIGTERM, frame: object = None) -> None:
        if self.signum is None:
            self.signum = signum
            with contextlib.suppress(OSError):
                os.write(self._write_fd, b"\0")

    def wait(self, timeout_s: float) -> bool:
        """Sleep up to ``timeout_s``, less if the signal arrives; return whether it has."""
        if not self.is_set():
            select.select([self._read_fd], [], [], max(0.0, timeout_s))
        return self.is_set()

    def check(self) -> None:
        if self.is_set():
            raise StopRequested(signal.Signals(self.signum).name)

    async def unless_stopped(self, work: Awaitable):
        """Await ``work``, cancelling it and raising StopRequested if the signal arrives first."""
        loop = asyncio.get_running_loop()
        stopped = loop.create_future()
        loop.add_reader(self._read_fd, lambda: stopped.done() or stopped.set_result(None))
        task = asyncio.ensure_future(work)
        try:
            await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            loop.remove_reader(self._read_fd)
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self.check()
        return task.result()

    def close(self) -> None:
        os.close(self._read_fd)
        os.close(self._write_fd)


@dataclass(frozen=True)
class MinerFlavour:
    """How one localnet miner differs from the others, so the ranking means something."""

    description: str
    flags: tuple[str, ...] = ()
    model_suffix: str = ""  # appended to the model spec (see subnet.model_loading)


# Miner i gets flavour i % len(FLAVOURS): the same weights served in different ways, each one honestly (a miner
# that cut answers short would fail the validators' spot checks: answers must run to the end token or the limit).
FLAVOURS = (
    MinerFlavour("the full model"),
    MinerFlavour("the full model, computing in float32", ("--dtype", "float32")),
    MinerFlavour("a smaller model from the same weights: the first half of the layers", model_suffix=":layers=0.5"),
)


@dataclass(frozen=True)
class LocalnetSettings:
    data_dir: Path
    miners: int = 3
    validators: int = 2
    model: str = "smollm2-135m"
    block_time_s: float = 1.0
    tempo: int = 10
    demo: bool = True
    demo_port: int = 7860
    ready_timeout_s: float = 900.0
    shutdown_timeout_s: float = 30.0


@dataclass
class Running:
    chain: Child | None = None
    miners: list[Child] = field(default_factory=list)
    validators: list[Child] = field(default_factory=list)
    demo: Child | None = None

    def all(self) -> list[Child]:
        return [c for c in (self.chain, *self.miners, *self.validators, self.demo) if c is not None]


class Localnet:
    def __init__(self, settings: LocalnetSettings, stop_signal: StopSignal | None = None) -> None:
        self.settings = settings
        self.root = settings.data_dir.expanduser().resolve()
        self.wallet_root = self.root / "wallets"
        self.password = os.environ.get("SUBNET_WALLET_PASSWORD", DEV_PASSWORD)
        self.running = Running()
        self.stop_signal = stop_signal or StopSignal()
        self.node_address: str | None = None  # the chain node key the genesis pins; every child pins it too

    # --- wallets and genesis ------------------------------------------------------------------------------

    def _wallet(self, name: str) -> Wallet:
        return Wallet(name=name, hotkey="default", root=self.wallet_root)

    def _ensure_wallet(self, name: str) -> tuple[Keypair, Keypair]:
        wallet = self._wallet(name)
        kdf = kdf_from_env({"SUBNET_KDF": "fast"})  # throwaway development keys (see the module docstring)
        if not wallet.coldkey_path.exists():
            wallet.create_coldkey(self.password, kdf=kdf)
        if not wallet.hotkey_path().exists():
            wallet.create_hotkey(kdf=kdf)
        return wallet.load_coldkey(self.password), wallet.load_hotkey()

    def _names(self) -> dict[str, list[str]]:
        s = self.settings
        return {"validators": [f"validator{i}" for i in range(s.validators)],
                "miners": [f"miner{i}" for i in range(s.miners)]}

    def prepare(self) -> Genesis:
        """Wallets and genesis, created on the first start and reused afterwards. A ``localnet.json`` left by an
        earlier run is removed: it describes processes that are gone."""
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / STATE_FILE).unlink(missing_ok=True)
        owner_cold, owner_hot = self._ensure_wallet("owner")
        self._ensure_wallet("gateway")
        names = self._names()
        colds = [self._ensure_wallet(n)[0] for n in names["validators"] + names["miners"]]
        path = self.root / "genesis.toml"
        if path.exists():
            genesis = load_genesis(path)
            self.node_address = genesis.node_address
            return genesis
        tempo = self.settings.tempo
        hyper = Hyperparameters(tempo=tempo, weights_rate_limit=max(1, tempo // 2), immunity_period=50 * tempo,
                                activity_cutoff=20 * tempo, min_allowed_weights=1, yuma3=True)
        accounts = {owner_cold.ss58_address: 1_000 * UNITS_PER_TOKEN}
        for key in colds:
            accounts[key.ss58_address] = 10_000 * UNITS_PER_TOKEN
        # The node key is made before the chain's first start so the genesis can pin it (node_address): every
        # child then accepts only chain answers that key signed.
        self.node_address = load_or_create_node_key(self.root / "chain").ss58_address
        genesis = Genesis(owner_cold.ss58_address, owner_hot.ss58_address, hyper, tuple(sorted(accounts.items())),
                          node_address=self.node_address)
        path.write_text(genesis.to_toml())
        return genesis

    # --- processes ----------------------------------------------------------------------------------------

    def _child(self, name: str, argv: list[str]) -> Child:
        logs = self.root / "logs"
        logs.mkdir(exist_ok=True)
        env = {"SUBNET_WALLET_PATH": str(self.wallet_root), "SUBNET_WALLET_PASSWORD": self.password}
        return Child(name, argv, env=env, log_path=logs / f"{name}.log")

    def _chain_flags(self, endpoint: str) -> list[str]:
        pin = ["--chain.node-address", self.node_address] if self.node_address else []
        return ["--chain.endpoint", endpoint, *pin]

    def start_chain(self) -> str:
        s = self.settings
        self.running.chain = self._child("chain", [
            command_path("subnet-chain"), "--data-dir", str(self.root / "chain"), "--genesis",
            str(self.root / "genesis.toml"), "--port", "0", "--block-time-s", str(s.block_time_s)])
        self._wait_ready(self.running.chain, 60)
        return self.running.chain.address

    def _wait_ready(self, child: Child, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not child.ready_line:
            if not child.alive() or time.monotonic() > deadline:
                child.wait_ready(0)  # raises ChildFailed with the child's output
            if self.stop_signal.wait(0.1):
                self.stop_signal.check()

    async def register_all(self, endpoint: str) -> None:
        """Register every validator and miner (once) and give validator i a stake of 1000*(i+1) tokens."""
        names = self._names()
        async with ChainClient(endpoint, node_address=self.node_address, timeout_s=30) as client:
            graph = await client.metagraph()
            registered = {n.hotkey for n in graph.neurons}
            stakes = {n.hotkey: n.stake for n in graph.neurons}
            jobs = []
            for i, name in enumerate(names["validators"] + names["miners"]):
                cold, hot = self._ensure_wallet(name)
                jobs.append(self._register(client, cold, hot, registered, stakes,
                                           stake_tokens=1000 * (i + 1) if name.startswith("validator") else 0))
            await asyncio.gather(*jobs)

    @staticmethod
    async def _register(client: ChainClient, cold: Keypair, hot: Keypair, registered: set[str],
                        stakes: dict[str, int], stake_tokens: int) -> None:
        if hot.ss58_address not in registered:
            await client.register(cold, hot)
        if stake_tokens and stakes.get(hot.ss58_address, 0) == 0:
            await client.add_stake(cold, hot.ss58_address, stake_tokens * UNITS_PER_TOKEN)

    async def admit_served_models(self, endpoint: str) -> list[AdmittedModel]:
        """As the subnet owner, admit exactly the models this network's miners committed to (the full model and
        its half-layer version: validators pay only admitted models). Sent only when the list differs."""
        owner_cold, _ = self._ensure_wallet("owner")
        mine = {self._hotkey(n) for n in self._names()["miners"]}
        async with ChainClient(endpoint, node_address=self.node_address, timeout_s=30) as client:
            graph = await Metagraph.sync(client)
            served = {a.model_hash: a.model_name for a in graph.axons if a.hotkey in mine and a.model_hash}
            models = [AdmittedModel(h, name) for h, name in sorted(served.items(), key=lambda kv: kv[1])]
            if set(models) != set(graph.admitted_models):
                await client.set_admitted_models(owner_cold, models)
        return models

    def start_miners(self, endpoint: str) -> None:
        s = self.settings
        gateway = self._wallet("gateway").hotkey_info().ss58_address
        for i, name in enumerate(self._names()["miners"]):
            flavour = FLAVOURS[i % len(FLAVOURS)]
            self.running.miners.append(self._child(name, [
                command_path("subnet-miner"), "--wallet.name", name, "--wallet.hotkey", "default",
                *self._chain_flags(endpoint), "--axon.port", "0", "--model", s.model + flavour.model_suffix,
                "--allowlist", gateway,
                *flavour.flags]))

    def start_validators(self, endpoint: str) -> None:
        for name in self._names()["validators"]:
            self.running.validators.append(self._child(name, [
                command_path("subnet-validator"), "--wallet.name", name, "--wallet.hotkey", "default",
                *self._chain_flags(endpoint), "--state-dir", str(self.root / name),
                # Every model the miners serve, so that each miner's answers can be verified (and paid).
                *self.verified_models(), "--step-interval-s", str(max(2.0, 2 * self.settings.block_time_s))]))

    def verified_models(self) -> list[str]:
        specs = sorted({self.settings.model + f.model_suffix for f in FLAVOURS})
        return [arg for spec in specs for arg in ("--reference-model", spec)]

    def start_demo(self, endpoint: str) -> None:
        self.running.demo = self._child("demo", [
            command_path("subnet-demo"), *self._chain_flags(endpoint), "--wallet.name", "gateway",
            "--wallet.hotkey", "default", "--port", str(self.settings.demo_port)])

    def wait_all_ready(self) -> None:
        """Wait for every child, printing progress while models load; a stop request ends the wait at once."""
        deadline = time.monotonic() + self.settings.ready_timeout_s
        pending = [c for c in self.running.all() if not c.ready_line]
        started = time.monotonic()
        last_report = 0.0
        while pending:
            for child in list(pending):
                if child.ready_line:
                    pending.remove(child)
                    print(f"  ready: {child.name:<11} {child.address}  ({time.monotonic() - started:.0f}s)",
                          flush=True)
                elif not child.alive() or time.monotonic() > deadline:
                    child.wait_ready(0)  # raises ChildFailed with the child's output
            if pending and time.monotonic() - last_report > 15:
                last_report = time.monotonic()
                print(f"  waiting for {', '.join(c.name for c in pending)} (models loading)...", flush=True)
            if self.stop_signal.wait(0.1):
                self.stop_signal.check()

    # --- the whole thing ----------------------------------------------------------------------------------

    def describe(self, endpoint: str, uids: dict[str, int]) -> dict:
        r = self.running
        names = self._names()
        doc = {
            "chain": {"endpoint": endpoint, "pid": r.chain.pid if r.chain else None, "node_address": self.node_address},
            "miners": [{"name": n, "uid": uids.get(self._hotkey(n)), "hotkey": self._hotkey(n),
                        "endpoint": c.address, "pid": c.pid, "flavour": FLAVOURS[i % len(FLAVOURS)].description}
                       for i, (n, c) in enumerate(zip(names["miners"], r.miners, strict=True))],
            "validators": [{"name": n, "uid": uids.get(self._hotkey(n)), "hotkey": self._hotkey(n), "pid": c.pid}
                           for n, c in zip(names["validators"], r.validators, strict=True)],
            "demo": {"url": r.demo.address, "pid": r.demo.pid} if r.demo else None,
            "wallet_path": str(self.wallet_root),
            "logs": str(self.root / "logs"),
        }
        return doc

    def _hotkey(self, name: str) -> str:
        return self._wallet(name).hotkey_info().ss58_address

    def write_state(self, doc: dict) -> Path:
        """Write ``localnet.json`` atomically: a reader sees the old file or the whole new one, never a part."""
        path = self.root / STATE_FILE
        tmp = path.with_name(f".{STATE_FILE}.{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(json.dumps(doc, indent=2) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return path

    def stop(self) -> list[ChildExit]:
        """Stop the demo, validators and miners together, then the chain last (they may still talk to it).
        Returns every exit, in stop order."""
        exits = self._stop_together([c for c in self.running.all() if c is not self.running.chain])
        if self.running.chain is not None:
            exits += self._stop_together([self.running.chain])
        return exits

    def _stop_together(self, children: list[Child]) -> list[ChildExit]:
        """One SIGTERM each, then ``shutdown_timeout_s`` for all of them before SIGKILL. Never a second SIGTERM:
        a child shutting down may already have removed its handler, and a second one would kill it mid-way."""
        exited_early = {id(c) for c in children if not c.alive()}
        for child in children:
            child.terminate()
        deadline = time.monotonic() + self.settings.shutdown_timeout_s
        exits = []
        for child in children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.popen.wait(max(0.0, deadline - time.monotonic()))
            if child.alive():
                child.kill()
            code = child.stop(0)  # no longer running: this only collects the code and closes the log
            exits.append(ChildExit(child.name, code, bool(child.ready_line), id(child) in exited_early))
        return exits


@dataclass(frozen=True)
class ChildExit:
    name: str
    code: int
    served: bool  # it had printed its READY line
    exited_early: bool  # it had exited before the stop began

    @property
    def clean(self) -> bool:
        """Exit 0 when asked, or ended by our SIGTERM while still loading (before it installs its handler). A
        child that exited on its own, or had to be SIGKILLed, did not stop cleanly."""
        if self.exited_early:
            return False
        return self.code == 0 or (not self.served and self.code in (-signal.SIGTERM, -signal.SIGINT))

    def note(self, timeout_s: float) -> str:
        if self.exited_early:
            return "had exited before the stop"
        if self.code == -signal.SIGKILL:
            return f"killed: still running {timeout_s:.0f}s after SIGTERM"
        if self.code < 0:
            try:
                name = signal.Signals(-self.code).name
            except ValueError:
                name = f"signal {-self.code}"
            return f"ended by {name}" + ("" if self.clean else ", it should have exited 0")
        return "" if self.clean else "failed"


def report_exits(exits: list[ChildExit], timeout_s: float) -> bool:
    """Print every child's exit code; return whether all stopped cleanly."""
    for e in exits:
        note = e.note(timeout_s)
        print(f"  {e.name:<11} exit {e.code}" + (f"  ({note})" if note else ""), flush=True)
    return all(e.clean for e in exits)


def print_table(doc: dict) -> None:
    print("\nlocalnet is up:")
    print(f"  chain      {doc['chain']['endpoint']}")
    for v in doc["validators"]:
        print(f"  uid {v['uid']:>3}  validator  {v['hotkey']}")
    for m in doc["miners"]:
        print(f"  uid {m['uid']:>3}  miner      {m['hotkey']}  {m['endpoint']}  ({m['flavour']})")
    if doc["demo"]:
        print(f"\n  chat with the top-ranked miner: {doc['demo']['url']}")
    print(f"  logs: {doc['logs']}    stop: Ctrl-C\n", flush=True)


def run(settings: LocalnetSettings) -> int:
    """Run the local network until SIGINT/SIGTERM. Returns 0 when it was asked to stop (during start-up or
    later) and every child stopped cleanly; 1 when a child failed to start, died while running, or had to be
    killed on the way out."""
    stop_signal = StopSignal()
    net = Localnet(settings, stop_signal)
    previous = {sig: signal.signal(sig, stop_signal.set) for sig in (signal.SIGINT, signal.SIGTERM)}
    failed = False
    try:
        print(f"localnet in {net.root}", flush=True)
        net.prepare()
        stop_signal.check()
        endpoint = net.start_chain()
        print(f"  ready: chain       {endpoint}", flush=True)
        asyncio.run(stop_signal.unless_stopped(net.register_all(endpoint)))
        stop_signal.check()
        net.start_miners(endpoint)
        net.start_validators(endpoint)
        if settings.demo:
            net.start_demo(endpoint)
        print(f"starting {settings.miners} miners and {settings.validators} validators with model "
              f"{settings.model} (the first start loads the model in every process)...", flush=True)
        net.wait_all_ready()
        admitted = asyncio.run(stop_signal.unless_stopped(net.admit_served_models(endpoint)))
        print(f"  admitted models: {', '.join(m.name for m in admitted)}", flush=True)
        graph = asyncio.run(stop_signal.unless_stopped(_metagraph(endpoint, net.node_address)))
        doc = net.describe(endpoint, {n.hotkey: n.uid for n in graph.neurons})
        net.write_state(doc)
        print_table(doc)
        while not stop_signal.wait(0.2):
            dead = [c for c in net.running.all() if not c.alive()]
            for child in dead:
                print(f"{child.name} exited with code {child.popen.returncode}; see {net.root}/logs", flush=True)
            if dead:
                failed = True
                break
    except StopRequested as exc:
        print(f"{exc} during start-up", flush=True)
    except ChildFailed as exc:
        print(f"localnet: {exc}", flush=True)
        failed = True
    finally:
        print("stopping...", flush=True)
        clean = report_exits(net.stop(), settings.shutdown_timeout_s)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        stop_signal.close()
    return 1 if failed or not clean else 0


async def _metagraph(endpoint: str, node_address: str | None):
    async with ChainClient(endpoint, node_address=node_address) as client:
        return await client.metagraph()
