"""``subnet localnet``: run the whole subnet on this machine (see ``subnet.localnet``)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "localnet", help="run chain, miners, validators and the demo on this machine",
        epilog="Ctrl-C or SIGTERM stops every process, also during start-up. Exit code 0 after a requested stop; "
               "1 if a process failed to start, died while running, or had to be killed on the way out.")
    p.add_argument("--miners", type=int, default=3, help="number of miners (default 3)")
    p.add_argument("--validators", type=int, default=2, help="number of validators (default 2)")
    p.add_argument("--model", default="smollm2-135m", help="smollm2-135m (default), tiny, or a model path")
    p.add_argument("--block-time-s", type=float, default=1.0, help="seconds per block (default 1)")
    p.add_argument("--tempo", type=int, default=10, help="blocks per epoch (default 10)")
    p.add_argument("--demo", action=argparse.BooleanOptionalAction, default=True, help="start the chat demo")
    p.add_argument("--demo-port", type=int, default=7860)
    p.add_argument("--data-dir", type=Path, default=Path("~/.subnet/localnet"),
                   help="where the chain, wallets, state and logs live (default ~/.subnet/localnet)")
    p.set_defaults(func=cmd_localnet)


def cmd_localnet(args: argparse.Namespace) -> int:
    from subnet.localnet import LocalnetSettings, run

    if args.miners < 1 or args.validators < 1:
        raise SystemExit("localnet needs at least one miner and one validator")
    settings = LocalnetSettings(data_dir=args.data_dir, miners=args.miners, validators=args.validators,
                                model=args.model, block_time_s=args.block_time_s, tempo=args.tempo, demo=args.demo,
                                demo_port=args.demo_port)
    return run(settings)
