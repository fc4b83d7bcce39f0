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
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from subnet.chain.client import ChainClient
from subnet.keys import Keypair
from subnet.metagraph import Axon, Metagraph
from subnet.seed_binding import bind_seed
from validators.challenges import Challenge, ChallengeSettings, build_challenges, miner_seed
from validators.config import ValidatorSettings
from validators.copying import apply_copy_penalty, link_groups, normalise_for_copy
from validators.querying import MinerClients, Outcome, Query, request_of, run_query
from validators.reference import ReferenceModel
from validators.rewards import Response, RewardSettings, score_challenge, step_rewards
from validators.setter import OUTDATED, WeightSetter
from validators.similarity import Embedder
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
MIN_COPY_WORDS = 12
UNSCORABLE = "unscorable reply"
UNVERIFIABLE = "unverifiable reply"
NOT_ADMITTED = "model not admitted"  # the miner's committed model is not one the subnet pays for
WRONG_DTYPE = "precision not admitted"  # the admitted model requires another declared dtype
FAILED_CHECK = "answer cut short"  # fails its spot check in a way an honest miner can (see Verdict.lie)
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
    copy_groups: tuple[tuple[int, ...], ...]
    failures: Mapping[str, int] = field(default_factory=dict)  # failed queries of the step, by reason


