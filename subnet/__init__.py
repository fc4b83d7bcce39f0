"""The network: identity (keys, wallets), the gRPC wire protocol and its signing (``auth``, ``client``,
``server``), the chain node and its client (``chain``), the metagraph, the sampler miners run and validators
re-check, model files and loading, the local network runner and the ``subnet`` CLI."""

from __future__ import annotations

import importlib

# Public names, imported on first use (PEP 562) so that importing ``subnet`` stays cheap and does nothing.
_EXPORTS = {
    "Keypair": "subnet.keys",
    "Wallet": "subnet.wallet",
    "default_wallet_root": "subnet.wallet",
    "MinerClient": "subnet.client",
    "Signed": "subnet.client",
    "StreamCall": "subnet.client",
    "create_server": "subnet.server",
    "service": "subnet.server",
    "AccessPolicy": "subnet.auth.policy",
    "AllowAll": "subnet.auth.policy",
    "Decision": "subnet.auth.policy",
    "MetagraphPolicy": "subnet.auth.policy",
    "NeuronAccess": "subnet.auth.policy",
    "AuthSettings": "subnet.auth.settings",
    "MethodAuth": "subnet.auth.settings",
    "RESTRICTED": "subnet.auth.settings",
    "SIGNED": "subnet.auth.settings",
    "OPEN": "subnet.auth.settings",
    "PASSTHROUGH": "subnet.auth.settings",
    "RateLimitSettings": "subnet.auth.ratelimit",
    "RateLimiter": "subnet.auth.ratelimit",
    "ResponseProof": "subnet.auth.wire",
    "CallerInfo": "subnet.auth.server_interceptor",
    "current_caller": "subnet.auth.server_interceptor",
    "ChainClient": "subnet.chain.client",
    "ChainUnavailable": "subnet.chain.client",
    "TransactionRefused": "subnet.chain.client",
    "add_chain_trust_flags": "subnet.chain.client",
    "Metagraph": "subnet.metagraph",
    "Axon": "subnet.metagraph",
    "UNITS_PER_TOKEN": "consensus.units",
    "SubnetError": "subnet.errors",
    "WalletError": "subnet.errors",
    "WrongPasswordError": "subnet.errors",
    "ResponseVerificationError": "subnet.errors",
    "UnsignedResponseError": "subnet.errors",
    "BadResponseSignatureError": "subnet.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'subnet' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
