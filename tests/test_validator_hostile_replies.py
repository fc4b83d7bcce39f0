"""Hostile replies against the validator and the demo router, from real gRPC miners that sign correctly.

The miners here run the real server (``subnet.server.create_server`` with its signing interceptor) around
handlers that misbehave: a raw-bytes handler returns bytes that are not a ``GenerateResponse`` (invalid UTF-8 in
a string field, a corrupt wire format), which the interceptor signs like any reply, so they reach the client
with a valid signature. Shown: one such miner never costs the other miners their step; a well-formed reply whose
text its tokens do not carry is a lie caught by inspection; a reply with far more tokens than asked is caught by
the spot check without being teacher-forced; a validator with an older version key than the chain requires sets no
weights and says so (against a real chain process); the demo router falls over from an undecodable stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from demo.router import stream_answer
from miners.engine import Engine, EngineSettings
from miners.generators import EngineGenerator
from miners.service import MinerService
from miners.transformers_backend import TransformersBackend
from subnet.auth.policy import MetagraphPolicy
from subnet.chain.calls import AdmittedModel
from subnet.chain.client import ChainClient
from subnet.chain.params import Hyperparameters
from subnet.keys import Keypair
from subnet.metagraph import Axon, Metagraph
from subnet.model_loading import load_model
from subnet.proto import subnet_pb2 as pb
from subnet.server import ServiceBinding, service
from subnet.testing import EchoMiner, serving
from tests.chain_fixtures import TOKEN, DevKeys, start_chain
from validators import reference as reference_module
from validators.challenges import ChallengeSettings, build_challenges
from validators.config import ValidatorSettings
from validators.loop import Validator
from validators.querying import UNDECODABLE
from validators.reference import ReferenceModel, ReferenceModels
from validators.setter import OUTDATED

MINER_SERVICE = pb.DESCRIPTOR.services_by_name["Miner"].full_name
BAD_UTF8 = b"\x0a\x02\xff\xfe"  # GenerateResponse.text (field 1) holding two bytes that are not UTF-8
CORRUPT = b"\x0a\x7f"  # field 1 announces 127 bytes; none follow
BAD_NESTED = b"\x4a\x04\x0a\x02\xc3\x28"  # GenerateResponse.model.name holding invalid UTF-8
BAD_CHUNK = b"\x0a\x04" + BAD_UTF8  # GenerateChunk.delta whose text is not UTF-8
CIRCLED_20 = "\u2473"  # NFKC turns it into "20": 2200 of them read as one 4400-digit number, which breaks int()


# --- real miners that misbehave -----------------------------------------------------------------------------


def raw_miner(reply: bytes = b"", chunks: Sequence[bytes] = (), calls: list[str] | None = None) -> ServiceBinding:
    """A Miner service whose handlers return raw bytes (no serializer): ``reply`` for Generate, ``chunks`` for
    GenerateStream. The server's interceptor signs exactly these bytes, as it signs an honest miner's reply."""
    calls = calls if calls is not None else []

    async def generate(request: pb.GenerateRequest, context) -> bytes:
        calls.append("Generate")
        return reply

    async def generate_stream(request: pb.GenerateRequest, context):
        calls.append("GenerateStream")
        for chunk in chunks:
            yield chunk

    handlers = {
        "Generate": grpc.unary_unary_rpc_method_handler(generate, request_deserializer=pb.GenerateRequest.FromString),
        "GenerateStream": grpc.unary_stream_rpc_method_handler(generate_stream,
                                                               request_deserializer=pb.GenerateRequest.FromString),
    }

    def add(_servicer, server: grpc.aio.Server) -> None:
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(MINER_SERVICE, handlers),))

    return ServiceBinding(None, MINER_SERVICE, add)


class Oracle(EchoMiner):
    """A model-free miner that knows the right answer to every exact challenge (the validator's own expected values)
    and answers open ones with fixed text, all of it tokenized with the committed model's tokenizer, ended with the
    end token, with plausible log-probs, under the committed model's identity: the best a program can do."""

    def __init__(self, answers: dict[str, str], reference: ReferenceModel) -> None:
        super().__init__()
        self.answers, self.tokenizer = answers, reference.loaded.tokenizer
        self.end = min(reference.end_ids)
        identity = reference.loaded.identity
        self.model = pb.ModelIdentity(name=identity.name, weights_sha256=identity.weights_sha256, dtype="float32")
        self.known = 0  # exact challenges it answered right

    async def Generate(self, request, context) -> pb.GenerateResponse:
        text = self.answers.get(request.messages[-1].content)
        self.known += text is not None
        text = text or "Rivers carry stones to the sea over many years."
        ids = [*self.tokenizer(text, add_special_tokens=False)["input_ids"], self.end]
        return pb.GenerateResponse(text=text, token_ids=ids, logprobs=[-0.5] * len(ids), completion_tokens=len(ids),
                                   finish_reason=pb.FINISH_REASON_STOP, model=self.model, request_id=request.request_id)


def exact_answers(seed: int, steps: range, n_exact: int, n_open: int) -> dict[str, str]:
    """The expected answer of every exact challenge the validator (``seed``) sends in ``steps``."""
    answers = {}
    for step in steps:
        for ch in build_challenges(random.Random(f"{seed}:{step}"), n_exact, n_open, ChallengeSettings()):
            if ch.expected is not None:
                answers[ch.messages[-1]["content"]] = ch.expected
    return answers


class Reply(EchoMiner):
    """A miner that returns the same (well-formed) ``GenerateResponse`` to every request."""

    def __init__(self, response: pb.GenerateResponse) -> None:
        super().__init__()
        self.response = response

    async def Generate(self, request, context) -> pb.GenerateResponse:
        return self.response


@contextlib.asynccontextmanager
async def tiny_engine(cache_dir: Path):
    """The real engine serving the tiny model, as an honest miner runs it (whole answers to every challenge)."""
    engine = Engine(TransformersBackend(load_model("tiny", device="cpu", dtype="float32", cache_dir=cache_dir)),
                    EngineSettings(max_batch=4, max_new_tokens=ChallengeSettings().open_max_new_tokens))
    await engine.start()
    try:
        yield engine
    finally:
        await engine.stop()


def honest(engine: Engine) -> Callable[[Keypair], ServiceBinding]:
    return lambda k: service(MinerService(EngineGenerator(engine), k.ss58_address), "Miner")


# --- a validator on a local metagraph ---------------------------------------------------------------------------


@dataclass
class LocalSubnet:
    """The part of a chain ``Validator.step`` reads: a metagraph whose uid 0 is the validator."""

    neurons: list[pb.NeuronInfo]

    async def metagraph(self, include_matrices: bool = False) -> pb.MetagraphResponse:
        # Every miner's commitment is admitted: what is tested here is how replies are handled.
        admitted = [pb.AdmittedModel(model_hash=h, name="test model") for h in {n.model_hash for n in self.neurons} if h]
        return pb.MetagraphResponse(block=100, tempo=10, neurons=self.neurons, admitted_models=admitted)

    async def close(self) -> None:
        pass


async def start_miners(stack: AsyncExitStack, me: Keypair, bindings: Sequence[Callable[[Keypair], ServiceBinding]],
                       model_hash: str = "0" * 64) -> tuple[list[Keypair], LocalSubnet]:
    """Serve each miner under its own hotkey (only ``me`` allowed in) and list them as uids 1.. of a subnet."""
    keys = [Keypair.generate() for _ in bindings]
    policy = MetagraphPolicy({}, allowlist=[me.ss58_address])
    neurons = [pb.NeuronInfo(uid=0, hotkey=me.ss58_address, validator_permit=True)]
    for uid, (key, binding) in enumerate(zip(keys, bindings, strict=True), start=1):
        port = await stack.enter_async_context(serving(binding(key), identity=key, policy=policy))
        neurons.append(pb.NeuronInfo(uid=uid, hotkey=key.ss58_address, endpoint=f"127.0.0.1:{port}",
                                     model_hash=model_hash))
    return keys, LocalSubnet(neurons)


def local_validator(tmp_path: Path, me: Keypair, subnet: LocalSubnet, reference: ReferenceModel | None = None,
                    **settings) -> Validator:
    s = ValidatorSettings(**{"chain_endpoint": "127.0.0.1:1", "state_dir": tmp_path / "vstate", "timeout_s": 20,
                             "probes_per_step": 0, "n_open": 0, **settings})
    validator = Validator(s, me, models=ReferenceModels([reference] if reference else []))
    validator.chain = subnet
    return validator


# --- tests ------------------------------------------------------------------------------------------------------


async def test_undecodable_and_untrue_replies_cost_only_their_miner(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, model_cache_dir: Path
) -> None:
    me = Keypair.generate()
    reference = ReferenceModel(load_model("tiny", device="cpu", dtype="float32", cache_dir=model_cache_dir))
    n_exact, n_open = 2, 1
    calls: list[str] = []
    # One in-range token with text it does not decode to (text that would also break the exact-answer parser).
    untrue = Reply(pb.GenerateResponse(text=CIRCLED_20 * 2200, token_ids=[1], logprobs=[0.0]))
    caplog.set_level(logging.DEBUG, logger="validators")
    async with tiny_engine(model_cache_dir) as engine, AsyncExitStack() as stack:
        bindings = [honest(engine),
                    lambda k: raw_miner(BAD_UTF8, calls=calls),
                    lambda k: raw_miner(CORRUPT, calls=calls),
                    lambda k: raw_miner(BAD_NESTED, calls=calls),
                    lambda k: service(untrue, "Miner")]
        _, subnet = await start_miners(stack, me, bindings, model_hash=reference.weights_sha256)
        validator = local_validator(tmp_path, me, subnet, reference, seed=4, n_exact=n_exact, n_open=n_open,
                                    verify_fraction=1.0)
        try:
            first = await validator.step()
            second = await validator.step()  # the scores do not freeze: every step completes
        finally:
            await validator.close()

    honest_uid, undecodable, liar = 1, (2, 3, 4), 5
    n = n_exact + n_open
    assert len(calls) == 2 * 3 * n, "every undecodable miner was asked every challenge of both steps"
    # The liar, penalised after the first step, is not asked in the second.
    assert first.queried == (1, 2, 3, 4, 5) and second.queried == (1, 2, 3, 4)
    assert first.caught_lying == (liar,) and second.caught_lying == ()
    for report in (first, second):
        # The random-weight model answers no exact task, but its whole, verified open answer earns.
        assert report.rewards[honest_uid] >= 0.85 * n_open / n, report.rewards
        # A broken reply is a failed query, not a lie; the text its tokens do not carry is a lie.
        assert all(report.rewards[u] == 0.0 for u in (*undecodable, liar)), report.rewards
        # The replies were signed correctly: they failed to decode, not to verify.
        assert report.failures.get(UNDECODABLE) == 3 * n, report.failures
        assert "bad response signature" not in report.failures
    assert validator.state.step == 1
    assert validator.state.miners[honest_uid].score > 0
    assert validator.failures[UNDECODABLE] == 2 * 3 * n
    # Each failure is logged at debug level with its miner and reason.
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    for uid in undecodable:
        assert any(f"uid {uid} " in m and UNDECODABLE in m for m in debug), debug
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


async def test_a_model_free_oracle_that_knows_every_answer_earns_nothing(
    tmp_path: Path, model_cache_dir: Path
) -> None:
    """Right on every exact task, yet its tokens are not the committed model's choices: caught at once, every
    time, while the honest miner of the same (random-weight) model, wrong on every exact task, earns."""
    me = Keypair.generate()
    reference = ReferenceModel(load_model("tiny", device="cpu", dtype="float32", cache_dir=model_cache_dir))
    seed, n_exact, n_open = 6, 2, 1
    oracle = Oracle(exact_answers(seed, range(3), n_exact, n_open), reference)
    async with tiny_engine(model_cache_dir) as engine, AsyncExitStack() as stack:
        _, subnet = await start_miners(stack, me, [honest(engine), lambda k: service(oracle, "Miner")],
                                       model_hash=reference.weights_sha256)
        validator = local_validator(tmp_path, me, subnet, reference, seed=seed, n_exact=n_exact, n_open=n_open)
        try:
            reports = [await validator.step() for _ in range(3)]
        finally:
            await validator.close()
    honest_uid, oracle_uid = 1, 2
    # The validator asked exactly the prompts the oracle knows: it answered every exact challenge right, and was
    # not asked again while penalised.
    assert oracle.known == n_exact and [r.queried for r in reports] == [(1, 2), (1,), (1,)]
    assert reports[0].caught_lying == (oracle_uid,)
    for report in reports:
        assert report.rewards[oracle_uid] == 0.0 and report.rewards[honest_uid] > 0
    assert validator.state.miners[oracle_uid].score == 0.0 < validator.state.miners[honest_uid].score


async def test_a_reply_with_far_more_tokens_than_asked_is_a_lie_caught_without_teacher_forcing(
    tmp_path: Path, model_cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = ReferenceModel(load_model("tiny", device="cpu", dtype="float32", cache_dir=model_cache_dir))
    asked = ChallengeSettings().exact_max_new_tokens
    bound = asked + 1  # max_new_tokens plus one end token
    forced: list[int] = []  # completion tokens of every teacher-forced pass over a miner's answer
    real = reference_module.teacher_forced_logprobs

    def recording(model, prompt_ids, completion_ids, with_logits=False, **kwargs):
        if with_logits:  # a check of an answer (the model's own measure scores the right answer, without logits)
            forced.append(len(completion_ids))
        if len(completion_ids) > bound:  # ~0.5 MB per token: never run it here either
            raise AssertionError(f"teacher-forced {len(completion_ids)} tokens of a {asked}-token request")
        return real(model, prompt_ids, completion_ids, with_logits=with_logits, **kwargs)

    monkeypatch.setattr(reference_module, "teacher_forced_logprobs", recording)
    me = Keypair.generate()
    identity = reference.loaded.identity
    # 30,000 in-vocabulary tokens with their log-probs and the very text they decode to, so every cheap check
    # passes: a well-formed, correctly signed reply that only teacher forcing could refute.
    tokens = [100 + i % 1000 for i in range(30_000)]
    flood = Reply(pb.GenerateResponse(
        text=reference.loaded.tokenizer.decode(tokens, skip_special_tokens=True), token_ids=tokens,
        logprobs=[-1.0] * len(tokens),
        model=pb.ModelIdentity(name=identity.name, weights_sha256=identity.weights_sha256, dtype="float32")))
    engine = Engine(TransformersBackend(load_model("tiny", device="cpu", dtype="float32", cache_dir=model_cache_dir)),
                    EngineSettings(max_batch=4, max_new_tokens=64))
    await engine.start()
    bindings = [lambda k: service(MinerService(EngineGenerator(engine), k.ss58_address), "Miner"),
                lambda k: service(flood, "Miner")]
    try:
        async with AsyncExitStack() as stack:
            _, subnet = await start_miners(stack, me, bindings, model_hash=identity.weights_sha256)
            validator = local_validator(tmp_path, me, subnet, reference, seed=3, n_exact=1, verify_fraction=1.0)
            try:
                report = await validator.step()
            finally:
                await validator.close()
    finally:
        await engine.stop()

    liar = 2
    assert report.caught_lying == (liar,) and report.rewards[liar] == 0.0
    assert validator.state.penalised(liar, report.step + 1)
    # The honest answer was teacher-forced (so the check does run), the flood never was.
    assert len(forced) == 1 and 0 < forced[0] <= bound, forced
    # What the check itself does with such a reply: it fails it and evaluates no position.
    prompt = [{"role": "user", "content": "What is 2 + 2?"}]
    verdict = reference.verify(prompt, flood.response.text, tokens, flood.response.logprobs, temperature=0.0,
                               top_p=1.0, seed=0, max_new_tokens=bound, miner_dtype="float32")
    assert not verdict.ok and verdict.positions == 0 and "30000 tokens" in verdict.reason
    assert len(forced) == 1


HYPER = Hyperparameters(tempo=4, weights_rate_limit=1, immunity_period=10_000, activity_cutoff=10_000,
                        weights_version_key=5)


async def test_a_validator_with_an_older_version_key_sets_no_weights_but_keeps_scoring(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, model_cache_dir: Path
) -> None:
    keys = DevKeys()
    chain = start_chain(tmp_path / "chain", keys.genesis(HYPER))
    me, miner_key = Keypair.generate(), Keypair.generate()
    reference = ReferenceModel(load_model("tiny", device="cpu", dtype="float32", cache_dir=model_cache_dir))
    identity = reference.loaded.identity
    caplog.set_level(logging.INFO, logger="validators")
    try:
        async with ChainClient(chain.endpoint) as client, tiny_engine(model_cache_dir) as engine, \
                serving(service(MinerService(EngineGenerator(engine), miner_key.ss58_address), "Miner"), identity=miner_key,
                        policy=MetagraphPolicy({}, allowlist=[me.ss58_address])) as port:
            await client.register(keys.colds[0], me)
            await client.register(keys.colds[1], miner_key)
            await client.add_stake(keys.colds[0], me.ss58_address, 1000 * TOKEN)
            await client.serve(miner_key, f"127.0.0.1:{port}", identity.name, identity.weights_sha256)
            await client.set_admitted_models(keys.owner_cold, [AdmittedModel(identity.weights_sha256, identity.name)])
            await _wait_for_permit(client, me.ss58_address)
            settings = ValidatorSettings(chain_endpoint=chain.endpoint, state_dir=tmp_path / "vstate", seed=11,
                                         n_exact=1, n_open=1, probes_per_step=0, timeout_s=10, version_key=1)
            validator = Validator(settings, me, models=ReferenceModels([reference]))
            try:
                first = await validator.step()
                miner_uid = (await Metagraph.sync(client)).uid_of(miner_key.ss58_address)
                assert first.rewards[miner_uid] > 0
                results = [await validator.maybe_set_weights() for _ in range(3)]
                second = await validator.step()  # the loop keeps scoring
                graph = await Metagraph.sync(client, include_matrices=True)
                my_uid = graph.uid_of(me.ss58_address)

                assert all(r.startswith(OUTDATED) for r in results), results
                errors = [r for r in caplog.records if r.levelno == logging.ERROR]
                assert len(errors) == 1, [r.getMessage() for r in errors]  # said once, not at every check
                message = errors[0].getMessage()
                assert "version key 1" in message and "5" in message and "upgrade" in message, message
                assert not any(r.getMessage().startswith("weights: ") for r in caplog.records)
                assert second.step == first.step + 1 and validator.state.miners[miner_uid].score > 0
                assert graph.W is None or not graph.W[my_uid].any()  # nothing of ours on chain

                # Upgraded, the same validator sets its weights: the chain accepts them, the gate was the key.
                validator.setter.version_key = 5
                result = await _set_when_due(validator)
                assert result.startswith("set"), result
                graph = await Metagraph.sync(client, include_matrices=True)
                assert graph.W is not None and graph.W[my_uid, miner_uid] > 0
            finally:
                await validator.close()
    finally:
        chain.stop()


async def _wait_for_permit(client: ChainClient, hotkey: str, timeout_s: float = 30) -> None:
    async def wait() -> None:
        while True:
            graph = await Metagraph.sync(client)
            uid = graph.uid_of(hotkey)
            if uid is not None and graph.validator_permit[uid]:
                return
            await asyncio.sleep(0.2)

    await asyncio.wait_for(wait(), timeout_s)


async def _set_when_due(validator: Validator, timeout_s: float = 30) -> str:
    async def attempt() -> str:
        while (result := await validator.maybe_set_weights()) == "not due":
            await asyncio.sleep(0.2)
        return result

    return await asyncio.wait_for(attempt(), timeout_s)


async def test_router_falls_over_from_an_undecodable_stream() -> None:
    gateway, bad_key, half_key, good_key = (Keypair.generate() for _ in range(4))
    policy = MetagraphPolicy({}, allowlist=[gateway.ss58_address])
    calls: list[str] = []
    good = EchoMiner(good_key.ss58_address)
    first_word = pb.GenerateChunk(delta=pb.TokenDelta(text="partial", token_ids=[7], logprobs=[0.0]))
    async with serving(raw_miner(chunks=[BAD_CHUNK], calls=calls), identity=bad_key, policy=policy) as bad_port, \
            serving(raw_miner(chunks=[first_word.SerializeToString(), BAD_CHUNK], calls=calls), identity=half_key,
                    policy=policy) as half_port, \
            serving(service(good, "Miner"), identity=good_key, policy=policy) as good_port:
        candidates = [Axon(1, bad_key.ss58_address, f"127.0.0.1:{bad_port}", "echo", "0" * 64),
                      Axon(2, half_key.ss58_address, f"127.0.0.1:{half_port}", "echo", "0" * 64),
                      Axon(3, good_key.ss58_address, f"127.0.0.1:{good_port}", "echo", "0" * 64)]
        answers = [a async for a in stream_answer(candidates, gateway, [{"role": "user", "content": "hello there"}],
                                                  max_new_tokens=32, first_token_timeout_s=5, idle_timeout_s=5,
                                                  total_timeout_s=30)]
    assert calls == ["GenerateStream", "GenerateStream"], "both undecodable miners were tried first"
    # The second miner's one good chunk was shown, then its undecodable chunk moved the chat on.
    assert answers[0].text == "partial" and answers[0].uid == 2 and not answers[0].done
    final = answers[-1]
    assert final.done and final.uid == 3 and final.text == "hello there" and final.failed_over == (1, 2)
    assert good.callers and good.callers[-1].caller_ss58 == gateway.ss58_address
