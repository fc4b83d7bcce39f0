"""The checked-in generated modules are exactly what subnet.proto compiles to."""

from __future__ import annotations

from pathlib import Path

from subnet.proto import subnet_pb2, subnet_pb2_grpc
from subnet.proto.generate import GENERATED, REPO_ROOT, generate


def test_generated_modules_are_up_to_date(tmp_path: Path) -> None:
    produced = generate(tmp_path)
    assert [p.name for p in produced] == list(GENERATED)
    for path in produced:
        checked_in = REPO_ROOT / "subnet" / "proto" / path.name
        assert checked_in.read_bytes() == path.read_bytes(), (
            f"{checked_in} is stale: run `make proto` (python -m subnet.proto.generate) and commit the result"
        )


def test_generated_modules_import_as_a_package() -> None:
    # The grpc module imports its messages as subnet.proto.subnet_pb2, so they must be one and the same.
    assert subnet_pb2_grpc.subnet_dot_proto_dot_subnet__pb2 is subnet_pb2
    miner = subnet_pb2.DESCRIPTOR.services_by_name["Miner"]
    assert miner.full_name == "subnet.v1.Miner"
    assert [m.name for m in miner.methods] == ["Generate", "GenerateStream", "Info"]
    assert miner.methods_by_name["GenerateStream"].server_streaming
