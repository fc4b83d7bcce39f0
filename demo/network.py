"""Follow the chain from the demo: the latest metagraph and status, issuance per block, emission per epoch.

A background thread runs its own event loop and polls the chain once per block; the Gradio handlers read the
latest snapshot (attribute swaps are atomic, so no lock is needed for readers).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from subnet import ChainClient, Metagraph
from subnet.proto import subnet_pb2 as pb

log = logging.getLogger(__name__)

MAX_POINTS = 2000  # history kept for the plots


@dataclass
class NetworkView:
    graph: Metagraph | None = None
    status: pb.ChainStatus | None = None
    issuance: list[tuple[int, int]] = field(default_factory=list)  # (block, issuance units)
    emission: list[tuple[int, int, int]] = field(default_factory=list)  # (block, uid, units) per epoch


class NetworkWatcher:
    def __init__(self, endpoint: str, poll_s: float = 1.0, *, node_address: str | None = None,
                 tls_ca: Path | None = None) -> None:
        self.endpoint = endpoint
        self.node_address, self.tls_ca = node_address, tls_ca
        self.poll_s = poll_s
        self.view = NetworkView()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="network-watcher", daemon=True)
        self._last_epoch = -1

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        asyncio.run(self._loop())

    async def _loop(self) -> None:
        async with ChainClient(self.endpoint, node_address=self.node_address, tls_ca=self.tls_ca, timeout_s=5,
                               reconnect_budget_s=5) as client:
            while not self._stop.is_set():
                try:
                    await self.refresh(client)
                except Exception as exc:  # the chain may restart; keep the last view and try again
                    log.debug("chain refresh failed: %s", exc)
                await asyncio.to_thread(self._stop.wait, self.poll_s)

    async def refresh(self, client: ChainClient) -> None:
        status = await client.status()
        self.poll_s = max(0.2, min(status.block_time_s, 5.0))
        graph = await Metagraph.sync(client)
        view = self.view
        issuance = list(view.issuance)
        start = issuance[-1][0] + 1 if issuance else max(0, status.block - MAX_POINTS)
        if status.block >= start:
            for header in await client.headers(start, status.block):
                issuance.append((header.height, header.issuance))
        emission = list(view.emission)
        if status.epoch_index != self._last_epoch and status.last_epoch_block:
            self._last_epoch = status.epoch_index
            emission.extend((status.last_epoch_block, int(uid), int(e)) for uid, e in zip(graph.uids, graph.E,
                                                                                         strict=True))
        self.view = NetworkView(graph=graph, status=status, issuance=issuance[-MAX_POINTS:],
                                emission=emission[-MAX_POINTS * 4:])
