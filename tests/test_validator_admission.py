"""Only admitted models this validator holds earn: a miner committed to a model the owner has not admitted (or,
while the chain admits none, to a model this validator does not hold), or to an admitted model the validator
cannot verify, scores 0, whatever it answers; an admitted model's dtype policy holds too. Fake chain and miners,
the real ``Validator.step``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from subnet.keys import Keypair
from subnet.proto import subnet_pb2 as pb
from tests.test_validator_loop import REF_HASH, FakeChain, FakeReference, make_validator, words
from validators import loop as loop_module
from validators.querying import Outcome, Query
from validators.rewards import Response

OTHER_HASH = "cd" * 32


@dataclass
class ChainWithModels(FakeChain):
    """A fake chain whose miners commit to given models, with an admitted list."""

    commitments: dict[int, str] = field(default_factory=dict)
    admitted: list[pb.AdmittedModel] = field(default_factory=list)

    async def metagraph(self, include_matrices: bool = False) -> pb.MetagraphResponse:
        response = await super().metagraph(include_matrices)
        for neuron in response.neurons:
            neuron.model_hash = self.commitments.get(neuron.uid, REF_HASH)
        response.admitted_models.extend(self.admitted)
        return response


async def _step(tmp_path: Path, monkeypatch, commitments: dict[int, str], admitted: list[pb.AdmittedModel],
                dtypes: dict[int, str] | None = None, held: tuple[str, ...] = (REF_HASH,)):
    me = Keypair.generate()
    hotkeys = [me.ss58_address, *(Keypair.generate().ss58_address for _ in range(3))]
    models = [FakeReference(weights_sha256=h) for h in held]
    validator, _ = make_validator(tmp_path, hotkeys, me, *models[:1], more_models=tuple(models[1:]), n_exact=0,
                                  n_open=1, probes_per_step=0, verify_fraction=0.0)
    chain = ChainWithModels(hotkeys, commitments=commitments, admitted=admitted)
    validator.chain = validator.setter.chain = chain

    async def fake_run_query(clients, q: Query, semaphore, timeout_s: float) -> Outcome:
        # Every miner gives the very answer the validator rewards most.
        return Outcome(q, Response(text=words("ref"), latency_s=0.1, n_tokens=3), (1, 2, 3), (-0.1,) * 3,
                       model_hash=commitments.get(q.uid, REF_HASH), model_dtype=(dtypes or {}).get(q.uid, "float32"))

    monkeypatch.setattr(loop_module, "run_query", fake_run_query)
    report = await validator.step()
    await validator.close()
    return report


async def test_without_an_admitted_list_only_the_validators_own_model_earns(tmp_path: Path, monkeypatch) -> None:
    report = await _step(tmp_path, monkeypatch, {1: REF_HASH, 2: OTHER_HASH, 3: "ef" * 32}, [])
    assert report.rewards[1] > 0 and report.rewards[2] == 0.0 and report.rewards[3] == 0.0
    assert report.failures == {loop_module.NOT_ADMITTED: 2}


async def test_the_owners_list_decides_and_its_dtype_policy_holds(tmp_path: Path, monkeypatch) -> None:
    admitted = [pb.AdmittedModel(model_hash=REF_HASH, name="ref", dtype="float32"),
                pb.AdmittedModel(model_hash=OTHER_HASH, name="other")]
    both = (REF_HASH, OTHER_HASH)
    report = await _step(tmp_path, monkeypatch, {1: REF_HASH, 2: OTHER_HASH, 3: REF_HASH}, admitted,
                         dtypes={1: "float32", 2: "bfloat16", 3: "bfloat16"}, held=both)
    # uid 2's model is admitted in any precision; uid 3 serves the float32-only model in bf16.
    assert report.rewards[1] > 0 and report.rewards[2] > 0 and report.rewards[3] == 0.0
    assert report.failures == {loop_module.WRONG_DTYPE: 1}
    # The owner's list replaces the fallback: the validator's own model earns nothing once it is not on it.
    report = await _step(tmp_path / "again", monkeypatch, {1: REF_HASH, 2: OTHER_HASH, 3: OTHER_HASH},
                         [pb.AdmittedModel(model_hash=OTHER_HASH, name="other")], held=both)
    assert report.rewards[1] == 0.0 and report.rewards[2] > 0 and report.rewards[3] > 0


async def test_an_admitted_model_the_validator_does_not_hold_earns_nothing_here(tmp_path: Path,
                                                                                monkeypatch) -> None:
    """It could not be verified: paying it would pay any program that claims it. The validator says so once."""
    admitted = [pb.AdmittedModel(model_hash=REF_HASH, name="ref"), pb.AdmittedModel(model_hash=OTHER_HASH, name="o")]
    report = await _step(tmp_path, monkeypatch, {1: REF_HASH, 2: OTHER_HASH, 3: OTHER_HASH}, admitted)
    assert report.rewards[1] > 0 and report.rewards[2] == report.rewards[3] == 0.0
    assert report.failures == {loop_module.NOT_HELD: 2}


@pytest.mark.parametrize("admitted", [False, True])
async def test_a_validator_without_a_model_admits_only_the_chains_list(tmp_path: Path, monkeypatch,
                                                                          admitted: bool) -> None:
    me = Keypair.generate()
    validator, _ = make_validator(tmp_path, [me.ss58_address, Keypair.generate().ss58_address], me)
    validator.models = loop_module.ReferenceModels([])
    chain = ChainWithModels([me.ss58_address, "x"], admitted=[pb.AdmittedModel(model_hash=REF_HASH, name="r")]
                            if admitted else [])
    graph = loop_module.Metagraph.from_proto(await chain.metagraph())
    assert validator.admitted_hashes(graph) == ({REF_HASH} if admitted else set())
    await validator.close()
