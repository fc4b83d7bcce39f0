"""The genesis file (TOML): the subnet owner, hyperparameters and funded development accounts.

    [subnet]
    owner_coldkey = "5F..."
    owner_hotkey = "5G..."

    [hyperparameters]          # any field of subnet.chain.params.Hyperparameters
    tempo = 10
    yuma3 = true

    [[accounts]]
    address = "5H..."
    balance = "1000.5"         # tokens (a string or a number); or balance_units = 1000500000000

    [[admitted_models]]        # optional: models miners may be paid for (the owner changes them later on chain)
    model_hash = "ab12..."     # SHA-256 of the weights, as miners commit it (`subnet-miner` prints it)
    name = "SmolLM2-135M-Instruct"
    dtype = ""                 # the precision miners must declare: float32, bfloat16, float16, or "" for any

``[subnet] node_address`` optionally pins the chain node's key (see ``subnet.chain.node_key``).

Initial balances count in issuance. The genesis hash (over the canonical form) identifies the chain: it is
signed into every transaction and stored in the data dir, so a data dir is never reused with another genesis.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from consensus import ledger as ledger_rules
from consensus.emission import SUPPLY_CAP
from consensus.ledger import Ledger
from consensus.units import UNITS_PER_TOKEN
from subnet import ss58
from subnet.chain.calls import AdmittedModel
from subnet.chain.params import Hyperparameters
from subnet.chain.state import ChainState, Neuron
from subnet.chain.validation import TxRejected, check_admitted_models


class GenesisError(ValueError):
    """The genesis file is missing something or holds an invalid value."""


@dataclass(frozen=True)
class Genesis:
    owner_coldkey: str
    owner_hotkey: str
    hyper: Hyperparameters
    accounts: tuple[tuple[str, int], ...]  # (coldkey, units), sorted
    # The chain node's key (SS58). When set, the node refuses to run under any other key, and clients that pin it
    # (``--chain.node-address``) accept only query answers this key signed.
    node_address: str | None = None
    admitted_models: tuple[AdmittedModel, ...] = ()  # models miners may be paid for, from block 0

    @property
    def hash(self) -> str:
        canonical = {
            "owner_coldkey": self.owner_coldkey, "owner_hotkey": self.owner_hotkey,
            "hyperparameters": self.hyper.to_dict(), "accounts": [list(a) for a in self.accounts],
        }
        if self.node_address is not None:  # absent otherwise, so genesis files without it keep their hash
            canonical["node_address"] = self.node_address
        if self.admitted_models:  # likewise
            canonical["admitted_models"] = [dataclasses.asdict(m) for m in self.admitted_models]
        return hashlib.sha256(json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()).hexdigest()

    def to_toml(self) -> str:
        lines = ["[subnet]", f'owner_coldkey = "{self.owner_coldkey}"', f'owner_hotkey = "{self.owner_hotkey}"']
        if self.node_address is not None:
            lines.append(f'node_address = "{self.node_address}"')
        lines += ["", "[hyperparameters]"]
        for name, value in self.hyper.to_dict().items():
            lines.append(f"{name} = {str(value).lower() if isinstance(value, bool) else value}")
        for address, units in self.accounts:
            lines += ["", "[[accounts]]", f'address = "{address}"', f"balance_units = {units}"]
        for m in self.admitted_models:
            lines += ["", "[[admitted_models]]", f'model_hash = "{m.model_hash}"', f"name = {json.dumps(m.name)}",
                      f'dtype = "{m.dtype}"']
        return "\n".join(lines) + "\n"

    def initial_state(self) -> ChainState:
        """Block 0: funded accounts, the owner's hotkey at uid 0 (immune, permitted), the initial burn price."""
        ledger = Ledger()
        for address, units in self.accounts:
            ledger_rules.genesis_credit(ledger, address, units)
        ledger_rules.associate_hotkey(ledger, self.owner_coldkey, self.owner_hotkey)
        owner = Neuron(uid=0, hotkey=self.owner_hotkey, coldkey=self.owner_coldkey, registered_at=0,
                       last_update=0, validator_permit=True)
        state = ChainState(genesis_hash=self.hash, hyper=self.hyper, ledger=ledger,
                           owner_coldkey=self.owner_coldkey, owner_hotkey=self.owner_hotkey,
                           burn=self.hyper.burn_initial, neurons=[owner], admitted_models=self.admitted_models)
        ledger.check_invariant()
        return state


