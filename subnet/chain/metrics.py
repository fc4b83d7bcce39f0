"""Prometheus metrics of the chain node, read from the live state at scrape time."""

from __future__ import annotations

from prometheus_client import REGISTRY, start_http_server
from prometheus_client.core import GaugeMetricFamily

from subnet.chain.node import ChainNode


class _ChainCollector:
    def __init__(self, node: ChainNode) -> None:
        self.node = node

    def collect(self):
        state = self.node.state
        for name, help_text, value in (
            ("subnet_chain_block", "height of the last durable block", state.block),
            ("subnet_chain_issuance_units", "units in existence", state.ledger.issuance),
            ("subnet_chain_pending_units", "units waiting for the next epoch payout", state.ledger.pending),
            ("subnet_chain_recycled_units", "units recycled by registrations", state.ledger.recycled),
            ("subnet_chain_neurons", "registered uids", len(state.neurons)),
            ("subnet_chain_epochs", "epochs run", state.epoch_index),
        ):
            yield GaugeMetricFamily(name, help_text, value=value)


def start_metrics(port: int, node: ChainNode) -> None:
    REGISTRY.register(_ChainCollector(node))
    start_http_server(port, addr="127.0.0.1")