class Validator:
    def __init__(self, settings: ValidatorSettings, hotkey: Keypair, *, reference: ReferenceModel | None,
                 embedder: Embedder | None) -> None:
        self.settings = settings
        self.hotkey = hotkey
        self.reference = reference
        self.embedder = embedder
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
        # ((uid, hotkey), (uid, hotkey)) -> last step the link still caps the pair. The hotkeys are kept so a link
        # dies with the registration it was observed on: a uid's next occupant inherits nothing.
        self.copy_links: dict[tuple[tuple[int, str], tuple[int, str]], int] = {}
        self.last_report: StepReport | None = None
        self.overruns = 0  # steps that took longer than their budget
        self.failures: Counter[str] = Counter()  # failed queries since the start, by reason

    @property
    def step_budget_s(self) -> float:
        """A step must finish within the query deadline plus room for reference answers and spot checks."""
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
        challenges = build_challenges(rng, s.n_exact, s.n_open if self.reference and self.embedder else 0,
                                      ChallengeSettings(open_temperature=s.open_temperature))
        queries = [Query(a.uid, a.hotkey, a.endpoint, ch, miner_seed(ch.seed, a.hotkey)) for ch in challenges
                   for a in miners]
        queries += self._probes(rng, miners, challenges)
        # Every query gets its own opaque id and goes out in random order, so neither the id nor the arrival
        # order tells a miner which request is an unscored copy-detection probe.
        queries = [replace(q, request_id=f"{rng.getrandbits(64):016x}") for q in queries]
        rng.shuffle(queries)

        references = asyncio.gather(*(asyncio.to_thread(self.reference.answer, ch.messages, ch.max_new_tokens)
                                      for ch in challenges if ch.kind == "open")) if self.reference else None
        semaphore = asyncio.Semaphore(s.max_concurrent_queries)
        outcomes = await asyncio.gather(*(self._query(q, semaphore) for q in queries))
        reference_texts = iter(await references) if references is not None else iter(())
        refs = {ch.id: next(reference_texts) for ch in challenges if ch.kind == "open"}
        failures = Counter(o.response.error for o in outcomes if o.response.error is not None)

        scored = [self._admission(graph, o, failures) for o in outcomes if o.query.probe_of is None]
        # Spot checks first: an answer the check could not process scores 0, as a failed call would.
        liars, unverifiable = await self._spot_check(rng, graph, scored, failures)
        scored = [replace(o, response=Response.failed(UNVERIFIABLE)) if id(o) in unverifiable else o for o in scored]
        per_challenge = []
        for ch in challenges:
            responses = {o.query.uid: o.response for o in scored if o.query.challenge.id == ch.id}
            kwargs = {"reference": refs[ch.id], "similarity": self.embedder.similarity} if ch.kind == "open" else {}
            per_challenge.append(score_challenge(ch, responses, deadline_s=s.timeout_s,
                                                 settings=self.reward_settings,
                                                 on_error=self._unscorable(ch, failures), **kwargs))
        uids = [a.uid for a in miners]
        rewards = step_rewards(per_challenge, uids)
        groups = self._copy_groups(step, outcomes, hotkeys)
        rewards = apply_copy_penalty(rewards, groups)

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
        report = StepReport(step, duration, tuple(uids), rewards, tuple(liars), tuple(groups), dict(failures))
        self.last_report = report
        log.info("step %d: %d miners in %.1fs; rewards %s%s%s%s", step, len(uids), duration,
                 {u: round(r, 3) for u, r in sorted(rewards.items())},
                 f"; caught lying: {list(liars)}" if liars else "", f"; copies: {groups}" if groups else "",
                 f"; failed queries: {dict(sorted(failures.items()))}" if failures else "")
        return report

    def admitted_hashes(self, graph: Metagraph) -> set[str]:
        """The models a miner can be paid for: the owner's admitted list on chain; while the chain admits none, the
        model this validator holds itself (so committing to an unknown hash never escapes verification)."""
        if graph.admitted_models:
            return {m.model_hash for m in graph.admitted_models}
        return {self.reference.weights_sha256} if self.reference is not None else set()

    def _admission(self, graph: Metagraph, outcome: Outcome, failures: Counter[str]) -> Outcome:
        """``outcome``, or a failed one (it scores 0) when the miner's committed model is not admitted, or its
        answer declares another precision than the admitted model requires."""
        if outcome.response.error is not None:
            return outcome
        committed = graph.axons[outcome.query.uid].model_hash
        reason = None
        if committed not in self.admitted_hashes(graph):
            reason = NOT_ADMITTED
        else:
            policy = graph.admitted(committed)
            if policy is not None and policy.dtype and outcome.model_dtype != policy.dtype:
                reason = WRONG_DTYPE
        if reason is None:
            return outcome
        failures[reason] += 1
        return replace(outcome, response=Response.failed(reason))

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
        """Repeat some miners' exact open requests (same seed) to another miner, unscored, for copy detection.

        Sampled requests make a match strong evidence of relaying; greedy ones also match between miners that run
        the very same model, which the copy rule (cap at the group's minimum) leaves practically unharmed.
        """
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

    def _copy_groups(self, step: int, outcomes: list[Outcome], hotkeys: Mapping[int, str]) -> list[tuple[int, ...]]:
        """Link miners whose probe answer equals the probed miner's scored answer; links last a few steps.

        ``hotkeys`` is the metagraph's uid -> hotkey at this step: a link whose uid changed hands since it was
        seen is dropped (the new miner did not copy anyone).
        """
        answers: dict[tuple[str, int], str] = {}
        for o in outcomes:
            if o.query.probe_of is None and o.response.error is None:
                answers[(o.query.challenge.id, o.query.uid)] = normalise_for_copy(o.response.text)
        for o in outcomes:
            source = o.query.probe_of
            if source is None or o.response.error is not None or source not in hotkeys:
                continue
            original = answers.get((o.query.challenge.id, source), "")
            probe = normalise_for_copy(o.response.text)
            if original and probe == original and len(probe.split()) >= MIN_COPY_WORDS:
                a, b = sorted(((source, hotkeys[source]), (o.query.uid, o.query.hotkey)))
                self.copy_links[(a, b)] = step + self.settings.copy_memory_steps
        self.copy_links = {(a, b): until for (a, b), until in self.copy_links.items()
                           if until >= step and hotkeys.get(a[0]) == a[1] and hotkeys.get(b[0]) == b[1]}
        return link_groups((a[0], b[0]) for a, b in self.copy_links)

    async def _spot_check(self, rng: random.Random, graph: Metagraph, scored: list[Outcome],
                          failures: Counter[str]) -> tuple[list[int], set[int]]:
        """Teacher-force a share of the answers of miners that committed to our reference model.

        Returns the uids caught lying, and the ``id()`` of the outcomes whose check could not run (they score 0
        as failed queries). An answer with more tokens than its request allows (``max_new_tokens`` plus an end
        token) is a lie, caught without running the model; no check teacher-forces more tokens than that.
        """
        unverifiable: set[int] = set()
        if self.reference is None:
            return [], unverifiable
        ours = self.reference.weights_sha256
        caught: dict[int, str] = {}
        by_uid: dict[int, list[Outcome]] = defaultdict(list)
        for o in scored:
            if o.response.error is None:  # tokens or not: an answer without them fails its check
                by_uid[o.query.uid].append(o)
        for uid, answers in by_uid.items():
            committed = graph.axons[uid].model_hash
            if committed != ours:
                continue  # we cannot check a model we do not hold
            for o in answers:
                if o.model_hash and o.model_hash != committed:
                    caught[uid] = "its answer names another model than its commitment"
                    break
                asked = o.query.challenge.max_new_tokens
                if len(o.token_ids) > asked:  # the end token counts toward max_new_tokens
                    caught[uid] = f"{len(o.token_ids)} tokens in an answer to a request for at most {asked}"
                    break
                if rng.random() >= self.settings.verify_fraction:
                    continue
                sent = request_of(o.query)  # greedy or sampled: the exact temperature, top_p and seed we sent
                try:
                    # The miner samples with our seed bound to its own hotkey (subnet.seed_binding): a relay's
                    # answer, sampled under its source's key, fails here.
                    seed = bind_seed(sent.seed, o.query.hotkey)
                    verdict = await asyncio.to_thread(
                        self.reference.verify, o.query.challenge.messages, o.response.text, o.token_ids, o.logprobs,
                        temperature=sent.temperature, top_p=sent.top_p, seed=seed,
                        max_new_tokens=sent.max_new_tokens, miner_dtype=o.model_dtype)
                except VERIFY_ERRORS as exc:
                    log.debug("uid %d: its answer to %s cannot be spot-checked, it scores 0 (%s: %s)", uid,
                              o.query.challenge.id, type(exc).__name__, exc)
                    failures[UNVERIFIABLE] += 1
                    unverifiable.add(id(o))
                    continue
                if not verdict.ok and not verdict.lie:
                    log.debug("uid %d: its answer to %s fails its check, it scores 0 (%s)", uid, o.query.challenge.id,
                              verdict.reason)
                    failures[FAILED_CHECK] += 1
                    unverifiable.add(id(o))
                    continue
                if not verdict.ok:
                    caught[uid] = verdict.reason
                    break
        for uid, reason in caught.items():
            log.warning("uid %d caught lying: %s", uid, reason)
        return sorted(caught), unverifiable

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
