"""The wire contract: ``subnet.proto`` and the modules generated from it (``subnet_pb2``, ``subnet_pb2_grpc``).

Never edit the generated modules; change ``subnet.proto`` and run ``make proto`` (``python -m subnet.proto.generate``).
"""
