"""Registering a hotkey needs the hotkey's own signature (subnet.chain.registration): a coldkey that only knows a
hotkey's address cannot claim it. Through ChainNode with a real store, then over gRPC against a real process."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from subnet.chain import calls
from subnet.chain.client import ChainClient, TransactionRefused
from subnet.chain.codec import build_transaction, decode_transaction
from subnet.chain.params import Hyperparameters
from subnet.chain.registration import (
    MAX_PROOF_WINDOW_BLOCKS,
    REGISTER_DOMAIN,
    registration_message,
    sign_registration,
)
from subnet.chain.runtime import TxRejected
from subnet.keys import Keypair
from subnet.proto import subnet_pb2_grpc as pb_grpc
from tests.chain_fixtures import DevKeys, start_chain
from tests.test_chain_runtime import FAST, TOKEN, Net

# Fees on, so the tests can see that a refused registration still pays its fee (and only its fee).
FEES = FAST.replace(tx_fee_base=Hyperparameters().tx_fee_base, tx_fee_per_byte=Hyperparameters().tx_fee_per_byte)


@pytest.fixture
def net(tmp_path: Path) -> Net:
    n = Net(tmp_path / "chain", FEES)
    yield n
    n.node.close()


def _proof(net: Net, signer: Keypair, *, coldkey: str, hotkey: str, valid_until: int,
           genesis_hash: str | None = None) -> bytes:
    """``signer``'s signature over the registration message of the given fields (forgeries sign with another key)."""
    return signer.sign(registration_message(genesis_hash or net.genesis.hash, coldkey, hotkey, valid_until))


def test_the_hotkeys_own_proof_registers_it(net: Net) -> None:
    cold, hot = net.colds[0], Keypair.generate()
    balance = net.node.state.ledger.balance(cold.ss58_address)
    net.ok(cold, net.register_call(cold, hot))
    state = net.node.state
    uid = state.uid_of(hot.ss58_address)
    assert uid is not None and state.neurons[uid].coldkey == cold.ss58_address
    assert state.ledger.hotkey_owner[hot.ss58_address] == cold.ss58_address
    assert balance - state.ledger.balance(cold.ss58_address) >= FEES.burn_min  # the burn was paid


def _forged_by_another_key(net: Net, attacker: Keypair, victim: Keypair, valid_until: int) -> bytes:
    return _proof(net, attacker, coldkey=attacker.ss58_address, hotkey=victim.ss58_address, valid_until=valid_until)


def _replayed_from_another_coldkey(net: Net, attacker: Keypair, victim: Keypair, valid_until: int) -> bytes:
    # The victim's honest proof, made for the victim's own coldkey, seen (say, in the queue) and sent by the attacker.
    return sign_registration(victim, net.genesis.hash, net.colds[1].ss58_address, valid_until)


def _made_for_another_chain(net: Net, attacker: Keypair, victim: Keypair, valid_until: int) -> bytes:
    return _proof(net, victim, coldkey=attacker.ss58_address, hotkey=victim.ss58_address, valid_until=valid_until,
                  genesis_hash="ab" * 32)


def _window_stretched(net: Net, attacker: Keypair, victim: Keypair, valid_until: int) -> bytes:
    # A real proof for this coldkey, but for an earlier last block than the call claims.
    return sign_registration(victim, net.genesis.hash, attacker.ss58_address, valid_until - 1)


@pytest.mark.parametrize("forge", [_forged_by_another_key, _replayed_from_another_coldkey, _made_for_another_chain,
                                   _window_stretched])
def test_a_proof_that_is_not_the_hotkeys_consent_for_this_coldkey_is_refused(net: Net, forge) -> None:
    attacker, victim_cold, victim = net.colds[0], net.colds[1], Keypair.generate()
    valid_until = net.node.state.block + 10
    ledger = net.node.state.ledger
    balance, burn = ledger.balance(attacker.ss58_address), net.node.state.burn
    call = calls.Register(victim.ss58_address, forge(net, attacker, victim, valid_until), valid_until)
    outcome = net.send(attacker, call)
    assert not outcome.ok and outcome.reason == "bad_hotkey_proof"
    assert victim.ss58_address not in outcome.message and len(outcome.message) < 200
    state = net.node.state
    # Refused in the block: the fee is paid (and recorded), the burn is not, the hotkey stays unclaimed.
    assert state.ledger.balance(attacker.ss58_address) == balance - FEES.tx_fee(0)
    assert net.node.store.tx(outcome.hash) is not None
    assert state.uid_of(victim.ss58_address) is None and victim.ss58_address not in state.ledger.hotkey_owner
    assert state.burn <= burn  # no registration raised the price
    # The victim is not locked out: its own registration goes through.
    net.ok(victim_cold, net.register_call(victim_cold, victim))
    assert net.node.state.ledger.hotkey_owner[victim.ss58_address] == victim_cold.ss58_address


def test_an_expired_proof_is_refused_and_the_last_block_of_the_window_is_not(net: Net) -> None:
    cold = net.colds[0]
    expired, on_time = Keypair.generate(), Keypair.generate()
    # valid_for_blocks=0: good until the current head, and the call lands in the next block.
    outcome = net.send(cold, net.register_call(cold, expired, valid_for_blocks=0))
    assert not outcome.ok and outcome.reason == "proof_expired"
    assert net.node.state.uid_of(expired.ss58_address) is None
    net.ok(cold, net.register_call(cold, on_time, valid_for_blocks=1))  # good until exactly the block that applies it
    assert net.node.state.uid_of(on_time.ss58_address) is not None


