"""The chain's state machine against hostile input, through ChainNode with a real SQLite store: malformed calls
are refused at admission and never stored, an unexpected error drops one transaction and not its block, fees are
charged (also for refusals) and recycled, dust accounts cannot be made, and the incrementally kept state root and
ledger checks agree with a full recomputation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from subnet.chain import calls, runtime
from subnet.chain.node import SignedTx
from subnet.chain.params import Hyperparameters
from subnet.chain.runtime import TxRejected
from subnet.chain.state import state_root
from subnet.keys import Keypair
from tests.test_chain_runtime import TOKEN, Net

FEES = Hyperparameters(tempo=5, weights_rate_limit=2, immunity_period=4, max_uids=8, activity_cutoff=50,
                       burn_initial=TOKEN, burn_min=TOKEN // 10, burn_max=10 * TOKEN, max_queued_txs_per_signer=4)
ED = FEES.existential_deposit


def signed(net: Net, signer: Keypair, call: calls.Call, body_bytes: int = 0) -> SignedTx:
    """A transaction as the service layer hands it over (signature already checked); ``body_bytes`` sets its fee."""
    return SignedTx(os.urandom(32).hex(), signer.ss58_address, b"\0" * body_bytes, b"", call,
                    net.node.state.block + 10)


@pytest.fixture
def net(tmp_path: Path) -> Net:
    n = Net(tmp_path / "chain", FEES)
    yield n
    n.node.close()


# --- fields: refused at admission, never queued, never stored ---------------------------------------------------

BAD_ENDPOINTS = ["127.0.0.1:\u00b2", "unix:/tmp/miner.sock", "http://127.0.0.1:80", "127.0.0.1:0", "127.0.0.1:65536",
                 "127.0.0.1:+80", ":80", "127.0.0.1", "h" * 300 + ":80", "caf\u00e9.example:80", "a b:80"]


@pytest.mark.parametrize("endpoint", BAD_ENDPOINTS)
def test_malformed_endpoints_are_refused_at_admission(net: Net, endpoint: str) -> None:
    owner = net.owner_hot
    with pytest.raises(TxRejected) as err:
        net.node.submit(signed(net, owner, calls.Serve(endpoint, "tiny", "ab" * 32)))
    assert err.value.reason == "invalid_endpoint"
    assert endpoint not in str(err.value) and len(str(err.value)) < 200  # the input is never echoed
    net.node.produce_block()
    assert net.node.store.txs_in(net.node.state.block) == []


@pytest.mark.parametrize("call, reason", [
    (calls.RevealWeights((70_000,), (1,), b"salt"), "out_of_range"),
    (calls.RevealWeights((1,), (70_000,), b"salt"), "out_of_range"),
    (calls.RevealWeights((1, 2), (1,), b"salt"), "length_mismatch"),
    (calls.SetWeights((1,), (1, 2)), "length_mismatch"),
    (calls.CommitWeights(b"short"), "invalid_commit"),
    (calls.Serve("127.0.0.1:9000", "x" * 257), "invalid_model"),
    (calls.Serve("127.0.0.1:9000", "tiny", "AB" * 32), "invalid_model"),
    (calls.Serve("127.0.0.1:9000", "tiny", "ab" * 32, "\u00e9".encode()), "invalid_certificate"),
])
def test_malformed_hotkey_calls_are_refused_at_admission(net: Net, call: calls.Call, reason: str) -> None:
    with pytest.raises(TxRejected) as err:
        net.node.submit(signed(net, net.owner_hot, call))
    assert err.value.reason == reason


def test_junk_transfer_is_refused_without_echo_or_storage(net: Net) -> None:
    junk = "5" * 60_000
    with pytest.raises(TxRejected) as err:
        net.node.submit(signed(net, net.colds[0], calls.Transfer(junk, TOKEN)))
    assert err.value.reason == "invalid_address" and junk[:100] not in str(err.value)
    net.node.produce_block()
    assert net.node.store.txs_in(net.node.state.block) == []


def test_unfunded_and_unregistered_signers_are_refused_at_admission(net: Net) -> None:
    stranger = Keypair.generate()
    with pytest.raises(TxRejected) as err:
        net.node.submit(signed(net, stranger, calls.Transfer(net.colds[0].ss58_address, TOKEN)))
    assert err.value.reason == "cannot_pay_fee"
    with pytest.raises(TxRejected) as err:
        net.node.submit(signed(net, stranger, calls.Serve("127.0.0.1:9000")))
    assert err.value.reason == "not_registered"


def test_queued_transactions_per_signer_and_queued_fees_are_capped(net: Net) -> None:
    signer = net.colds[0]
    dest = net.colds[1].ss58_address
    for _ in range(FEES.max_queued_txs_per_signer):
        net.node.submit(signed(net, signer, calls.Transfer(dest, TOKEN)))
    with pytest.raises(TxRejected) as err:
        net.node.submit(signed(net, signer, calls.Transfer(dest, TOKEN)))
    assert err.value.reason == "too_many_queued"
    net.node.submit(signed(net, net.colds[1], calls.Transfer(dest, TOKEN)))  # others are not held up
    net.node.produce_block()
    net.node.submit(signed(net, signer, calls.Transfer(dest, TOKEN)))  # the block freed the places

    # A payer whose balance covers one (large) fee cannot queue a second transaction.
    poor, big = Keypair.generate(), 20_000
    net.ok(net.colds[1], calls.Transfer(poor.ss58_address, FEES.tx_fee(big) + ED))
    net.node.submit(signed(net, poor, calls.Transfer(dest, ED), body_bytes=big))
    with pytest.raises(TxRejected) as err:
        net.node.submit(signed(net, poor, calls.Transfer(dest, ED), body_bytes=big))
    assert err.value.reason == "cannot_pay_fee"


def test_a_signer_refused_in_the_last_block_may_queue_only_a_few_until_a_block_refuses_nothing(net: Net) -> None:
    spammer, dest = net.colds[0], net.colds[1].ss58_address
    too_much = 10**9 * TOKEN  # above any balance: admitted (the fee is payable), refused in the block
    for _ in range(FEES.max_queued_txs_per_signer):
        net.node.submit(signed(net, spammer, calls.Transfer(dest, too_much)))
    net.node.produce_block()
    assert [r.reason for r in net.node.store.txs_in(net.node.state.block)] == (
        ["insufficient_balance"] * FEES.max_queued_txs_per_signer)
    # Paid refusals are stored, so after one the signer gets only a couple of places per block.
    for _ in range(FEES.max_queued_txs_after_refusal):
        net.node.submit(signed(net, spammer, calls.Transfer(dest, too_much)))
    with pytest.raises(TxRejected) as err:
        net.node.submit(signed(net, spammer, calls.Transfer(dest, TOKEN)))
    assert err.value.reason == "too_many_queued" and "refused" in str(err.value)
    net.node.submit(signed(net, net.colds[2], calls.Transfer(dest, TOKEN)))  # others keep their full allowance
    for _ in range(FEES.max_queued_txs_per_signer - 1):
        net.node.submit(signed(net, net.colds[2], calls.Transfer(dest, TOKEN)))
    net.node.produce_block()
    net.node.submit(signed(net, spammer, calls.Transfer(dest, TOKEN)))  # still refused last block: two places
    net.node.produce_block()  # this one refused nothing of the spammer's
    for _ in range(FEES.max_queued_txs_per_signer):
        net.node.submit(signed(net, spammer, calls.Transfer(dest, TOKEN)))
    net.node.produce_block()


# --- fees ------------------------------------------------------------------------------------------------------


def test_fee_is_charged_recycled_and_kept_when_the_call_is_refused(net: Net) -> None:
    payer, dest = net.colds[0].ss58_address, net.colds[1].ss58_address
    ledger = net.node.state.ledger
    balance, recycled, issuance = ledger.balance(payer), ledger.recycled, ledger.issuance
    fee = FEES.tx_fee(1000)
    future = net.node.submit(signed(net, net.colds[0], calls.Transfer(dest, 10**9 * TOKEN), body_bytes=1000))
    net.node.produce_block()
    outcome = future.result(timeout=0)
    assert not outcome.ok and outcome.reason == "insufficient_balance"
    ledger = net.node.state.ledger
    assert ledger.balance(payer) == balance - fee
    assert ledger.recycled == recycled + fee
    assert ledger.issuance == issuance - fee + net.node.head.minted
    assert net.node.store.tx(outcome.hash) is not None  # paid for, so recorded

    # Hotkey calls are paid by the coldkey owning the hotkey.
    owner_cold = net.owner_cold.ss58_address
    before = ledger.balance(owner_cold)
    net.ok(net.owner_hot, calls.Serve("127.0.0.1:9000", "tiny", "ab" * 32))
    assert net.node.state.ledger.balance(owner_cold) == before - FEES.tx_fee(0)
    net.node.state.ledger.check_invariant()


def test_fee_reaps_what_would_be_left_below_the_deposit(net: Net) -> None:
    poor, fee = Keypair.generate(), FEES.tx_fee(0)
    net.ok(net.colds[0], calls.Transfer(poor.ss58_address, fee + ED + fee // 2))
    # After the fee, sending ED would leave fee // 2: dust, so the transfer is refused (its fee stays paid).
    outcome = net.send(poor, calls.Transfer(net.colds[1].ss58_address, ED))
    assert not outcome.ok and outcome.reason == "below_existential_deposit"
    assert net.node.state.ledger.balance(poor.ss58_address) == ED + fee // 2
    # Paying the next fee would leave ED - fee // 2: the account is reaped (all of it recycled), not left as dust.
    recycled = net.node.state.ledger.recycled
    outcome = net.send(poor, calls.Transfer(net.colds[1].ss58_address, 10 * ED))
    assert not outcome.ok
    assert poor.ss58_address not in net.node.state.ledger.balances
    assert net.node.state.ledger.recycled == recycled + ED + fee // 2
    net.node.state.ledger.check_invariant()


# --- dust ------------------------------------------------------------------------------------------------------


def test_existential_deposit_stops_dust_accounts_and_stake_entries(net: Net) -> None:
    fresh = Keypair.generate().ss58_address
    sender = net.colds[0]
    assert net.refused(sender, calls.Transfer(fresh, 1)) == "below_existential_deposit"
    assert fresh not in net.node.state.ledger.balances
    net.ok(sender, calls.Transfer(fresh, ED))
    assert net.node.state.ledger.balance(fresh) == ED
    net.ok(sender, calls.Transfer(fresh, 1))  # topping up an existing account is fine
    # A stake entry below the deposit, or one left with dust, is refused.
    owner_hot = net.owner_hot.ss58_address
    assert net.refused(sender, calls.AddStake(owner_hot, ED - 1)) == "below_existential_deposit"
    net.ok(sender, calls.AddStake(owner_hot, 2 * ED))
    assert net.refused(sender, calls.RemoveStake(owner_hot, ED + 1)) == "below_existential_deposit"
    net.ok(sender, calls.RemoveStake(owner_hot, 2 * ED))
    assert (sender.ss58_address, owner_hot) not in net.node.state.ledger.stakes


def test_emptied_account_disappears(net: Net) -> None:
    spender = Keypair.generate()
    net.ok(net.colds[0], calls.Transfer(spender.ss58_address, 5 * ED + FEES.tx_fee(0)))
    net.ok(spender, calls.Transfer(net.colds[1].ss58_address, 5 * ED))
    assert spender.ss58_address not in net.node.state.ledger.balances
    net.node.state.ledger.check_invariant()


# --- isolation: an unexpected error drops one transaction, not the block ----------------------------------------


def test_unexpected_error_refuses_one_transaction_and_rolls_it_back(net: Net, monkeypatch) -> None:
    def faulty_serve(state, signer, call):  # changes state, then fails as a bug would
        neuron = state.edit_neuron(0)
        neuron.endpoint = "10.0.0.1:1"
        state.ledger.balances[signer] = 1
        state.weights[0] = ((0, 1),)
        raise ZeroDivisionError("a bug")

    monkeypatch.setitem(runtime._HANDLERS, calls.Serve, faulty_serve)
    dest = net.colds[2].ss58_address
    owner_cold = net.owner_cold.ss58_address
    before_owner = net.node.state.ledger.balance(owner_cold)
    good = [net.node.submit(signed(net, net.colds[i], calls.Transfer(dest, TOKEN))) for i in (0, 1)]
    poison = net.node.submit(signed(net, net.owner_hot, calls.Serve("127.0.0.1:9000")))
    good.append(net.node.submit(signed(net, net.colds[3], calls.Transfer(dest, TOKEN))))
    header = net.node.produce_block()
    assert all(f.result(timeout=0).ok for f in good)
    outcome = poison.result(timeout=0)
    assert not outcome.ok and outcome.reason == "internal" and "bug" not in outcome.message
    state = net.node.state
    assert state.neurons[0].endpoint == "" and 0 not in state.weights
    assert state.ledger.balance(owner_cold) == before_owner - FEES.tx_fee(0)  # the fee stays paid
    assert state.ledger.balance(dest) == 1000 * TOKEN + 3 * TOKEN
    assert header.state_root == state_root(state.records())
    state.ledger.check_invariant()


# --- incremental root and checks agree with a full recomputation -------------------------------------------------

_KEYS = [Keypair.generate() for _ in range(3)]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 5), st.integers(0, 5), st.integers(0, 3 * ED)),
                min_size=1, max_size=40))
def test_random_blocks_keep_root_and_books_and_every_valid_transaction_lands(tmp_path_factory, ops) -> None:
    """Random transactions, malformed ones among them: every well-formed transfer between funded accounts lands,
    every block's state root equals the full recomputation, and the books balance."""
    net = Net(tmp_path_factory.mktemp("chain"), FEES)
    try:
        people = [*net.colds, *_KEYS]
        valid = []
        for i, (kind, a, b, amount) in enumerate(ops):
            src, dst = people[a % len(people)], people[b % len(people)]
            if kind == 0 and src in net.colds:  # well-formed and fundable: must land
                call = calls.Transfer(dst.ss58_address, ED + amount)
            elif kind == 1:
                call = calls.Transfer(dst.ss58_address, amount)  # may leave dust or be refused
            elif kind == 2:
                call = calls.Serve(f"127.0.0.1:{amount}" if amount % 2 else "\u00b2", "m")
            elif kind == 3:
                call = calls.RevealWeights((amount * 40,), (amount,) * (1 + a % 2), b"s")
            elif kind == 4:
                call = calls.AddStake(net.owner_hot.ss58_address, amount)
            elif kind == 5:
                call = calls.RemoveStake(net.owner_hot.ss58_address, amount)
            else:
                call = calls.Transfer("x" * amount, 1)
            signer = net.owner_hot if kind in (2, 3) else src
            try:
                future = net.node.submit(signed(net, signer, call, body_bytes=amount % 97))
            except TxRejected:
                continue
            if kind == 0 and src in net.colds:
                valid.append(future)
            if i % 5 == 4:
                net.node.produce_block()
                assert net.node.head.state_root == state_root(net.node.state.records())
        net.node.produce_block()
        assert all(f.result(timeout=0).ok for f in valid)
        assert net.node.head.state_root == state_root(net.node.state.records())
        net.node.state.ledger.check_invariant()
        net.restart()  # what was stored reopens to the same root
        assert net.node.head.state_root == state_root(net.node.state.records())
    finally:
        net.node.close()


def test_genesis_with_an_empty_account_is_refused(tmp_path: Path) -> None:
    from subnet.chain.genesis import GenesisError, parse_genesis

    owner = Keypair.generate().ss58_address
    text = (f'[subnet]\nowner_coldkey = "{owner}"\nowner_hotkey = "{Keypair.generate().ss58_address}"\n\n'
            f'[[accounts]]\naddress = "{owner}"\nbalance_units = 0\n')
    with pytest.raises(GenesisError, match="existential deposit"):
        parse_genesis(text)
