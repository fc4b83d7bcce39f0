"""The ``subnet`` admin command line.

Each command group lives in its own module with a ``register(subparsers)`` function that adds its parser and
sets ``func`` (a callable taking the parsed arguments and returning an exit code). To add a group, write the
module and list it in ``COMMAND_MODULES``. Errors the package raises on purpose (``SubnetError``) are printed
as one line on stderr with exit code 1, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from subnet.errors import SubnetError

COMMAND_MODULES: tuple[str, ...] = (
    "subnet.cli.wallet_cmd",
    "subnet.cli.chain_cmd",
    "subnet.cli.localnet_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with every command group registered."""
    parser = argparse.ArgumentParser(
        prog="subnet",
        description="Administer a subnet: wallets, registration, stake, the metagraph and a local network.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        # A group given without a subcommand prints that group's help.
        (getattr(args, "group_parser", None) or parser).print_help(sys.stderr)
        return 2
    try:
        return int(func(args) or 0)
    except SubnetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