def test_a_proof_window_longer_than_the_bound_is_refused(net: Net) -> None:
    cold = net.colds[0]
    too_long, longest = Keypair.generate(), Keypair.generate()
    # The call is applied in the next block: MAX + 1 blocks from the head is MAX blocks from that block.
    outcome = net.send(cold, net.register_call(cold, too_long, valid_for_blocks=MAX_PROOF_WINDOW_BLOCKS + 2))
    assert not outcome.ok and outcome.reason == "proof_window_too_long"
    assert net.node.state.uid_of(too_long.ss58_address) is None
    net.ok(cold, net.register_call(cold, longest, valid_for_blocks=MAX_PROOF_WINDOW_BLOCKS + 1))
    assert net.node.state.uid_of(longest.ss58_address) is not None


@pytest.mark.parametrize("signature, valid_until", [(b"", 5), (b"\x01" * 63, 5), (b"\x01" * 65, 5),
                                                    (b"\x01" * 64, 1 << 64), (b"\x01" * 64, -1)])
def test_a_malformed_proof_is_refused_at_admission(net: Net, signature: bytes, valid_until: int) -> None:
    call = calls.Register(Keypair.generate().ss58_address, signature, valid_until)
    with pytest.raises(TxRejected) as err:
        net.send(net.colds[0], call)
    assert err.value.reason == "invalid_proof"
    assert net.node.store.txs_in(net.node.state.block) == []  # never queued, never stored


def test_the_signed_message_binds_every_field_and_survives_the_wire(net: Net) -> None:
    cold, hot = net.colds[0], Keypair.generate()
    genesis = net.genesis.hash
    message = registration_message(genesis, cold.ss58_address, hot.ss58_address, 258)
    assert len(message) == len(REGISTER_DOMAIN) + 32 + 32 + 32 + 8 and message.startswith(REGISTER_DOMAIN)
    assert message.endswith((258).to_bytes(8, "big"))
    others = {registration_message("cd" * 32, cold.ss58_address, hot.ss58_address, 258),
              registration_message(genesis, hot.ss58_address, cold.ss58_address, 258),
              registration_message(genesis, net.colds[1].ss58_address, hot.ss58_address, 258),
              registration_message(genesis, cold.ss58_address, hot.ss58_address, 259)}
    assert message not in others and len(others) == 4
    # The codec carries the proof both ways unchanged.
    call = net.register_call(cold, hot)
    decoded = decode_transaction(build_transaction(cold, genesis, call, 50), genesis).call
    assert decoded == call and hot.verify(registration_message(genesis, cold.ss58_address, hot.ss58_address,
                                                               decoded.proof_valid_until_block),
                                          decoded.hotkey_signature)


# --- over gRPC, against a real chain process ---------------------------------------------------------------------

HYPER = Hyperparameters(tempo=8, weights_rate_limit=1, immunity_period=20, activity_cutoff=200,
                        burn_initial=TOKEN, burn_min=TOKEN // 10)


async def test_an_attacker_cannot_register_a_victims_hotkey_over_grpc(tmp_path: Path) -> None:
    keys = DevKeys()
    attacker, victim_cold, victim = keys.colds[0], keys.colds[1], Keypair.generate()
    proc = start_chain(tmp_path / "chain", keys.genesis(HYPER))
    try:
        async with ChainClient(proc.endpoint) as client:
            status = await client.status()
            valid_until = status.block + 100
            before = (await client.balance(attacker.ss58_address)).free
            # The attacker knows the victim's hotkey address and signs the registration with its own key.
            forged = attacker.sign(registration_message(status.genesis_hash, attacker.ss58_address,
                                                        victim.ss58_address, valid_until))
            with pytest.raises(TransactionRefused) as refused:
                await client.submit(attacker, calls.Register(victim.ss58_address, forged, valid_until))
            assert refused.value.reason == "bad_hotkey_proof" and refused.value.block > 0  # refused in a block
            # It replays the victim's honest proof (made for the victim's coldkey) under its own coldkey.
            honest = sign_registration(victim, status.genesis_hash, victim_cold.ss58_address, valid_until)
            with pytest.raises(TransactionRefused) as refused:
                await client.submit(attacker, calls.Register(victim.ss58_address, honest, valid_until))
            assert refused.value.reason == "bad_hotkey_proof"
            # A proof that is not even a signature is refused at admission, as a bad argument.
            async with grpc.aio.insecure_channel(proc.endpoint) as channel:
                short = build_transaction(attacker, status.genesis_hash,
                                          calls.Register(victim.ss58_address, b"\0" * 10, valid_until),
                                          status.block + 50)
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await pb_grpc.ChainStub(channel).SubmitTransaction(short)
                assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
                assert err.value.details().startswith("[invalid_proof]")
            graph = await client.metagraph()
            assert victim.ss58_address not in {n.hotkey for n in graph.neurons}
            spent = before - (await client.balance(attacker.ss58_address)).free
            assert 0 < spent < HYPER.burn_min  # two fees, no burn

            # The victim registers its hotkey under its own coldkey: the very proof the attacker replayed works.
            result = await client.submit(victim_cold, calls.Register(victim.ss58_address, honest, valid_until))
            assert result.ok
            owners = {n.hotkey: n.coldkey for n in (await client.metagraph()).neurons}
            assert owners[victim.ss58_address] == victim_cold.ss58_address
            # And ChainClient.register signs its own proof.
            other = Keypair.generate()
            assert (await client.register(keys.colds[2], other)).ok
            owners = {n.hotkey: n.coldkey for n in (await client.metagraph()).neurons}
            assert owners[other.ss58_address] == keys.colds[2].ss58_address
    finally:
        assert proc.stop() == 0
