"""The miner: model backends, request batching, the gRPC ``Miner`` service and the ``subnet-miner`` command."""
