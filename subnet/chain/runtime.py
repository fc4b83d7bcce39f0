"""The state transition function: apply one signed call, and produce one block.

Every handler validates everything before it changes anything, so a refused call leaves the state untouched.
Refusals raise ``TxRejected`` with a short reason code and a message that says what to do.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from consensus import ledger as ledger_rules
from consensus.weights import WeightsError, process_weights
from subnet import ss58
from subnet.chain import calls
from subnet.chain.commit import commit_hash
from subnet.chain.epoch import EpochReport, run_epoch
from subnet.chain.params import Hyperparameters
from subnet.chain.state import ChainState, Neuron, WeightCommit

MAX_PENDING_COMMITS = 10
MAX_ENDPOINT_CHARS = 255
MAX_MODEL_FIELD_CHARS = 256
MAX_TLS_CERT_CHARS = 16_384


class TxRejected(Exception):
    """A transaction the chain refuses; ``reason`` is a stable short code, the message says what to do."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class BlockOutcome:
    minted: int
    epoch: EpochReport | None


def begin_block(state: ChainState) -> BlockOutcome:
    """Start block ``state.block + 1``: decay the burn price, mint the block reward, run the epoch when due."""
    state.block += 1
    hp = state.hyper
    num, den = hp.burn_decay()
    state.burn = max(hp.burn_min, state.burn * num // den)
    minted = ledger_rules.mint_block(state.ledger)
    report = run_epoch(state) if state.block - state.last_epoch_block >= hp.tempo else None
    return BlockOutcome(minted=minted, epoch=report)


def apply_call(state: ChainState, signer: str, call: calls.Call) -> None:
    """Apply one call signed by ``signer`` to ``state`` in place, or raise TxRejected having changed nothing."""
    handler = _HANDLERS.get(type(call))
    if handler is None:
        raise TxRejected("unknown_call", f"unknown call {type(call).__name__}")
    try:
        handler(state, signer, call)
    except ledger_rules.LedgerError as exc:
        raise TxRejected(exc.reason if hasattr(exc, "reason") else "ledger", str(exc)) from None
    except WeightsError as exc:
        raise TxRejected(exc.reason, str(exc)) from None


# --- helpers ----------------------------------------------------------------------------------------------


def _address(value: str, what: str) -> str:
    if not ss58.is_valid(value):
        raise TxRejected("invalid_address", f"{what} {value!r} is not a valid SS58 address")
    return value


def _neuron_of(state: ChainState, hotkey: str) -> Neuron:
    uid = state.uid_of(hotkey)
    if uid is None:
        raise TxRejected("not_registered", f"hotkey {hotkey} is not registered on this subnet: run `subnet register`")
    return state.neurons[uid]


def _is_immune(state: ChainState, neuron: Neuron) -> bool:
    return neuron.hotkey == state.owner_hotkey or state.block - neuron.registered_at < state.hyper.immunity_period


def _uid_to_replace(state: ChainState) -> int:
    """The non-immune uid with the lowest emission (then earliest registration, then lowest uid)."""
    candidates = [nr for nr in state.neurons if not _is_immune(state, nr)]
    if not candidates:
        raise TxRejected("subnet_full", "every uid is taken and every neuron is still immune: try again later")
    return min(candidates, key=lambda nr: (nr.emission, nr.registered_at, nr.uid)).uid


def _check_can_set_weights(state: ChainState, neuron: Neuron, uids: tuple[int, ...], rate_limited: bool) -> None:
    hp = state.hyper
    if rate_limited and state.block - neuron.last_update < hp.weights_rate_limit:
        wait = hp.weights_rate_limit - (state.block - neuron.last_update)
        raise TxRejected("rate_limited", f"weights were updated at block {neuron.last_update}; wait {wait} more blocks")
    stake = sum(v for (_, hk), v in state.ledger.stakes.items() if hk == neuron.hotkey)
    if stake < hp.stake_threshold:
        raise TxRejected("stake_too_low", f"hotkey has {stake} units of stake; setting weights needs {hp.stake_threshold}")
    is_self_weight = tuple(uids) == (neuron.uid,)
    if not (neuron.validator_permit or is_self_weight or neuron.hotkey == state.owner_hotkey):
        raise TxRejected("no_validator_permit", "only the top validators by stake hold a permit to set weights; "
                         "add stake and wait for the next epoch")


def _processed_row(state: ChainState, neuron: Neuron, uids: tuple[int, ...], values: tuple[int, ...],
                   version_key: int) -> tuple[tuple[int, int], ...]:
    hp = state.hyper
    if hp.weights_version_key and version_key < hp.weights_version_key:
        raise TxRejected("stale_version", f"version key {version_key} is older than the subnet's "
                         f"{hp.weights_version_key}: upgrade your validator")
    kept_uids, kept_values = process_weights(
        uids, values, n=len(state.neurons), self_uid=neuron.uid,
        min_allowed_weights=hp.min_allowed_weights, max_weight_limit=hp.max_weight_limit_u16,
    )
    return tuple(zip(kept_uids, kept_values, strict=True))


# --- handlers ---------------------------------------------------------------------------------------------


def _transfer(state: ChainState, signer: str, call: calls.Transfer) -> None:
    ledger_rules.transfer(state.ledger, signer, _address(call.dest, "destination"), call.amount)


def _register(state: ChainState, signer: str, call: calls.Register) -> None:
    hotkey = _address(call.hotkey, "hotkey")
    uid = state.uid_of(hotkey)
    if uid is not None:
        raise TxRejected("already_registered", f"hotkey {hotkey} is already registered at uid {uid}")
    owner = state.ledger.hotkey_owner.get(hotkey)
    if owner is not None and owner != signer:
        raise TxRejected("hotkey_owned_elsewhere", f"hotkey {hotkey} belongs to another coldkey")
    price = state.burn
    if state.ledger.balance(signer) < price:
        raise TxRejected("insufficient_balance", f"registration costs {price} units; coldkey has "
                         f"{state.ledger.balance(signer)} free")
    replacing = len(state.neurons) >= state.hyper.max_uids
    uid = _uid_to_replace(state) if replacing else len(state.neurons)
    # Validation done: from here on nothing can fail.
    ledger_rules.recycle(state.ledger, signer, price)
    ledger_rules.associate_hotkey(state.ledger, signer, hotkey)
    neuron = Neuron(uid=uid, hotkey=hotkey, coldkey=signer, registered_at=state.block, last_update=state.block)
    if replacing:
        old = state.neurons[uid]
        state.commits.pop(old.hotkey, None)
        state.weights.pop(uid, None)
        state.bonds.pop(uid, None)
        # Every weight and bond that pointed at the old occupant goes too.
        state.weights = {i: tuple(e for e in row if e[0] != uid) for i, row in state.weights.items()}
        state.bonds = {i: tuple(e for e in row if e[0] != uid) for i, row in state.bonds.items()}
        state.neurons[uid] = neuron
    else:
        state.neurons.append(neuron)
    hp = state.hyper
    state.burn = min(hp.burn_max, max(hp.burn_min, state.burn * hp.burn_increase_ppm // 1_000_000))


def _serve(state: ChainState, signer: str, call: calls.Serve) -> None:
    neuron = _neuron_of(state, signer)
    host, sep, port = call.endpoint.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536 or len(call.endpoint) > MAX_ENDPOINT_CHARS:
        raise TxRejected("invalid_endpoint", f"endpoint {call.endpoint!r} must be host:port with a port in 1..65535")
    if len(call.model_name) > MAX_MODEL_FIELD_CHARS or len(call.model_hash) > MAX_MODEL_FIELD_CHARS:
        raise TxRejected("invalid_model", "model name and hash must be at most 256 characters")
    if call.model_hash and not all(c in "0123456789abcdef" for c in call.model_hash):
        raise TxRejected("invalid_model", "model hash must be lowercase hex (SHA-256 of the weights file)")
    if len(call.tls_certificate) > MAX_TLS_CERT_CHARS:
        raise TxRejected("invalid_certificate", "TLS certificate must be at most 16 KiB of PEM")
    neuron.endpoint, neuron.model_name, neuron.model_hash = call.endpoint, call.model_name, call.model_hash
    neuron.tls_certificate = call.tls_certificate.decode("ascii", "replace")


def _add_stake(state: ChainState, signer: str, call: calls.AddStake) -> None:
    hotkey = _address(call.hotkey, "hotkey")
    if hotkey not in state.ledger.hotkey_owner:
        raise TxRejected("unknown_hotkey", f"hotkey {hotkey} was never registered: stake to a registered hotkey")
    ledger_rules.add_stake(state.ledger, signer, hotkey, call.amount)


def _remove_stake(state: ChainState, signer: str, call: calls.RemoveStake) -> None:
    ledger_rules.remove_stake(state.ledger, signer, _address(call.hotkey, "hotkey"), call.amount)


def _set_weights(state: ChainState, signer: str, call: calls.SetWeights) -> None:
    neuron = _neuron_of(state, signer)
    if state.hyper.commit_reveal:
        raise TxRejected("commit_reveal_on", "this subnet uses commit-reveal: commit_weights, then reveal_weights")
    _check_can_set_weights(state, neuron, call.uids, rate_limited=True)
    row = _processed_row(state, neuron, call.uids, call.values, call.version_key)
    state.weights[neuron.uid] = row
    neuron.last_update = state.block


def _commit_weights(state: ChainState, signer: str, call: calls.CommitWeights) -> None:
    neuron = _neuron_of(state, signer)
    if not state.hyper.commit_reveal:
        raise TxRejected("commit_reveal_off", "commit-reveal is off on this subnet: use set_weights")
    if len(call.commit_hash) != 32:
        raise TxRejected("invalid_commit", "a commit is the 32-byte SHA-256 from subnet.chain.commit.commit_hash")
    _check_can_set_weights(state, neuron, (), rate_limited=True)
    pending = state.commits.get(signer, ())
    if len(pending) >= MAX_PENDING_COMMITS:
        raise TxRejected("too_many_commits", f"{MAX_PENDING_COMMITS} commits are waiting: reveal them first")
    commit = WeightCommit(commit_hash=call.commit_hash.hex(), block=state.block, epoch=state.epoch_index)
    state.commits[signer] = (*pending, commit)
    neuron.last_update = state.block


def _reveal_weights(state: ChainState, signer: str, call: calls.RevealWeights) -> None:
    neuron = _neuron_of(state, signer)
    if not state.hyper.commit_reveal:
        raise TxRejected("commit_reveal_off", "commit-reveal is off on this subnet: use set_weights")
    digest = commit_hash(signer, call.uids, call.values, call.salt, call.version_key).hex()
    pending = state.commits.get(signer, ())
    match = next((c for c in pending if c.commit_hash == digest), None)
    if match is None:
        raise TxRejected("no_matching_commit", "no pending commit matches these weights, salt and version key")
    due = match.epoch + state.hyper.reveal_period_epochs
    if state.epoch_index < due:
        raise TxRejected("reveal_too_early", f"this commit can be revealed from epoch {due} (now {state.epoch_index})")
    if state.epoch_index > due + 1:
        raise TxRejected("commit_expired", f"this commit had to be revealed in epoch {due} or {due + 1}")
    _check_can_set_weights(state, neuron, call.uids, rate_limited=False)
    row = _processed_row(state, neuron, call.uids, call.values, call.version_key)
    state.weights[neuron.uid] = row
    state.commits[signer] = tuple(c for c in pending if c is not match)
    if not state.commits[signer]:
        del state.commits[signer]
    neuron.last_update = state.block


def _set_hyperparameter(state: ChainState, signer: str, call: calls.SetHyperparameter) -> None:
    if signer != state.owner_coldkey:
        raise TxRejected("not_owner", "only the subnet owner's coldkey can change hyperparameters")
    names = {f.name: f.type for f in dataclasses.fields(Hyperparameters)}
    if call.name not in names:
        raise TxRejected("unknown_hyperparameter", f"unknown hyperparameter {call.name!r}; known: {', '.join(names)}")
    value = call.value
    if names[call.name] == "bool":
        if value not in (0, 1):
            raise TxRejected("invalid_hyperparameter", f"{call.name} is a flag: send 0 or 1")
        value = bool(value)
    try:
        state.hyper = state.hyper.replace(**{call.name: value})
    except ValueError as exc:
        raise TxRejected("invalid_hyperparameter", str(exc)) from None


_HANDLERS = {
    calls.Transfer: _transfer,
    calls.Register: _register,
    calls.Serve: _serve,
    calls.AddStake: _add_stake,
    calls.RemoveStake: _remove_stake,
    calls.SetWeights: _set_weights,
    calls.CommitWeights: _commit_weights,
    calls.RevealWeights: _reveal_weights,
    calls.SetHyperparameter: _set_hyperparameter,
}
