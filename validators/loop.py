"""One validator: each step, challenge the serving miners, score their answers, spot-check them, and update
the persistent scores; when due, put the scores on chain.

``Validator.step`` never raises for anything a miner does: a call that fails, a reply that does not decode, an
answer that cannot be scored or spot-checked each score 0 for that query only (the reason is logged at debug
level and counted in ``StepReport.failures``), and the step goes on for the other miners. It raises only for
problems of the validator itself (the chain unreachable), which the scheduler logs before the next step.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from subnet.chain.client import ChainClient
from subnet.keys import Keypair
from subnet.metagraph import Axon, Metagraph
from subnet.seed_binding import bind_seed
from validators.challenges import Challenge, ChallengeSettings, build_challenges, miner_seed
from validators.config import ValidatorSettings
from validators.copying import same_answer
from validators.model_quality import ModelQuality
from validators.querying import MinerClients, Outcome, Query, request_of, run_query
from validators.reference import ReferenceModels, Verdict
from validators.rewards import Response, RewardSettings, score_challenge, step_rewards
from validators.setter import OUTDATED, WeightSetter
from validators.state import (
    ScoreSettings,
    ScoreState,
    load_state,
    penalise,
    save_state,
    scores_vector,
    sync_hotkeys,
    update,
    weights_from_scores,
)

log = logging.getLogger(__name__)
UNSCORABLE = "unscorable reply"
UNVERIFIABLE = "unverifiable reply"
NOT_ADMITTED = "model not admitted"  # the miner's committed model is not one the subnet pays for
NOT_HELD = "model not held"  # admitted, but this validator does not hold it, so cannot verify (or pay) its answers
WRONG_DTYPE = "precision not admitted"  # the admitted model requires another declared dtype
# What teacher forcing a miner's reply can raise on input that passed verify's own checks (torch reports bad
# shapes and exhausted memory as RuntimeError, bad indices as IndexError; tokenizers raise the others).
VERIFY_ERRORS = (ValueError, TypeError, IndexError, OverflowError, RuntimeError)


@dataclass(frozen=True)
class StepReport:
    step: int
    duration_s: float
    queried: tuple[int, ...]
    rewards: Mapping[int, float]
    caught_lying: tuple[int, ...]
    probe_matches: tuple[tuple[int, int], ...]  # (probed uid, probe target) pairs that returned the same text
    failures: Mapping[str, int] = field(default_factory=dict)  # failed queries of the step, by reason


class Validator:
    def __init__(self, settings: ValidatorSettings, hotkey: Keypair, *, models: ReferenceModels) -> None:
        self.settings = settings
        self.hotkey = hotkey
        self.models = models
        self.state_dir = Path(settings.state_dir).expanduser()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.state_path = self.state_dir / "scores.json"
        self.state: ScoreState = load_state(self.state_path)
        self.chain = ChainClient(settings.chain_endpoint, node_address=settings.chain_node_address,
                                 tls_ca=settings.chain_tls_ca, timeout_s=10, reconnect_budget_s=20)
        self.clients = MinerClients(hotkey, settings.timeout_s)
        self.setter = WeightSetter(self.chain, hotkey, self.state_dir, settings.version_key)
        self.score_settings = ScoreSettings(ema_alpha=settings.ema_alpha)
        self.reward_settings = RewardSettings()
        self.warned_not_held: set[str] = set()
        self.model_quality = ModelQuality()  # how good each held model is (not persisted: relearnt in a few steps)
        self.last_report: StepReport | None = None
        self.overruns = 0  # steps that took longer than their budget
        self.failures: Counter[str] = Counter()  # failed queries since the start, by reason

    @property
    def step_budget_s(self) -> float:
        """A step must finish within the query deadline plus room for the spot checks."""
        return self.settings.timeout_s + max(self.settings.step_interval_s, 30.0)

    async def close(self) -> None:
        await self.clients.close()
        await self.chain.close()

    # --- one step -------------------------------------------------------------------------------------

    async def step(self) -> StepReport:
        started = time.monotonic()
        s = self.settings
        step = self.state.step + 1
        graph = await Metagraph.sync(self.chain)
        rng = random.Random(f"{s.seed}:{step}" if s.seed is not None else os.urandom(16))
        miners = [a for a in graph.serving() if a.hotkey != self.hotkey.ss58_address]
        if s.sample_size and len(miners) > s.sample_size:
            miners = rng.sample(miners, s.sample_size)
        await self.clients.keep_only({(a.endpoint, a.hotkey) for a in graph.serving()})
        hotkeys = {int(u): h for u, h in zip(graph.uids, graph.hotkeys, strict=True)}
        # A miner under a lie penalty scores 0 whatever it answers: it is not asked (no load on it, or on the miner
        # a relay forwards to), and its score decays with the others'.
        asked = [a for a in miners if not self._penalised(a, step)]
        # Open answers are paid for being an admitted model's own (inspected and spot-checked): without a model
        # to inspect them with, the validator sends exact challenges only.
        challenges = build_challenges(rng, s.n_exact, s.n_open if self.models else 0,
                                      ChallengeSettings(open_temperature=s.open_temperature))
        queries = [Query(a.uid, a.hotkey, a.endpoint, ch, miner_seed(ch.seed, a.hotkey)) for ch in challenges
                   for a in asked]
        queries += self._probes(rng, asked, challenges)
        # Every query gets its own opaque id and goes out in random order, so neither the id nor the arrival
        # order tells a miner which request is an unscored copy-detection probe.
        queries = [replace(q, request_id=f"{rng.getrandbits(64):016x}") for q in queries]
        rng.shuffle(queries)

        # The held models' own measure (their likelihood of the exact tasks' right answers) runs while miners answer.
        measuring = asyncio.create_task(asyncio.to_thread(self._measure_models, challenges))
        semaphore = asyncio.Semaphore(s.max_concurrent_queries)
        outcomes = await asyncio.gather(*(self._query(q, semaphore) for q in queries))
        self.model_quality.observe(await measuring)
        failures = Counter(o.response.error for o in outcomes if o.response.error is not None)

        scored = [self._admission(graph, o, failures) for o in outcomes if o.query.probe_of is None]
        probes = [self._admission(graph, o, failures) for o in outcomes if o.query.probe_of is not None]
        # Checks first: an answer the check could not process scores 0, as a failed call would.
        liars, scored, matches = await self._check(rng, graph, scored, probes, failures)
        scored = [replace(o, response=replace(o.response, model_weight=self.model_quality.weight(
            graph.axons[o.query.uid].model_hash))) if o.response.error is None else o for o in scored]
        per_challenge = []
        for ch in challenges:
            responses = {o.query.uid: o.response for o in scored if o.query.challenge.id == ch.id}
            per_challenge.append(score_challenge(ch, responses, deadline_s=s.timeout_s,
                                                 settings=self.reward_settings,
                                                 on_error=self._unscorable(ch, failures)))
        uids = [a.uid for a in miners]
        rewards = step_rewards(per_challenge, uids)

        state = self.state
        for uid in liars:
            state = penalise(state, uid, graph.hotkeys[uid], from_step=step, duration_steps=s.lie_penalty_steps)
            rewards[uid] = 0.0
        self.state = update(state, step, rewards, hotkeys, self.score_settings)
        await asyncio.to_thread(save_state, self.state, self.state_path)

        duration = time.monotonic() - started
        if duration > self.step_budget_s:
            self.overruns += 1
            log.warning("step %d took %.1fs, over its budget of %.1fs", step, duration, self.step_budget_s)
        self.failures.update(failures)
        report = StepReport(step, duration, tuple(a.uid for a in asked), rewards, tuple(liars), tuple(matches),
                            dict(failures))
        self.last_report = report
        log.info("step %d: %d miners in %.1fs; rewards %s%s%s%s", step, len(asked), duration,
                 {u: round(r, 3) for u, r in sorted(rewards.items())},
                 f"; caught lying: {list(liars)}" if liars else "",
                 f"; probe matches (probed, target): {matches}" if matches else "",
                 f"; failed queries: {dict(sorted(failures.items()))}" if failures else "")
        return report

    def _penalised(self, axon: Axon, step: int) -> bool:
        record = self.state.miners.get(axon.uid)
        return record is not None and record.hotkey == axon.hotkey and self.state.penalised(axon.uid, step)

    def admitted_hashes(self, graph: Metagraph) -> set[str]:
        """The models a miner can be paid for: the owner's admitted list on chain; while the chain admits none, the
        models this validator holds itself (so committing to an unknown hash never escapes verification)."""
        if graph.admitted_models:
            return {m.model_hash for m in graph.admitted_models}
        return set(self.models.by_hash)

    def _admission(self, graph: Metagraph, outcome: Outcome, failures: Counter[str]) -> Outcome:
        """``outcome``, or a failed one (it scores 0) when the miner's committed model is not admitted, is admitted
        but not held by this validator (its answers could not be verified: paying them unverified would pay a
        program that only fakes the model), or its answer declares another precision than the admitted model
        requires."""
        if outcome.response.error is not None:
            return outcome
        committed = graph.axons[outcome.query.uid].model_hash
        reason = None
        if committed not in self.admitted_hashes(graph):
            reason = NOT_ADMITTED
        elif self.models.get(committed) is None:
            reason = NOT_HELD
            if committed not in self.warned_not_held:
                self.warned_not_held.add(committed)
                log.warning("uid %d serves the admitted model %s, which this validator does not hold: its answers "
                            "score 0 here; load it with --reference-model to verify and pay them", outcome.query.uid,
                            committed[:12])
        else:
            policy = graph.admitted(committed)
            if policy is not None and policy.dtype and outcome.model_dtype != policy.dtype:
                reason = WRONG_DTYPE
        if reason is None:
            return outcome
        failures[reason] += 1
        return replace(outcome, response=Response.failed(reason))

    def _measure_models(self, challenges: list[Challenge]) -> dict[str, list[float]]:
        """Each held model's mean log-prob per token of every exact challenge's right answer (blocking)."""
        scores: dict[str, list[float]] = {}
        for model_hash, model in self.models.by_hash.items():
            scores[model_hash] = [model.answer_logprob(ch.messages, ch.expected) for ch in challenges
                                  if ch.kind == "exact" and ch.expected]
        return scores

    async def _query(self, query: Query, semaphore: asyncio.Semaphore) -> Outcome:
        """``run_query``, which turns every failure a miner can cause into a failed ``Outcome``; should a reply
        still trigger an exception (a bug of ours), it costs that query only, never the other miners' step."""
        try:
            return await run_query(self.clients, query, semaphore, self.settings.timeout_s)
        except Exception:
            log.exception("query to uid %d (%s) failed unexpectedly; it scores 0", query.uid, query.endpoint)
            return Outcome(query, Response.failed("internal error"))

    @staticmethod
    def _unscorable(challenge: Challenge, failures: Counter[str]) -> Callable[[int, str], None]:
        def note(uid: int, detail: str) -> None:
            log.debug("uid %d: its answer to %s cannot be scored, it scores 0 (%s)", uid, challenge.id, detail)
            failures[UNSCORABLE] += 1

        return note

    def _probes(self, rng: random.Random, miners: list[Axon], challenges: list[Challenge]) -> list[Query]:
        """Repeat some miners' sampled requests (same prompt, same seed) to another miner, unscored: an honest
        target samples under its own key and returns other text, so a match shows that one of the two relays the
        other (see ``validators.copying``). Greedy requests are never probed: the same admitted model gives the
        same greedy answer to everyone, which proves nothing."""
        sampled = [ch for ch in challenges if ch.kind == "open"]
        if len(miners) < 2 or not sampled:
            return []
        probes = []
        for _ in range(self.settings.probes_per_step):
            source, target = rng.sample(miners, 2)
            ch = rng.choice(sampled)
            probes.append(Query(target.uid, target.hotkey, target.endpoint, ch, miner_seed(ch.seed, source.hotkey),
                                probe_of=source.uid))
        return probes

    async def _check(self, rng: random.Random, graph: Metagraph, scored: list[Outcome], probes: list[Outcome],
                     failures: Counter[str]) -> tuple[list[int], list[Outcome], list[tuple[int, int]]]:
        """Inspect every answer, verify a share of them, and settle probe matches.

        Every answer that came back (admission already failed those of models this validator does not hold) is
        inspected (``ReferenceModel.inspect``: cheap, no model run), which sets its ``completeness``; a fraction
        ``verify_fraction`` of them is also verified by one teacher-forced pass. Probe answers are always verified,
        under the probe target's own key. When a probe's answer equals the probed miner's scored answer, that
        scored answer is verified too: the one of the two whose text is not its own fails (``validators.copying``).
        Returns the uids caught lying, the scored outcomes with their inspection (an answer the check could not
        process becomes a failed one: it scores 0), and the (probed, target) uid pairs whose answers matched.
        """
        caught: dict[int, str] = {}
        unverifiable: set[int] = set()
        verdicts: dict[int, Verdict] = {}  # id(outcome) -> its inspection, or its verification once verified
        verified: set[int] = set()

        async def check(o: Outcome, *, full: bool) -> None:
            uid = o.query.uid
            if o.response.error is not None or uid in caught or id(o) in unverifiable or id(o) in verified:
                return
            committed = graph.axons[uid].model_hash
            model = self.models.get(committed)
            if model is None:
                return
            if o.model_hash and o.model_hash != committed:
                caught[uid] = "its answer names another model than its commitment"
                return
            sent = request_of(o.query)  # greedy or sampled: the exact temperature, top_p and seed we sent
            try:
                if full:
                    verified.add(id(o))
                    # The miner samples with our seed bound to its own hotkey (subnet.seed_binding): a relay's
                    # answer, sampled under its source's key, fails here.
                    verdict = await asyncio.to_thread(
                        model.verify, o.query.challenge.messages, o.response.text, o.token_ids, o.logprobs,
                        temperature=sent.temperature, top_p=sent.top_p, seed=bind_seed(sent.seed, o.query.hotkey),
                        max_new_tokens=sent.max_new_tokens, miner_dtype=o.model_dtype)
                else:
                    verdict = model.inspect(o.response.text, o.token_ids, o.logprobs,
                                            max_new_tokens=sent.max_new_tokens)
            except VERIFY_ERRORS as exc:
                log.debug("uid %d: its answer to %s cannot be checked, it scores 0 (%s: %s)", uid,
                          o.query.challenge.id, type(exc).__name__, exc)
                failures[UNVERIFIABLE] += 1
                unverifiable.add(id(o))
                return
            verdicts[id(o)] = verdict
            if not verdict.ok:
                caught[uid] = verdict.reason

        for o in scored:
            await check(o, full=False)
            if rng.random() < self.settings.verify_fraction:
                await check(o, full=True)
        answers = {(o.query.challenge.id, o.query.uid): o for o in scored if o.response.error is None}
        matches: list[tuple[int, int]] = []
        for p in probes:
            await check(p, full=True)
            original = answers.get((p.query.challenge.id, p.query.probe_of))
            if original is not None and p.response.error is None and same_answer(p.response.text,
                                                                                 original.response.text):
                matches.append((original.query.uid, p.query.uid))
                await check(original, full=True)
        for uid, reason in caught.items():
            log.warning("uid %d caught lying: %s", uid, reason)

        def settled(o: Outcome) -> Outcome:
            if id(o) in unverifiable:
                return replace(o, response=Response.failed(UNVERIFIABLE))
            verdict = verdicts.get(id(o))
            if verdict is None:
                return o  # a failed call, or a model we do not hold: it already scores 0
            return replace(o, response=replace(o.response, completeness=verdict.completeness))

        return sorted(caught), [settled(o) for o in scored], matches

    # --- weights --------------------------------------------------------------------------------------

    async def maybe_set_weights(self) -> str:
        graph = await Metagraph.sync(self.chain)
        # Scores are synced to the hotkeys at each step; a uid re-registered since then must already weigh 0 here,
        # not carry its previous occupant's score to the new hotkey until the next step.
        hotkeys = {int(u): h for u, h in zip(graph.uids, graph.hotkeys, strict=True)}
        state = sync_hotkeys(self.state, hotkeys)
        weights = weights_from_scores(scores_vector(state, graph.n, step=state.step + 1))
        result = await self.setter.maybe_set(graph, weights)
        # An outdated version key is logged by the setter, as an error, once.
        if result not in ("not due", "no scores yet") and not result.startswith(OUTDATED):
            log.info("weights: %s", result)
        return result

