"""``subnet localnet`` with the tiny model: everything starts, epochs pay out, the demo answers in a real
browser and through gradio_client, SIGTERM stops every process, and a restart continues the same chain. SIGTERM
while models are still loading stops everything started so far, at once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path

import pytest
from gradio_client import Client

from subnet.chain.client import ChainClient
from subnet.metagraph import Metagraph
from tests.browser import chat_and_read_leaderboard
from tests.proc import Proc, command, free_port

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "localnet"


def start_localnet(data_dir: Path, demo_port: int) -> Proc:
    proc = Proc([command("subnet"), "localnet", "--model", "tiny", "--miners", "2", "--validators", "1",
                 "--block-time-s", "0.5", "--tempo", "8", "--demo-port", str(demo_port), "--data-dir", str(data_dir)],
                log_path=data_dir.parent / "localnet.out")
    deadline = 240
    for _ in range(deadline * 10):
        if (data_dir / "localnet.json").exists() and "localnet is up" in "\n".join(proc.lines):
            return proc
        if not proc.alive():
            raise AssertionError(f"localnet exited early:\n{proc.tail()}")
        time.sleep(0.1)
    raise AssertionError(f"localnet not up after {deadline}s:\n{proc.tail()}")


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie of a dead child would still answer; read its state.
    status = Path(f"/proc/{pid}/status")
    return not status.exists() or "State:\tZ" in status.read_text()


@pytest.mark.slow
async def test_localnet_end_to_end(tmp_path: Path) -> None:
    data_dir = tmp_path / "localnet"
    demo_port = free_port()
    proc = await asyncio.to_thread(start_localnet, data_dir, demo_port)
    try:
        doc = json.loads((data_dir / "localnet.json").read_text())
        assert len(doc["miners"]) == 2 and len(doc["validators"]) == 1
        assert doc["demo"]["url"] == f"http://127.0.0.1:{demo_port}"
        pids = [doc["chain"]["pid"], doc["demo"]["pid"], *(m["pid"] for m in doc["miners"]),
                *(v["pid"] for v in doc["validators"])]
        async with ChainClient(doc["chain"]["endpoint"]) as client:
            graph = await _wait_for_payouts(client, doc, timeout_s=180)
            miner_uids = [m["uid"] for m in doc["miners"]]
            validator_uid = doc["validators"][0]["uid"]
            assert sum(graph.I[u] for u in miner_uids) > 0.99 and graph.D[validator_uid] > 0
            # Issuance grew by exactly the rewards minted, block by block, minus what registration recycled.
            status = await client.status()
            headers = await client.headers(0, status.block)
            assert status.issuance == headers[0].issuance + sum(h.minted for h in headers[1:]) - status.recycled
            height = status.block
            header_hash = (await client.headers(height, height))[0].hash

        chat = await asyncio.to_thread(chat_and_read_leaderboard, doc["demo"]["url"], "Say something, tiny model.",
                                       ARTIFACTS, min_rows=graph.n)
        assert chat.answer.strip() and "Answered by uid" in chat.answered_by and "tokens/s" in chat.answered_by
        # (The tiny model answers in a few milliseconds, too fast to watch the text grow from the browser; the
        # browser sees an answer stream in tests/test_demo_gateway.py, from a deliberately slow echo miner.)
        for entry in [*doc["miners"], *doc["validators"]]:
            assert entry["hotkey"] in chat.leaderboard
        # Every uid of the metagraph has its row (the uid column, not just a hotkey somewhere in the text).
        assert sorted(chat.column("uid"), key=int) == [str(u) for u in sorted(graph.uids)], chat.leaderboard_rows
        gradio = await asyncio.to_thread(Client, doc["demo"]["url"], verbose=False)
        history, info, _ = await asyncio.to_thread(gradio.predict, "Hello from gradio_client", [], api_name="/chat")
        assert history[-1]["role"] == "assistant" and history[-1]["content"]
        assert "Answered by uid" in info
    finally:
        code = proc.stop(60)
    assert code == 0, proc.tail()
    assert all(_gone(pid) for pid in pids), [p for p in pids if not _gone(p)]

    proc = await asyncio.to_thread(start_localnet, data_dir, free_port())
    try:
        again = json.loads((data_dir / "localnet.json").read_text())
        async with ChainClient(again["chain"]["endpoint"]) as client:
            # The same chain: it went on from where it stopped, and its history is unchanged.
            assert (await client.status()).block >= height
            assert (await client.headers(height, height))[0].hash == header_hash
        assert _uids(again) == _uids(doc)
        # A miner dying while the network runs stops the rest, and the run fails.
        os.kill(again["miners"][0]["pid"], signal.SIGKILL)
        code = await asyncio.to_thread(proc.popen.wait, 60)
    finally:
        proc.stop(60)
    assert code == 1, proc.tail()
    assert "miner0 exited with code -9" in proc.tail(), proc.tail()
    pids = [again["chain"]["pid"], again["demo"]["pid"], *(e["pid"] for e in again["miners"] + again["validators"])]
    assert all(_gone(pid) for pid in pids), [p for p in pids if not _gone(p)]


def _uids(doc: dict) -> dict[str, int]:
    return {e["hotkey"]: e["uid"] for e in [*doc["miners"], *doc["validators"]]}


def _children(pid: int) -> list[int]:
    """PIDs whose parent is ``pid``."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


@pytest.mark.slow
def test_localnet_sigterm_while_models_load_stops_everything(tmp_path: Path) -> None:
    data_dir = tmp_path / "localnet"
    data_dir.mkdir()
    (data_dir / "localnet.json").write_text("{}")  # left by an earlier run: removed at start
    proc = Proc([command("subnet"), "localnet", "--model", "tiny", "--miners", "1", "--validators", "1",
                 "--no-demo", "--data-dir", str(data_dir)], log_path=tmp_path / "localnet.out")
    try:
        deadline = time.monotonic() + 120
        while not any(line.startswith("starting ") for line in proc.lines):
            assert proc.alive() and time.monotonic() < deadline, proc.tail()
            time.sleep(0.1)
        children = _children(proc.pid)
        assert len(children) == 3, children  # the chain, the miner and the validator, all still loading
        assert not (data_dir / "localnet.json").exists()
        started = time.monotonic()
        os.kill(proc.pid, signal.SIGTERM)
        proc.popen.wait(30)
        # Well under the 30 s a child gets before SIGKILL: nobody waited for a model to finish loading.
        assert time.monotonic() - started < 15, proc.tail()
    finally:
        code = proc.stop(5)
    assert code == 0, proc.tail()
    out = proc.tail(60)
    assert "SIGTERM during start-up" in out and "localnet is up" not in out
    assert all(_gone(pid) for pid in children), [p for p in children if not _gone(p)]
    assert not (data_dir / "localnet.json").exists()


async def _wait_for_payouts(client: ChainClient, doc: dict, timeout_s: float) -> Metagraph:
    """Two epochs with miners' incentive and the validator's dividends both non-zero."""
    loop = asyncio.get_running_loop()
    deadline, good, last = loop.time() + timeout_s, 0, -1
    while loop.time() < deadline:
        status = await client.status()
        if status.epoch_index != last:
            last = status.epoch_index
            graph = await Metagraph.sync(client)
            paid = sum(graph.I[m["uid"]] for m in doc["miners"]) > 0 and graph.D[doc["validators"][0]["uid"]] > 0
            good = good + 1 if paid else 0
            if good >= 2:
                return graph
        await asyncio.sleep(0.2)
    raise AssertionError("no payouts to miners and validators within the time limit")