def tokens_to_units(value: object) -> int:
    """Exact conversion of a token amount (int, decimal string or float literal from TOML) to units."""
    try:
        amount = Decimal(str(value)) * UNITS_PER_TOKEN
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a token amount") from None
    if amount != amount.to_integral_value() or amount < 0:
        raise ValueError(f"{value!r} must be a non-negative amount with at most 9 decimals")
    return int(amount)


def parse_genesis(text: str) -> Genesis:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise GenesisError(f"genesis is not valid TOML: {exc}") from None
    subnet = doc.get("subnet", {})
    owner_coldkey, owner_hotkey = subnet.get("owner_coldkey"), subnet.get("owner_hotkey")
    for name, value in (("owner_coldkey", owner_coldkey), ("owner_hotkey", owner_hotkey)):
        if not ss58.is_valid(value):
            raise GenesisError(f"[subnet] {name} must be an SS58 address, got {value!r}")
    node_address = subnet.get("node_address")
    if node_address is not None and not ss58.is_valid(node_address):
        raise GenesisError(f"[subnet] node_address must be the chain node key's SS58 address, got {node_address!r}")
    try:
        hyper = Hyperparameters.from_dict(doc.get("hyperparameters", {}))
    except (TypeError, ValueError) as exc:
        raise GenesisError(f"[hyperparameters]: {exc}") from None
    totals: dict[str, int] = {}
    for i, account in enumerate(doc.get("accounts", [])):
        address = account.get("address")
        if not ss58.is_valid(address):
            raise GenesisError(f"accounts[{i}].address must be an SS58 address, got {address!r}")
        try:
            units = account["balance_units"] if "balance_units" in account else tokens_to_units(account["balance"])
        except (KeyError, ValueError) as exc:
            raise GenesisError(f"accounts[{i}] needs a valid balance (tokens) or balance_units: {exc}") from None
        if not isinstance(units, int) or isinstance(units, bool) or units < 0:
            raise GenesisError(f"accounts[{i}].balance_units must be a non-negative integer")
        totals[address] = totals.get(address, 0) + units
    for address, units in totals.items():
        if units < hyper.existential_deposit:  # a zero or dust account could never exist on the chain
            raise GenesisError(f"account {address} starts with {units} units, below the existential deposit of "
                               f"{hyper.existential_deposit}: fund it with at least that much or leave it out")
    if sum(totals.values()) > SUPPLY_CAP:
        raise GenesisError("genesis balances exceed the 21,000,000 token supply cap")
    admitted = []
    for i, entry in enumerate(doc.get("admitted_models", [])):
        try:
            admitted.append(AdmittedModel(str(entry["model_hash"]), str(entry["name"]), str(entry.get("dtype", ""))))
        except (KeyError, TypeError):
            raise GenesisError(f"admitted_models[{i}] needs model_hash and name (and optionally dtype)") from None
    try:
        check_admitted_models(tuple(admitted))
    except TxRejected as exc:
        raise GenesisError(f"[[admitted_models]]: {exc}") from None
    return Genesis(owner_coldkey, owner_hotkey, hyper, tuple(sorted(totals.items())), node_address, tuple(admitted))


def load_genesis(path: str | Path) -> Genesis:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise GenesisError(f"cannot read genesis file {path}: {exc.strerror}") from None
    return parse_genesis(text)
