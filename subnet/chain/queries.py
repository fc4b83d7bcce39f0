"""Read-only views of the chain state as protobuf messages (no signature needed to ask for them)."""

from __future__ import annotations

from consensus.emission import SUPPLY_CAP, block_reward, blocks_until_halving, next_halving_issuance
from subnet.chain.state import ChainState, WeightRow
from subnet.chain.store import Header
from subnet.proto import subnet_pb2 as pb


def status(state: ChainState, head: Header, block_time_s: float) -> pb.ChainStatus:
    ledger = state.ledger
    return pb.ChainStatus(
        block=state.block, header_hash=head.hash, genesis_hash=state.genesis_hash, issuance=ledger.issuance,
        pending=ledger.pending, recycled=ledger.recycled, minted=ledger.minted, burn=state.burn,
        tempo=state.hyper.tempo, last_epoch_block=state.last_epoch_block, epoch_index=state.epoch_index,
        block_reward=block_reward(ledger.issuance), block_time_s=block_time_s, neurons=len(state.neurons),
        next_halving_issuance=next_halving_issuance(ledger.issuance) if ledger.issuance < SUPPLY_CAP else SUPPLY_CAP,
        blocks_until_halving=(blocks_until_halving(ledger.issuance) or 0) if ledger.issuance < SUPPLY_CAP else 0,
    )


def metagraph(state: ChainState, include_matrices: bool) -> pb.MetagraphResponse:
    stake = state.stake_by_hotkey()
    cutoff = state.hyper.activity_cutoff
    neurons = [
        pb.NeuronInfo(
            uid=n.uid, hotkey=n.hotkey, coldkey=n.coldkey, stake=stake.get(n.hotkey, 0),
            consensus_u16=n.consensus_u16, incentive_u16=n.incentive_u16, dividends_u16=n.dividends_u16,
            trust_u16=n.trust_u16, emission=n.emission, validator_permit=n.validator_permit,
            active=n.last_update + cutoff >= state.block, last_update=n.last_update, registered_at=n.registered_at,
            endpoint=n.endpoint, model_name=n.model_name, model_hash=n.model_hash, tls_certificate=n.tls_certificate,
        )
        for n in state.neurons
    ]
    response = pb.MetagraphResponse(block=state.block, tempo=state.hyper.tempo, issuance=state.ledger.issuance,
                                    pending=state.ledger.pending, owner_hotkey=state.owner_hotkey, neurons=neurons,
                                    admitted_models=[pb.AdmittedModel(model_hash=m.model_hash, name=m.name,
                                                                      dtype=m.dtype) for m in state.admitted_models])
    if include_matrices:
        response.weights.extend(_rows(state.weights))
        response.bonds.extend(_rows(state.bonds))
    return response


def _rows(rows: dict[int, WeightRow]) -> list[pb.SparseRow]:
    return [pb.SparseRow(uid=uid, uids=[j for j, _ in row], values=[v for _, v in row])
            for uid, row in sorted(rows.items())]


def balance(state: ChainState, address: str, entries: list[tuple[tuple[str, str], int]]) -> pb.BalanceResponse:
    """``entries``: the stake entries, copied by ``ChainNode.stake_entries`` (O(entries); each costs its owner the
    existential deposit)."""
    ledger = state.ledger
    stakes = [pb.StakeEntry(coldkey=c, hotkey=h, amount=a) for (c, h), a in sorted(entries) if address in (c, h)]
    return pb.BalanceResponse(address=address, free=ledger.balance(address), stakes=stakes, block=state.block)


def hyperparameters(state: ChainState) -> pb.HyperparametersResponse:
    values = {k: int(v) for k, v in state.hyper.to_dict().items()}
    return pb.HyperparametersResponse(values=values, block=state.block)


def header(h: Header) -> pb.BlockHeader:
    return pb.BlockHeader(height=h.height, hash=h.hash, parent=h.parent, tx_root=h.tx_root, state_root=h.state_root,
                          time_ms=h.time_ms, minted=h.minted, epoch=h.epoch_paid is not None,
                          epoch_paid=h.epoch_paid or 0, issuance=h.issuance, recycled=h.recycled)
