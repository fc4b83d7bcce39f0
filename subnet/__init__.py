"""The network: identity (keys, wallets), the gRPC wire protocol and its signing, the chain node and client,
the metagraph, configuration and the ``subnet`` CLI."""
