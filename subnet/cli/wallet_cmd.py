"""``subnet wallet create|new-hotkey|list|show|regen|sign|verify``: keys on disk (see ``subnet.wallet``)."""

from __future__ import annotations

import argparse
import sys

from subnet.cli.common import (
    add_json_arg,
    add_prompt_args,
    add_wallet_args,
    print_json,
    read_password,
    wallet_from_args,
    wallet_root,
)
from subnet.errors import KeyfileNotFoundError, WalletError
from subnet.keys import MNEMONIC_WORD_COUNTS, verify_signature
from subnet.wallet import Wallet, list_wallets

_MNEMONIC_WARNING = "Write the mnemonics down and keep them offline: anyone who has one controls that key."


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("wallet", aliases=["w"], help="create, restore and inspect wallets")
    group.set_defaults(group_parser=group)
    sub = group.add_subparsers(dest="wallet_command", metavar="COMMAND")

    def common(p: argparse.ArgumentParser, *, prompt: bool = True) -> argparse.ArgumentParser:
        add_wallet_args(p)
        if prompt:
            add_prompt_args(p)
        add_json_arg(p)
        return p

    p = common(sub.add_parser("create", help="create a coldkey (encrypted) and a hotkey"))
    p.add_argument("--words", type=int, choices=MNEMONIC_WORD_COUNTS, default=12, help="mnemonic length")
    p.add_argument("--encrypt", action="store_true", help="encrypt the hotkey too (same password)")
    p.add_argument("--overwrite", action="store_true", help="replace existing keys (they are lost)")
    p.set_defaults(func=cmd_create)

    p = common(sub.add_parser("new-hotkey", aliases=["new_hotkey"], help="add a hotkey to a wallet"))
    p.add_argument("--words", type=int, choices=MNEMONIC_WORD_COUNTS, default=12, help="mnemonic length")
    p.add_argument("--encrypt", action="store_true", help="encrypt the hotkey with a password")
    p.add_argument("--overwrite", action="store_true", help="replace an existing hotkey of that name")
    p.set_defaults(func=cmd_new_hotkey)

    p = sub.add_parser("list", help="list every wallet and its addresses")
    p.add_argument("--wallet.path", "--wallet-path", "--wallet_path", dest="wallet_path", metavar="DIR")
    add_json_arg(p)
    p.set_defaults(func=cmd_list)

    p = common(sub.add_parser("show", help="show one wallet's addresses"), prompt=False)
    p.set_defaults(func=cmd_show)

    p = common(sub.add_parser("regen", help="restore a coldkey or hotkey from its mnemonic or seed"))
    p.add_argument("key", choices=("coldkey", "hotkey"), help="which key to restore")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--mnemonic", help="the BIP39 phrase in quotes, or '-' to read it from stdin")
    source.add_argument("--seed", help="the 32-byte seed as 64 hex digits, or '-' to read it from stdin")
    p.add_argument("--encrypt", action="store_true", help="encrypt a restored hotkey with a password")
    p.add_argument("--overwrite", action="store_true", help="replace an existing key (it is lost)")
    p.set_defaults(func=cmd_regen)

    p = common(sub.add_parser("sign", help="sign a message with the coldkey (or the hotkey), to prove ownership"))
    p.add_argument("--message", required=True, help="the text to sign (UTF-8)")
    p.add_argument(
        "--use-hotkey",
        "--use_hotkey",
        dest="use_hotkey",
        action="store_true",
        help="sign with the hotkey instead of the coldkey",
    )
    p.set_defaults(func=cmd_sign)

    p = sub.add_parser("verify", help="check a signature made with `subnet wallet sign`")
    p.add_argument("--message", required=True, help="the signed text (UTF-8)")
    p.add_argument("--signature", required=True, help="the signature, 128 hex digits")
    p.add_argument("--address", required=True, help="the signer's SS58 address")
    p.set_defaults(func=cmd_verify)


def _coldkey_or_none(wallet: Wallet) -> str | None:
    try:
        return wallet.coldkey_ss58()
    except KeyfileNotFoundError:
        return None


def _describe(wallet: Wallet) -> dict[str, object]:
    hotkeys = []
    for name in wallet.hotkey_names():
        try:
            info = wallet.hotkey_info(name)
            hotkeys.append({"name": name, "ss58_address": info.ss58_address, "encrypted": info.encrypted})
        except WalletError as e:
            hotkeys.append({"name": name, "error": str(e)})
    return {"name": wallet.name, "path": str(wallet.path), "coldkey": _coldkey_or_none(wallet), "hotkeys": hotkeys}


def _print_wallet(desc: dict[str, object]) -> None:
    print(f"wallet {desc['name']}  ({desc['path']})")
    print(f"  coldkey  {desc['coldkey'] or '(none)'}")
    for hk in desc["hotkeys"]:  # type: ignore[union-attr]
        detail = hk.get("ss58_address") or f"unreadable: {hk.get('error')}"
        flag = "  (encrypted)" if hk.get("encrypted") else ""
        print(f"  hotkey   {hk['name']:<12} {detail}{flag}")


