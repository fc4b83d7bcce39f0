"""The state transition function: apply one signed call, and produce one block.

Every handler validates everything before it changes anything, so a refused call leaves the state untouched
(and the block producer applies each call to its own ``fork`` of the state besides, so that even an unexpected
error drops only that call). Refusals raise ``TxRejected`` with a short reason code and a message that says what
to do. Fields were checked by ``validation.check_call`` when the transaction was admitted; handlers check again.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from consensus import ledger as ledger_rules
from consensus.weights import WeightsError, process_weights
from subnet.chain import calls
from subnet.chain.commit import commit_hash
from subnet.chain.epoch import EpochReport, run_epoch
from subnet.chain.params import Hyperparameters
from subnet.chain.registration import check_registration_proof
from subnet.chain.state import ChainState, Neuron, WeightCommit
from subnet.chain.validation import TxRejected, check_address, check_call

__all__ = ["TxRejected", "apply_call", "begin_block", "fee_payer"]

MAX_PENDING_COMMITS = 10


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


def fee_payer(state: ChainState, signer: str, call: calls.Call) -> str | None:
    """The coldkey whose free balance pays ``call``'s fee: the signer for coldkey calls, the owner of the signing
    hotkey for hotkey calls (None when the hotkey has no owner: nobody can pay, so the call is not admitted)."""
    if isinstance(call, calls.Serve | calls.SetWeights | calls.CommitWeights | calls.RevealWeights):
        return state.ledger.hotkey_owner.get(signer)
    return signer


def apply_call(state: ChainState, signer: str, call: calls.Call) -> None:
    """Apply one call signed by ``signer`` to ``state`` in place, or raise TxRejected having changed nothing."""
    handler = _HANDLERS.get(type(call))
    if handler is None:
        raise TxRejected("unknown_call", "this node does not know the call")
    check_call(call)
    try:
        handler(state, signer, call)
    except ledger_rules.LedgerError as exc:
        raise TxRejected(exc.reason if hasattr(exc, "reason") else "ledger", str(exc)) from None
    except WeightsError as exc:
        raise TxRejected(exc.reason, str(exc)) from None


# --- helpers ----------------------------------------------------------------------------------------------


_address = check_address


def _neuron_of(state: ChainState, hotkey: str) -> Neuron:
    """The signer's neuron, copied for changing (see ``ChainState.edit_neuron``)."""
    uid = state.uid_of(hotkey)
    if uid is None:
        raise TxRejected("not_registered", f"hotkey {hotkey} is not registered on this subnet: run `subnet register`")
    return state.edit_neuron(uid)


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
    stake = state.ledger.hotkey_stake(neuron.hotkey)
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
    ledger_rules.transfer(state.ledger, signer, _address(call.dest, "destination"), call.amount,
                          existential_deposit=state.hyper.existential_deposit)


def _register(state: ChainState, signer: str, call: calls.Register) -> None:
    hotkey = _address(call.hotkey, "hotkey")
    # The hotkey must consent to this coldkey owning it (see subnet.chain.registration): a hotkey address alone
    # is public, and would otherwise be claimed by whichever coldkey registers it first.
    refusal = check_registration_proof(state.genesis_hash, signer, hotkey, call.hotkey_signature,
                                       call.proof_valid_until_block, state.block)
    if refusal is not None:
        raise TxRejected(*refusal)
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
    ledger_rules.recycle(state.ledger, signer, price, existential_deposit=state.hyper.existential_deposit)
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
    neuron = _neuron_of(state, signer)  # fields were checked by check_call
    neuron.endpoint, neuron.model_name, neuron.model_hash = call.endpoint, call.model_name, call.model_hash
    neuron.tls_certificate = call.tls_certificate.decode("ascii")


def _add_stake(state: ChainState, signer: str, call: calls.AddStake) -> None:
    hotkey = _address(call.hotkey, "hotkey")
    if hotkey not in state.ledger.hotkey_owner:
        raise TxRejected("unknown_hotkey", f"hotkey {hotkey} was never registered: stake to a registered hotkey")
    ledger_rules.add_stake(state.ledger, signer, hotkey, call.amount, existential_deposit=state.hyper.existential_deposit)


def _remove_stake(state: ChainState, signer: str, call: calls.RemoveStake) -> None:
    ledger_rules.remove_stake(state.ledger, signer, _address(call.hotkey, "hotkey"), call.amount,
                              existential_deposit=state.hyper.existential_deposit)


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
        raise TxRejected("unknown_hyperparameter", f"no hyperparameter has that name; known: {', '.join(names)}")
    value = call.value
    if names[call.name] == "bool":
        if value not in (0, 1):
            raise TxRejected("invalid_hyperparameter", f"{call.name} is a flag: send 0 or 1")
        value = bool(value)
    try:
        state.hyper = state.hyper.replace(**{call.name: value})
    except ValueError as exc:
        raise TxRejected("invalid_hyperparameter", str(exc)) from None


def _set_admitted_models(state: ChainState, signer: str, call: calls.SetAdmittedModels) -> None:
    if signer != state.owner_coldkey:
        raise TxRejected("not_owner", "only the subnet owner's coldkey can change the admitted models")
    state.admitted_models = call.models


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
    calls.SetAdmittedModels: _set_admitted_models,
}
