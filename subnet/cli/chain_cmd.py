"""Chain commands: ``subnet register``, ``stake add|remove``, ``transfer``, ``weights commit|reveal``,
``metagraph``, ``balance`` and ``chain status``.

Amounts are typed and shown in tokens and sent in units (1 token = 10^9 units). ``--json`` on every read command
prints machine-readable output (amounts in units).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
from collections.abc import Awaitable, Callable
from decimal import Decimal

from consensus.units import UNITS_PER_TOKEN
from subnet.chain import calls
from subnet.chain.client import ChainClient, ChainUnavailable, TransactionRefused, add_chain_trust_flags
from subnet.chain.commit import commit_hash
from subnet.chain.genesis import tokens_to_units
from subnet.cli.common import (
    add_json_arg,
    add_prompt_args,
    add_wallet_args,
    print_json,
    read_password,
    wallet_from_args,
)
from subnet.errors import SubnetError
from subnet.keys import Keypair
from subnet.metagraph import Metagraph

ENDPOINT_ENV = "SUBNET_CHAIN_ENDPOINT"


class ChainCommandError(SubnetError):
    """A chain command failed (refused transaction, unreachable node, bad input)."""


def tokens(units: int) -> str:
    """Units shown as tokens, exact, without trailing zeros."""
    text = f"{Decimal(units) / UNITS_PER_TOKEN:.9f}".rstrip("0").rstrip(".")
    return text or "0"


def _units(text: str) -> int:
    try:
        units = tokens_to_units(text)
    except ValueError as exc:
        raise ChainCommandError(f"{exc}: amounts are in tokens, e.g. 1.5") from None
    if units == 0:
        raise ChainCommandError("the amount must be positive")
    return units


def _add_endpoint(p: argparse.ArgumentParser) -> None:
    p.add_argument("--chain.endpoint", "--chain-endpoint", "--chain_endpoint", dest="chain_endpoint",
                   default=os.environ.get(ENDPOINT_ENV, "127.0.0.1:9944"), metavar="HOST:PORT",
                   help=f"the chain node (default: ${ENDPOINT_ENV} or 127.0.0.1:9944)")
    add_chain_trust_flags(p)


def _run(args: argparse.Namespace, work: Callable[[ChainClient], Awaitable[int]]) -> int:
    async def go() -> int:
        async with ChainClient(args.chain_endpoint, node_address=args.chain_node_address,
                               tls_ca=args.chain_tls_ca, reconnect_budget_s=5) as client:
            return await work(client)

    try:
        return asyncio.run(go())
    except TransactionRefused as exc:
        raise ChainCommandError(f"the chain refused the transaction ({exc.reason}): {exc.message}") from None
    except ChainUnavailable as exc:
        raise ChainCommandError(f"{exc}; is subnet-chain running there? (--chain.endpoint)") from None


def _coldkey(args: argparse.Namespace) -> Keypair:
    wallet = wallet_from_args(args)
    return wallet.load_coldkey(read_password(args, f"coldkey of wallet '{wallet.name}'"))


def _hotkey(args: argparse.Namespace) -> Keypair:
    wallet = wallet_from_args(args)
    if wallet.hotkey_info().encrypted:
        return wallet.load_hotkey(read_password(args, f"hotkey '{wallet.hotkey}'"))
    return wallet.load_hotkey()


def _report(args: argparse.Namespace, what: str, result, **extra: object) -> int:
    if getattr(args, "json", False):
        print_json({"ok": result.ok, "tx_hash": result.tx_hash, "block": result.block, **extra})
    else:
        print(f"{what}: included in block {result.block} (tx {result.tx_hash[:16]}...)")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    def command(parser: argparse.ArgumentParser, func, *, wallet: bool = True, json: bool = True) -> None:
        _add_endpoint(parser)
        if wallet:
            add_wallet_args(parser)
            add_prompt_args(parser)
        if json:
            add_json_arg(parser)
        parser.set_defaults(func=func)

    command(subparsers.add_parser("register", help="register the wallet's hotkey (pays the burn price)"),
            cmd_register)

    stake = subparsers.add_parser("stake", help="add or remove stake")
    stake.set_defaults(group_parser=stake)
    stake_sub = stake.add_subparsers(dest="stake_command", metavar="COMMAND")
    for name, func in (("add", cmd_stake_add), ("remove", cmd_stake_remove)):
        p = stake_sub.add_parser(name, help=f"{name} stake (tokens) on a hotkey")
        p.add_argument("--amount", required=True, help="tokens, e.g. 10 or 0.5")
        p.add_argument("--hotkey-address", dest="hotkey_address", default=None,
                       help="SS58 of the hotkey to stake on (default: the wallet's hotkey); another's is delegation")
        command(p, func)

    p = subparsers.add_parser("transfer", help="send tokens from the wallet's coldkey")
    p.add_argument("--dest", required=True, help="SS58 address of the receiver")
    p.add_argument("--amount", required=True, help="tokens")
    command(p, cmd_transfer)

    weights = subparsers.add_parser("weights", help="commit-reveal weights by hand")
    weights.set_defaults(group_parser=weights)
    weights_sub = weights.add_subparsers(dest="weights_command", metavar="COMMAND")
    for name, func in (("commit", cmd_weights_commit), ("reveal", cmd_weights_reveal)):
        p = weights_sub.add_parser(name, help=f"{name} a weight row")
        p.add_argument("--uids", required=True, help="comma-separated uids")
        p.add_argument("--weights", required=True, help="comma-separated non-negative weights (any scale)")
        p.add_argument("--salt", default=None, help="hex salt (commit: generated if absent and printed)")
        p.add_argument("--version-key", type=int, default=0)
        command(p, func)

    models = subparsers.add_parser("models", help="the models the subnet admits (miners earn only on these)")
    models.set_defaults(group_parser=models)
    models_sub = models.add_subparsers(dest="models_command", metavar="COMMAND")
    command(models_sub.add_parser("list", help="show the admitted models"), cmd_models_list, wallet=False)
    p = models_sub.add_parser("set", help="replace the admitted models (the owner's coldkey signs)")
    p.add_argument("models", nargs="*", metavar="NAME=HASH[:DTYPE]",
                   help="each admitted model: a display name, the weights' SHA-256 as miners commit it, and "
                        "optionally the precision miners must declare (float32, bfloat16, float16); none admits none")
    command(p, cmd_models_set)

    command(subparsers.add_parser("metagraph", help="show every uid: stake, incentive, dividends, emission..."),
            cmd_metagraph, wallet=False)
    p = subparsers.add_parser("balance", help="free balance and stake of an address (default: the wallet's)")
    p.add_argument("--address", default=None)
    command(p, cmd_balance)
    chain = subparsers.add_parser("chain", help="the chain node")
    chain.set_defaults(group_parser=chain)
    chain_sub = chain.add_subparsers(dest="chain_command", metavar="COMMAND")
    command(chain_sub.add_parser("status", help="block, issuance, pending emission, head hash"), cmd_status,
            wallet=False)


def cmd_register(args: argparse.Namespace) -> int:
    hotkey = _hotkey(args)  # the hotkey signs its consent to belong to this coldkey
    coldkey = _coldkey(args)
    return _run(args, lambda c: _then(c.register(coldkey, hotkey), lambda r: _report(args, "registered", r)))


def cmd_stake_add(args: argparse.Namespace) -> int:
    return _stake(args, add=True)


def cmd_stake_remove(args: argparse.Namespace) -> int:
    return _stake(args, add=False)


def _stake(args: argparse.Namespace, *, add: bool) -> int:
    amount = _units(args.amount)
    hotkey = args.hotkey_address or wallet_from_args(args).hotkey_info().ss58_address
    coldkey = _coldkey(args)
    call = (lambda c: c.add_stake(coldkey, hotkey, amount)) if add else (lambda c: c.remove_stake(coldkey, hotkey, amount))
    what = f"{'staked' if add else 'unstaked'} {tokens(amount)} on {hotkey}"
    return _run(args, lambda c: _then(call(c), lambda r: _report(args, what, r)))


def cmd_transfer(args: argparse.Namespace) -> int:
    amount = _units(args.amount)
    coldkey = _coldkey(args)
    what = f"sent {tokens(amount)} to {args.dest}"
    return _run(args, lambda c: _then(c.transfer(coldkey, args.dest, amount), lambda r: _report(args, what, r)))


def _row(args: argparse.Namespace) -> tuple[list[int], list[int]]:
    from consensus.weights import WeightsError, weights_to_u16

    try:
        uids = [int(u) for u in args.uids.split(",")]
        values = weights_to_u16([float(w) for w in args.weights.split(",")])
    except (ValueError, WeightsError) as exc:
        raise ChainCommandError(f"--uids and --weights must be comma-separated numbers: {exc}") from None
    if len(uids) != len(values):
        raise ChainCommandError("give as many --weights as --uids")
    return uids, values


def _salt(text: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ChainCommandError(f"--salt must be hex (as printed at commit time), got {text!r}") from None


def cmd_weights_commit(args: argparse.Namespace) -> int:
    uids, values = _row(args)
    salt = _salt(args.salt) if args.salt else secrets.token_bytes(16)
    hotkey = _hotkey(args)
    digest = commit_hash(hotkey.ss58_address, uids, values, salt, args.version_key)
    # Shown before submitting: if the answer is lost, the commit may still land and the salt is needed to reveal.
    # With --json it goes to stderr, so stdout stays one JSON document (which carries the salt too).
    print(f"salt (keep it for the reveal): {salt.hex()}", file=sys.stderr if args.json else sys.stdout, flush=True)
    return _run(args, lambda c: _then(c.commit_weights(hotkey, digest),
                                      lambda r: _report(args, "committed", r, salt=salt.hex(),
                                                        commit_hash=digest.hex())))


def cmd_weights_reveal(args: argparse.Namespace) -> int:
    if not args.salt:
        raise ChainCommandError("--salt is required to reveal (the hex salt printed at commit time)")
    uids, values = _row(args)
    salt = _salt(args.salt)
    hotkey = _hotkey(args)
    return _run(args, lambda c: _then(c.reveal_weights(hotkey, uids, values, salt, args.version_key),
                                      lambda r: _report(args, "revealed", r)))


async def _then(awaitable: Awaitable, then: Callable) -> int:
    return then(await awaitable)


def _admitted_model(spec: str) -> calls.AdmittedModel:
    name, sep, rest = spec.rpartition("=")
    model_hash, _, dtype = rest.partition(":")
    if not sep or not name:
        raise ChainCommandError(f"{spec!r} is not NAME=HASH[:DTYPE], e.g. SmolLM2=ab12...:float32")
    return calls.AdmittedModel(model_hash.strip().lower(), name.strip(), dtype.strip())


def cmd_models_set(args: argparse.Namespace) -> int:
    models = [_admitted_model(spec) for spec in args.models]
    coldkey = _coldkey(args)
    what = f"admitted {len(models)} model(s)"
    return _run(args, lambda c: _then(c.set_admitted_models(coldkey, models), lambda r: _report(args, what, r)))


def cmd_models_list(args: argparse.Namespace) -> int:
    async def work(client: ChainClient) -> int:
        graph = await Metagraph.sync(client)
        if args.json:
            print_json(graph.to_json()["admitted_models"])
            return 0
        if not graph.admitted_models:
            print("no admitted models: validators pay only miners that serve a model they hold themselves "
                  "(the owner admits models with `subnet models set`)")
        for m in graph.admitted_models:
            serving = sum(1 for a in graph.axons if a.endpoint and a.model_hash == m.model_hash)
            print(f"{m.name}  {m.model_hash}  dtype {m.dtype or 'any'}  served by {serving} miner(s)")
        return 0

    return _run(args, work)


def cmd_metagraph(args: argparse.Namespace) -> int:
    async def work(client: ChainClient) -> int:
        graph = await Metagraph.sync(client)
        if args.json:
            print_json(graph.to_json())
            return 0
        print(f"block {graph.block}  tempo {graph.tempo}  issuance {tokens(graph.issuance)}  "
              f"pending {tokens(graph.pending)}")
        print(f"{'uid':>4} {'hotkey':<12} {'role':<9} {'stake':>14} {'incentive':>9} {'dividends':>9} "
              f"{'trust':>6} {'emission':>14}  endpoint / model")
        for i in range(graph.n):
            role = ("owner" if graph.hotkeys[i] == graph.owner_hotkey else "miner" if graph.axons[i].endpoint
                    else "validator" if graph.validator_permit[i] else "-")
            print(f"{i:>4} {graph.hotkeys[i][:10] + '..':<12} {role:<9} {tokens(int(graph.stake_units[i])):>14} "
                  f"{graph.I[i]:>9.4f} {graph.D[i]:>9.4f} {graph.Tv[i]:>6.3f} {tokens(int(graph.E[i])):>14}  "
                  f"{graph.axons[i].endpoint} {graph.axons[i].model_name}"
                  f"{' (not admitted)' if graph.axons[i].endpoint and not graph.admitted(graph.axons[i].model_hash) else ''}")
        return 0

    return _run(args, work)


def cmd_balance(args: argparse.Namespace) -> int:
    address = args.address or wallet_from_args(args).coldkey_ss58()

    async def work(client: ChainClient) -> int:
        balance = await client.balance(address)
        if args.json:
            print_json({"address": address, "free": balance.free, "block": balance.block,
                        "stakes": [{"coldkey": s.coldkey, "hotkey": s.hotkey, "amount": s.amount}
                                   for s in balance.stakes]})
            return 0
        print(f"{address}: free {tokens(balance.free)}")
        for s in balance.stakes:
            print(f"  stake {tokens(s.amount)}: coldkey {s.coldkey} -> hotkey {s.hotkey}")
        return 0

    return _run(args, work)


def cmd_status(args: argparse.Namespace) -> int:
    async def work(client: ChainClient) -> int:
        s = await client.status()
        doc = {"block": s.block, "issuance": s.issuance, "pending": s.pending, "recycled": s.recycled,
               "minted": s.minted, "header_hash": s.header_hash, "genesis_hash": s.genesis_hash, "burn": s.burn,
               "tempo": s.tempo, "epoch_index": s.epoch_index, "last_epoch_block": s.last_epoch_block,
               "block_reward": s.block_reward, "neurons": s.neurons}
        if args.json:
            print_json(doc)
        else:
            for key, value in doc.items():
                shown = tokens(value) if key in ("issuance", "pending", "recycled", "minted", "burn",
                                                 "block_reward") else value
                print(f"{key:>16}: {shown}")
        return 0

    return _run(args, work)
