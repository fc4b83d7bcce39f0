"""Flags and helpers shared by command groups: wallet selection, passwords, JSON output."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path

from subnet.errors import WalletError
from subnet.wallet import Wallet, default_wallet_root

PASSWORD_ENV = "SUBNET_WALLET_PASSWORD"
WALLET_NAME_ENV = "SUBNET_WALLET_NAME"
WALLET_HOTKEY_ENV = "SUBNET_WALLET_HOTKEY"


def add_wallet_args(parser: argparse.ArgumentParser, *, hotkey: bool = True) -> None:
    """``--wallet.name``, ``--wallet.hotkey`` and ``--wallet.path`` (Bittensor's spellings, with - and _ aliases).

    Defaults come from ``SUBNET_WALLET_NAME``, ``SUBNET_WALLET_HOTKEY`` and ``SUBNET_WALLET_PATH``.
    """
    parser.add_argument(
        "--wallet.name",
        "--wallet-name",
        "--wallet_name",
        dest="wallet_name",
        metavar="NAME",
        default=None,
        help="wallet name (default: $SUBNET_WALLET_NAME or 'default')",
    )
    if hotkey:
        parser.add_argument(
            "--wallet.hotkey",
            "--wallet-hotkey",
            "--wallet_hotkey",
            dest="wallet_hotkey",
            metavar="HOTKEY",
            default=None,
            help="hotkey name (default: $SUBNET_WALLET_HOTKEY or 'default')",
        )
    parser.add_argument(
        "--wallet.path",
        "--wallet-path",
        "--wallet_path",
        dest="wallet_path",
        metavar="DIR",
        default=None,
        help="wallets folder (default: $SUBNET_WALLET_PATH or ~/.subnet/wallets)",
    )


def wallet_root(args: argparse.Namespace) -> Path:
    return Path(args.wallet_path).expanduser() if getattr(args, "wallet_path", None) else default_wallet_root()


def wallet_from_args(args: argparse.Namespace) -> Wallet:
    """The wallet selected by ``add_wallet_args`` flags (flags > environment > defaults)."""
    name = getattr(args, "wallet_name", None) or os.environ.get(WALLET_NAME_ENV) or "default"
    hotkey = getattr(args, "wallet_hotkey", None) or os.environ.get(WALLET_HOTKEY_ENV) or "default"
    return Wallet(name=name, hotkey=hotkey, root=wallet_root(args))


def add_prompt_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-prompt",
        "--no_prompt",
        dest="no_prompt",
        action="store_true",
        help=f"never prompt; the password must be in ${PASSWORD_ENV}",
    )


def read_password(args: argparse.Namespace, what: str, *, confirm: bool = False) -> str:
    """The password from ``$SUBNET_WALLET_PASSWORD``, else from a prompt (twice when ``confirm``).

    Raises ``WalletError`` when neither is available or the two entries differ.
    """
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env:
        return from_env
    if getattr(args, "no_prompt", False):
        raise WalletError(f"no password for the {what}: set {PASSWORD_ENV} (or drop --no-prompt to be asked)")
    password = getpass.getpass(f"Password for the {what}: ")
    if confirm and getpass.getpass("Repeat the password: ") != password:
        raise WalletError("the two passwords differ; nothing was written")
    if not password:
        raise WalletError("an empty password does not protect anything; choose a non-empty password")
    return password


def add_json_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", "--json-output", dest="json", action="store_true", help="print machine-readable JSON on stdout"
    )


def print_json(data: object) -> None:
    json.dump(data, sys.stdout, indent=2)
    sys.stdout.write("\n")