def cmd_create(args: argparse.Namespace) -> int:
    wallet = wallet_from_args(args)
    if not args.overwrite:
        # Check both before writing either, so a refusal leaves nothing half-created.
        for path in (wallet.coldkey_path, wallet.hotkey_path()):
            if path.exists():
                raise WalletError(f"{path} already exists; pass --overwrite to replace it (the old key is lost)")
    password = read_password(args, f"coldkey of wallet '{wallet.name}'", confirm=True)
    cold, cold_words = wallet.create_coldkey(password, words=args.words, overwrite=args.overwrite)
    hot, hot_words = wallet.create_hotkey(
        password if args.encrypt else None, words=args.words, overwrite=args.overwrite
    )
    if args.json:
        print_json(
            {
                "wallet": wallet.name,
                "path": str(wallet.path),
                "coldkey": cold.ss58_address,
                "hotkey": {"name": wallet.hotkey, "ss58_address": hot.ss58_address},
                "coldkey_mnemonic": cold_words,
                "hotkey_mnemonic": hot_words,
            }
        )
        return 0
    print(f"Created wallet '{wallet.name}' in {wallet.path}")
    print(f"  coldkey  {cold.ss58_address}  (encrypted)")
    print(f"  hotkey   {wallet.hotkey} {hot.ss58_address}{'  (encrypted)' if args.encrypt else ''}")
    print(_MNEMONIC_WARNING)
    print(f"  coldkey mnemonic: {cold_words}")
    print(f"  hotkey mnemonic:  {hot_words}")
    return 0


def cmd_new_hotkey(args: argparse.Namespace) -> int:
    wallet = wallet_from_args(args)
    if not args.overwrite and wallet.hotkey_path().exists():
        raise WalletError(f"{wallet.hotkey_path()} already exists; pass --overwrite to replace it")
    password = read_password(args, f"hotkey '{wallet.hotkey}'", confirm=True) if args.encrypt else None
    hot, words = wallet.create_hotkey(password, words=args.words, overwrite=args.overwrite)
    if args.json:
        print_json(
            {"wallet": wallet.name, "hotkey": wallet.hotkey, "ss58_address": hot.ss58_address, "mnemonic": words}
        )
        return 0
    print(f"Created hotkey '{wallet.hotkey}' of wallet '{wallet.name}': {hot.ss58_address}")
    print(_MNEMONIC_WARNING)
    print(f"  hotkey mnemonic: {words}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    root = wallet_root(args)
    wallets = [_describe(w) for w in list_wallets(root)]
    if args.json:
        print_json({"path": str(root), "wallets": wallets})
        return 0
    if not wallets:
        print(f"no wallets in {root}; create one with `subnet wallet create`")
    for desc in wallets:
        _print_wallet(desc)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    wallet = wallet_from_args(args)
    if not wallet.path.is_dir():
        raise KeyfileNotFoundError(f"no wallet '{wallet.name}' in {wallet.root}; create it with `subnet wallet create`")
    desc = _describe(wallet)
    if args.json:
        print_json(desc)
    else:
        _print_wallet(desc)
    return 0


def _read_secret(value: str, what: str) -> str:
    if value != "-":
        return value
    text = sys.stdin.readline().strip()
    if not text:
        raise WalletError(f"no {what} on stdin")
    return text


def cmd_regen(args: argparse.Namespace) -> int:
    wallet = wallet_from_args(args)
    mnemonic = _read_secret(args.mnemonic, "mnemonic") if args.mnemonic is not None else None
    seed = _read_secret(args.seed, "seed") if args.seed is not None else None
    if args.key == "coldkey":
        if not args.overwrite and wallet.coldkey_path.exists():
            raise WalletError(f"{wallet.coldkey_path} already exists; pass --overwrite to replace it")
        password = read_password(args, f"coldkey of wallet '{wallet.name}'", confirm=True)
        keypair = wallet.regen_coldkey(password, mnemonic=mnemonic, seed_hex=seed, overwrite=args.overwrite)
    else:
        if not args.overwrite and wallet.hotkey_path().exists():
            raise WalletError(f"{wallet.hotkey_path()} already exists; pass --overwrite to replace it")
        password = read_password(args, f"hotkey '{wallet.hotkey}'", confirm=True) if args.encrypt else None
        keypair = wallet.regen_hotkey(password, mnemonic=mnemonic, seed_hex=seed, overwrite=args.overwrite)
    if args.json:
        print_json({"wallet": wallet.name, "key": args.key, "ss58_address": keypair.ss58_address})
    else:
        name = "coldkey" if args.key == "coldkey" else f"hotkey '{wallet.hotkey}'"
        print(f"Restored {name} of wallet '{wallet.name}': {keypair.ss58_address}")
    return 0


def cmd_sign(args: argparse.Namespace) -> int:
    wallet = wallet_from_args(args)
    if args.use_hotkey:
        info = wallet.hotkey_info()
        password = read_password(args, f"hotkey '{wallet.hotkey}'") if info.encrypted else None
        keypair = wallet.load_hotkey(password)
    else:
        if not wallet.coldkey_path.exists():
            raise KeyfileNotFoundError(f"no coldkey at {wallet.coldkey_path}; create or restore it first")
        keypair = wallet.load_coldkey(read_password(args, f"coldkey of wallet '{wallet.name}'"))
    signature = keypair.sign(args.message.encode()).hex()
    if args.json:
        print_json({"ss58_address": keypair.ss58_address, "signature": signature})
    else:
        print(f"signer     {keypair.ss58_address}")
        print(f"signature  {signature}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    try:
        signature = bytes.fromhex(args.signature.removeprefix("0x"))
    except ValueError:
        raise WalletError("the signature must be hex digits") from None
    if verify_signature(args.address, args.message.encode(), signature):
        print(f"valid: {args.address} signed this message")
        return 0
    print(f"INVALID: this is not {args.address}'s signature of this message", file=sys.stderr)
    return 1
