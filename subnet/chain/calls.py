"""The calls a transaction can carry, as plain data. The wire codec builds these from the protobuf messages;
the runtime applies them. Amounts are integer units; weights are u16 values."""

from __future__ import annotations

from dataclasses import dataclass

COLDKEY_CALLS = ("transfer", "register", "add_stake", "remove_stake", "set_hyperparameter", "set_admitted_models")
HOTKEY_CALLS = ("serve", "set_weights", "commit_weights", "reveal_weights")


@dataclass(frozen=True)
class Transfer:
    dest: str
    amount: int


@dataclass(frozen=True)
class Register:
    hotkey: str  # the coldkey signing the transaction becomes the hotkey's owner
    hotkey_signature: bytes  # the hotkey's consent: subnet.chain.registration.sign_registration
    proof_valid_until_block: int  # the last block that consent is good for


@dataclass(frozen=True)
class Serve:
    endpoint: str  # host:port
    model_name: str = ""
    model_hash: str = ""  # hex SHA-256 of the weights file
    tls_certificate: bytes = b""


@dataclass(frozen=True)
class AddStake:
    hotkey: str
    amount: int


@dataclass(frozen=True)
class RemoveStake:
    hotkey: str
    amount: int


@dataclass(frozen=True)
class SetWeights:
    uids: tuple[int, ...]
    values: tuple[int, ...]
    version_key: int = 0


@dataclass(frozen=True)
class CommitWeights:
    commit_hash: bytes  # see subnet.chain.commit.commit_hash


@dataclass(frozen=True)
class RevealWeights:
    uids: tuple[int, ...]
    values: tuple[int, ...]
    salt: bytes
    version_key: int = 0


@dataclass(frozen=True)
class SetHyperparameter:
    name: str
    value: int | bool


@dataclass(frozen=True)
class AdmittedModel:
    """A model the subnet owner admits: miners committed to it can be paid. ``dtype`` is the precision a miner
    serving it must declare ("" = any), so an owner can require e.g. float32 for the strict spot check."""

    model_hash: str  # lowercase hex SHA-256 of the weights, as in Serve
    name: str
    dtype: str = ""


@dataclass(frozen=True)
class SetAdmittedModels:
    models: tuple[AdmittedModel, ...]  # replaces the whole list


Call = Transfer | Register | Serve | AddStake | RemoveStake | SetWeights | CommitWeights | RevealWeights | SetHyperparameter | SetAdmittedModels
