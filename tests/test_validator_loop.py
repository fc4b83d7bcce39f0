"""The validator loop's own logic, with a fake chain and fake miners (no processes): probes that expose a relay
and never its source, opaque request ids, spot checks of answers without tokens, fresh uids weighing 0, and
weight rows the chain's max weight limit accepts."""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from consensus.units import U16_MAX
from consensus.weights import WeightsError, process_weights, weights_to_u16
from subnet.keys import Keypair
from subnet.proto import subnet_pb2 as pb
from subnet.seed_binding import bind_seed
from validators import loop as loop_module
from validators.challenges import ChallengeSettings, build_challenges
from validators.config import ValidatorSettings
from validators.loop import Validator
from validators.querying import Outcome, Query, request_of
from validators.reference import ReferenceModels, Verdict
from validators.rewards import Response
from validators.setter import row_to_u16

REF_HASH = "ab" * 32


def words(tag: object) -> str:
    return " ".join(f"{tag}w{i}" for i in range(20))  # long enough to count as a copy (>= 12 words)


@dataclass
class FakeChain:
    """Just enough of ``ChainClient`` for ``Validator``: a metagraph, hyperparameters, status, set_weights."""

    hotkeys: list[str]
    max_weight_limit_u16: int = U16_MAX
    block: int = 100
    submitted: list[tuple[list[int], list[int]]] = field(default_factory=list)
    model_hashes: dict[int, str] = field(default_factory=dict)  # uid -> committed model (default REF_HASH)

    async def metagraph(self, include_matrices: bool = False) -> pb.MetagraphResponse:
        neurons = [pb.NeuronInfo(uid=u, hotkey=h, endpoint="" if u == 0 else f"127.0.0.1:{9000 + u}",
                                 model_hash=self.model_hashes.get(u, REF_HASH), validator_permit=u == 0)
                   for u, h in enumerate(self.hotkeys)]
        return pb.MetagraphResponse(block=self.block, tempo=10, neurons=neurons)

    async def hyperparameters(self) -> dict[str, int]:
        return {"commit_reveal": 0, "reveal_period_epochs": 1, "weights_rate_limit": 1, "tempo": 10,
                "weights_version_key": 0, "max_weight_limit_u16": self.max_weight_limit_u16}

    async def status(self) -> pb.ChainStatus:
        return pb.ChainStatus(block=self.block, epoch_index=self.block // 10)

    async def set_weights(self, hotkey: Keypair, uids, values, version_key: int = 0) -> pb.TxResult:
        self.submitted.append((list(uids), list(values)))
        return SimpleNamespace(block=self.block)

    async def close(self) -> None:
        pass


class FakeReference:
    """Stands for the admitted model: an answer verifies when ``accepts(token_ids, bound_seed)`` (by default: it
    has tokens); inspection accepts any answer that carries tokens."""

    def __init__(self, accepts=lambda token_ids, seed: bool(token_ids), weights_sha256: str = REF_HASH,
                 likelihood: float = -3.0) -> None:
        self.accepts = accepts
        self.weights_sha256 = weights_sha256
        self.likelihood = likelihood  # what it gives every right answer, nats per token
        self.checked: list[tuple[str, tuple[int, ...]]] = []
        self.sampling: list[tuple[float, float, int, int]] = []  # what each check was told the request was

    def answer_logprob(self, messages, answer: str) -> float:
        return self.likelihood

    def inspect(self, text, token_ids, logprobs, *, max_new_tokens: int) -> Verdict:
        return Verdict(bool(token_ids) or not text, "inspected" if token_ids else "no tokens")

    def verify(self, messages, text, token_ids, logprobs, *, temperature: float, top_p: float, seed: int,
               max_new_tokens: int, miner_dtype: str) -> Verdict:
        self.checked.append((text, tuple(token_ids)))
        self.sampling.append((temperature, top_p, seed, max_new_tokens))
        ok = self.accepts(tuple(token_ids), seed)
        return Verdict(ok, "checked" if ok else "not the model's answer for this miner's seed")


def make_validator(tmp_path: Path, hotkeys: list[str], me: Keypair, reference: FakeReference | None = None,
                   *, more_models: tuple[FakeReference, ...] = (), **settings) -> tuple[Validator, FakeChain]:
    s = ValidatorSettings(chain_endpoint="127.0.0.1:1", state_dir=tmp_path, seed=5, **settings)
    validator = Validator(s, me, models=ReferenceModels([reference or FakeReference(), *more_models]))
    chain = FakeChain(hotkeys)
    validator.chain = validator.setter.chain = chain
    return validator, chain


def reference_of(validator: Validator) -> FakeReference:
    return validator.models.get(REF_HASH)


def open_challenge(seed: int = 0):
    return build_challenges(random.Random(seed), 0, 1, ChallengeSettings(open_temperature=0.7))[0]


def answer(uid: int, text: str, probe_of: int | None = None, hotkey: str | None = None, ch=None,
           error: str | None = None) -> Outcome:
    query = Query(uid, hotkey or f"hk{uid}", "", ch or open_challenge(), 0, probe_of=probe_of)
    return Outcome(query, Response.failed(error) if error else Response(text=text, latency_s=0.1))


def test_probe_request_ids_are_not_the_targets_own() -> None:
    ch = open_challenge()
    scored = Query(2, "hk2", "", ch, 11, request_id="a1")
    probe = Query(2, "hk2", "", ch, 7, probe_of=1, request_id="b2")
    assert request_of(scored).request_id == "a1" and request_of(probe).request_id == "b2"
    # Without an explicit id every request still gets a fresh opaque one (never "<challenge>/<uid>").
    ids = {request_of(Query(2, "hk2", "", ch, 7, probe_of=p)).request_id for p in (None, 1, 1)}
    assert len(ids) == 3 and not any(ch.id in i for i in ids)


def sampled_tokens(bound_seed: int) -> tuple[int, ...]:
    """What the fake model samples for a seed bound to a miner's hotkey: different per miner, as the real one."""
    return (bound_seed % 997, bound_seed % 991, bound_seed % 983)


async def test_probes_catch_a_relay_and_never_its_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no regular verification at all, the probes alone expose the relay: a matching pair is verified under
    each side's own key, and only the relay's text is not its own. The relayed honest miner keeps its reward."""
    me = Keypair.generate()
    # uid 0 the validator; 1 honest; 2 relays 1; 3 answers without tokens; 4 another honest miner.
    hotkeys = [me.ss58_address, *_miner_hotkeys(4)]
    reference = FakeReference(accepts=lambda tokens, seed: tokens == sampled_tokens(seed))
    validator, _ = make_validator(tmp_path, hotkeys, me, reference, n_exact=0, n_open=1, probes_per_step=40,
                                  verify_fraction=0.0)
    sent: list[Query] = []

    async def fake_run_query(clients, q: Query, semaphore, timeout_s: float) -> Outcome:
        sent.append(q)
        seed = request_of(q).seed
        if q.uid == 3:  # right-looking text, but no tokens or log-probs to check it against
            return Outcome(q, Response(text=words("ref"), latency_s=0.1, n_tokens=0))
        # An honest miner samples under its own key; the relay returns what uid 1 samples for the relay's request.
        sampler = hotkeys[1] if q.uid == 2 else q.hotkey
        tokens = sampled_tokens(bind_seed(seed, sampler))
        return Outcome(q, Response(text=words(tokens), latency_s=0.1, n_tokens=3), tokens, (-0.1,) * 3)

    monkeypatch.setattr(loop_module, "run_query", fake_run_query)
    report = await validator.step()
    await validator.close()

    ids = [q.request_id for q in sent]
    assert all(ids) and len(set(ids)) == len(ids), "every query, probe or not, has its own request id"
    assert any(q.probe_of is not None for q in sent) and any(q.probe_of is None for q in sent)
    assert [q.probe_of is None for q in sent] != sorted((q.probe_of is None for q in sent), reverse=True), \
        "probes go out mixed with the scored queries, not after them"
    # Only pairs of the relay and its source returned the same text, in either direction.
    assert report.probe_matches and all(set(pair) == {1, 2} for pair in report.probe_matches)
    # The relay fails under its own key; the tokenless answer fails inspection; both are liars, nobody else is.
    assert report.caught_lying == (2, 3)
    assert report.rewards[2] == report.rewards[3] == 0.0
    assert validator.state.penalised(2, report.step + 1) and validator.state.penalised(3, report.step + 1)
    assert report.rewards[1] > 0 and report.rewards[1] == report.rewards[4]  # the source loses nothing
    # Every check was told the request its miner was sent: the float32 temperature and top_p on the wire, the seed
    # bound to the answering miner's hotkey (as an honest miner samples), the same length bound.
    scored = [q for q in sent if q.probe_of is None]
    assert {q.challenge.temperature for q in scored} == {0.7}
    expected = {(request_of(q).temperature, request_of(q).top_p, bind_seed(request_of(q).seed, q.hotkey),
                 q.challenge.max_new_tokens) for q in sent if q.uid in (1, 2, 4)}
    assert set(reference.sampling) <= expected and reference.sampling


async def test_a_griefer_relaying_an_honest_miner_costs_that_miner_nothing(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A griefer relays honest uid 1 on sampled requests: every probe pair of the two matches, and every scored
    answer is verified. The griefer is a liar; uid 1 earns exactly what the untouched honest uid 3 earns."""
    me = Keypair.generate()
    hotkeys = [me.ss58_address, *_miner_hotkeys(3)]  # 1 honest (targeted), 2 griefer, 3 honest
    reference = FakeReference(accepts=lambda tokens, seed: tokens == sampled_tokens(seed))
    validator, _ = make_validator(tmp_path, hotkeys, me, reference, n_exact=0, n_open=2, probes_per_step=20,
                                  verify_fraction=1.0)

    async def fake_run_query(clients, q: Query, semaphore, timeout_s: float) -> Outcome:
        sampler = hotkeys[1] if q.uid == 2 else q.hotkey
        tokens = sampled_tokens(bind_seed(request_of(q).seed, sampler))
        return Outcome(q, Response(text=words(tokens), latency_s=0.1, n_tokens=3), tokens, (-0.1,) * 3)

    monkeypatch.setattr(loop_module, "run_query", fake_run_query)
    first = await validator.step()
    assert first.caught_lying == (2,) and first.rewards[1] == first.rewards[3] > 0
    for _ in range(2):  # penalised: no longer asked (nor is uid 1 through it), and it scores 0
        report = await validator.step()
        assert report.queried == (1, 3) and report.caught_lying == ()
        assert report.rewards[2] == 0.0 and report.rewards[1] == report.rewards[3] > 0
    await validator.close()
    assert validator.state.miners[1].score == validator.state.miners[3].score > 0
    assert validator.state.miners[2].score == 0.0


async def test_the_better_model_earns_more_for_each_open_answer(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Two admitted models the validator holds: uid 1 serves the one that gives right answers more likelihood,
    uid 2 the other; both answer exactly alike (whole, verified answers, no exact task right). uid 2's open
    answers are worth the likelihood ratio of the two models: the ranking comes from the models, not any text."""
    me = Keypair.generate()
    hotkeys = [me.ss58_address, *_miner_hotkeys(2)]
    weak = "cd" * 32
    validator, chain = make_validator(tmp_path, hotkeys, me, FakeReference(likelihood=-3.0), n_exact=2, n_open=1,
                                      probes_per_step=0, verify_fraction=1.0,
                                      more_models=(FakeReference(weights_sha256=weak, likelihood=-4.0),))
    chain.model_hashes[2] = weak

    async def fake_run_query(clients, q: Query, semaphore, timeout_s: float) -> Outcome:
        return Outcome(q, Response(text=words(q.uid), latency_s=0.1, n_tokens=3), (1, 2, 3), (-0.1,) * 3)

    monkeypatch.setattr(loop_module, "run_query", fake_run_query)
    report = await validator.step()
    await validator.close()
    assert validator.model_quality.weight(REF_HASH) == 1.0
    assert validator.model_quality.weight(weak) == pytest.approx(math.exp(-1.0))
    # Only the open challenge pays (a third of the step), each miner the fastest.
    assert report.rewards[1] == pytest.approx(1 / 3)
    assert report.rewards[2] == pytest.approx(math.exp(-1.0) / 3)


def test_most_answers_are_verified_by_default() -> None:
    assert ValidatorSettings().verify_fraction >= 0.8


def _miner_hotkeys(n: int) -> list[str]:
    """Real addresses: miners sample with the request's seed bound to their hotkey, so the check needs one."""
    return [Keypair.generate().ss58_address for _ in range(n)]


async def test_a_spot_check_that_cannot_run_costs_that_query_only(tmp_path: Path, monkeypatch) -> None:
    """The reference raising on one miner's answer (e.g. torch refusing its tokens) scores that query 0, as a
    failed call would; it is not a lie, and the step goes on for everyone."""
    me = Keypair.generate()
    validator, _ = make_validator(tmp_path, [me.ss58_address, *_miner_hotkeys(2)], me, n_exact=0, n_open=1,
                                  probes_per_step=0, verify_fraction=1.0)
    reference = reference_of(validator)
    verify = reference.verify

    def breaks_on_uid_2(messages, text, token_ids, logprobs, **kwargs) -> Verdict:
        if token_ids == (9, 9, 9):
            raise RuntimeError("index out of range in self")
        return verify(messages, text, token_ids, logprobs, **kwargs)

    reference.verify = breaks_on_uid_2

    async def fake_run_query(clients, q: Query, semaphore, timeout_s: float) -> Outcome:
        tokens = (9, 9, 9) if q.uid == 2 else (1, 2, 3)
        return Outcome(q, Response(text=words("ref"), latency_s=0.1, n_tokens=3), tokens, (-0.1,) * 3)

    monkeypatch.setattr(loop_module, "run_query", fake_run_query)
    report = await validator.step()
    await validator.close()
    assert report.rewards[1] > 0 and report.rewards[2] == 0.0
    assert report.caught_lying == () and not validator.state.penalised(2, report.step + 1)
    assert report.failures == {loop_module.UNVERIFIABLE: 1}


async def test_a_reregistered_uid_weighs_zero_before_the_next_step(tmp_path: Path, monkeypatch) -> None:
    me = Keypair.generate()
    validator, chain = make_validator(tmp_path, [me.ss58_address, *_miner_hotkeys(2)], me, n_exact=0, n_open=1,
                                      probes_per_step=0)

    async def fake_run_query(clients, q: Query, semaphore, timeout_s: float) -> Outcome:
        return Outcome(q, Response(text=words("ref"), latency_s=0.1, n_tokens=3), (1, 2, 3), (-0.1,) * 3)

    monkeypatch.setattr(loop_module, "run_query", fake_run_query)
    await validator.step()
    assert validator.state.miners[2].score > 0
    chain.hotkeys[2] = "a-new-miner"  # uid 2 deregistered and re-registered between the step and the weights
    result = await validator.maybe_set_weights()
    assert result.startswith("set"), result
    uids, values = chain.submitted[-1]
    assert dict(zip(uids, values, strict=True)) == {1: U16_MAX, 2: 0}
    await validator.close()


async def test_weights_respect_the_chains_max_weight_limit(tmp_path: Path) -> None:
    me = Keypair.generate()
    validator, chain = make_validator(tmp_path, [me.ss58_address, *(f"hk{u}" for u in range(1, 6))], me)
    limit = U16_MAX // 4
    chain.max_weight_limit_u16 = limit
    dominant = np.array([0.0, 0.9, 0.05, 0.05, 0.0, 0.0])
    with pytest.raises(WeightsError, match=r"the limit is 0\.2500"):  # what the chain did to the uncapped row
        process_weights(range(1, 6), weights_to_u16(dominant[1:]), n=6, self_uid=0, max_weight_limit=limit)
    result = await validator.setter.maybe_set(await loop_module.Metagraph.sync(chain), dominant)
    assert result.startswith("set"), result
    uids, values = chain.submitted[-1]
    process_weights(uids, values, n=6, self_uid=0, max_weight_limit=limit)  # accepted
    # The dominant miner is cut to the limit; the excess is spread over the others, as the chain's rule intends.
    assert values[:3] == [U16_MAX] * 3 and 0 < values[3] == values[4] < U16_MAX
    await validator.close()


def test_row_to_u16_always_passes_the_limit_and_keeps_the_order() -> None:
    rng = np.random.default_rng(0)
    for trial in range(400):
        n = int(rng.integers(1, 60))
        row = rng.random(n) ** int(rng.integers(1, 8))  # from flat to very peaked
        row[rng.random(n) < 0.3] = 0.0
        if trial % 7 == 0:
            row[:] = 0.0
            row[int(rng.integers(n))] = 1.0  # a single miner holds everything
        limit = int(rng.integers(1, U16_MAX + 1))
        values = row_to_u16(row, limit)
        if limit * n < U16_MAX or not row.any():
            continue  # no row satisfies the limit / nothing to set
        process_weights(list(range(n)), values, n=n, max_weight_limit=limit)
        order = np.argsort(-row, kind="stable")
        assert all(values[a] >= values[b] for a, b in itertools.pairwise(order))
    assert row_to_u16(np.array([0.2, 0.8])) == weights_to_u16(np.array([0.2, 0.8]))  # no limit: unchanged
