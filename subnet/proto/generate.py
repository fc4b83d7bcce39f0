"""Regenerate the Python modules of ``subnet/proto/subnet.proto`` with grpc_tools.

Run from anywhere: ``python -m subnet.proto.generate`` writes ``subnet_pb2.py``, ``subnet_pb2.pyi`` and
``subnet_pb2_grpc.py`` beside the proto. The generated modules import each other as ``subnet.proto.subnet_pb2``
because the proto is compiled relative to the repository root.
"""

from __future__ import annotations

import argparse
import importlib.resources
from pathlib import Path

PROTO_RELATIVE = Path("subnet/proto/subnet.proto")
REPO_ROOT = Path(__file__).resolve().parents[2]
GENERATED = ("subnet_pb2.py", "subnet_pb2.pyi", "subnet_pb2_grpc.py")


def generate(out_root: Path, repo_root: Path = REPO_ROOT) -> list[Path]:
    """Compile the proto into ``out_root`` (mirroring ``subnet/proto/``); return the generated files.

    Raises ``RuntimeError`` if protoc fails.
    """
    from grpc_tools import protoc  # a dev dependency: only needed when regenerating

    well_known = importlib.resources.files("grpc_tools") / "_proto"
    out_root.mkdir(parents=True, exist_ok=True)
    args = [
        "grpc_tools.protoc",
        f"-I{repo_root}",
        f"-I{well_known}",
        f"--python_out={out_root}",
        f"--pyi_out={out_root}",
        f"--grpc_python_out={out_root}",
        str(repo_root / PROTO_RELATIVE),
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed on {PROTO_RELATIVE}; see its message above")
    return [out_root / PROTO_RELATIVE.parent / name for name in GENERATED]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT, help="root to write into (default: the repo)")
    args = parser.parse_args(argv)
    for path in generate(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
