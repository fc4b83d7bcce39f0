"""Build (or find) a cached tiny random-weight model and print its folder, for tests and the local network.

    python -m miners.tiny --seed 0 --cache-dir ~/.cache/subnet

The builder itself lives in ``subnet.tiny_model`` because validators need the same models (to verify a
miner serving ``tiny-<seed>``, or to catch one that claims a seed it does not serve). A miner serves one
with ``--model tiny`` (seed 0) or ``--model tiny-<seed>``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from subnet.models import DEFAULT_CACHE_DIR, weights_sha256
from subnet.tiny_model import ensure_tiny_model, tiny_model_name


def main(argv: list[str] | None = None) -> int:
    """Print ``<folder> <name> <weights sha256>`` of tiny model ``--seed``, building it on first use."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="weights seed; different seeds, different models")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR, help="where built models are kept")
    args = parser.parse_args(argv)
    folder = ensure_tiny_model(args.seed, cache_dir=args.cache_dir)
    print(folder, tiny_model_name(args.seed), weights_sha256(folder))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
