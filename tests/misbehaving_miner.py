"""Real miners that misbehave, for the validator's integration test and the cheaters' reliability scenario. Each is
the real ``subnet-miner`` server (signing, access policy, chain announcement) around a generator that does
something wrong. Every one of them commits to the --model it names, as an honest miner of that model does.

    python -m tests.misbehaving_miner BEHAVIOUR [subnet-miner flags...]

BEHAVIOUR is one of:
  garbage             random words instead of an answer
  slow:SECONDS        the honest model, but every answer waits SECONDS first (past the validator's deadline)
  crash               the honest model, but the process dies in the middle of its first answer
  liar:SPEC           commits to the --model it names but serves the model SPEC
  solver              no model: exact (greedy) tasks answered by a rule-based solver (tests/cheater_solver.py),
                      open prompts by canned text; tokenized, log-probs 0
  lookup              no model per request: every answer comes from a table of greedy answers the model gave to
                      a few generic prompts once, at start-up (real tokens and log-probs, of other prompts)
  greedy              the honest model, but always greedy: it ignores the temperature and seed it is asked for
  wrongdtype          the honest model computing in bfloat16, declaring float32 (on the wire and in its identity)
  relay:HOTKEY@EP     no model: relays every request to the miner HOTKEY at EP and returns its answer as its own
                      (``copycat:HOTKEY@EP`` is the same)
  griefer:HOTKEY@EP   no model: relays sampled requests to the miner HOTKEY at EP, answers exact (greedy) tasks
                      wrong on purpose
A relay or griefer calls the upstream miner with its own hotkey: start that miner with ``--allowlist`` naming it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import sys
import time
import zlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from miners.backend import Completion, GenerationRequest, TokenEvent
from miners.generators import Generator
from miners.main import MinerSettings, load_generator, parse_args, run
from subnet.client import MinerClient
from subnet.keys import Keypair
from subnet.model_loading import LoadedModel, end_token_ids, load_model
from subnet.models import ChatMessage, encode_prompt, teacher_forced_logprobs
from subnet.proto import subnet_pb2 as pb
from tests.cheater_solver import solve
from validators.challenges import ChallengeSettings

WORDS = ["apple", "river", "stone", "cloud", "quickly", "purple", "engine", "seven", "whisper", "garden", "mirror", "candle", "orbit", "velvet"]


class Wrapped:
    """A generator that delegates to ``inner`` (same identity and limits) unless a method says otherwise."""

    def __init__(self, inner: Generator) -> None:
        self.inner = inner
        self.identity = inner.identity
        self.max_new_tokens = inner.max_new_tokens
        self.max_prompt_tokens = inner.max_prompt_tokens
        self.max_batch = inner.max_batch
        self.engine = getattr(inner, "engine", None)

    def stream(self, request, *, priority, deadline):
        return self.inner.stream(request, priority=priority, deadline=deadline)

    async def stop(self, grace_s: float) -> None:
        await self.inner.stop(grace_s)


class Garbage(Wrapped):
    async def stream(self, request: GenerationRequest, *, priority, deadline) -> AsyncIterator[TokenEvent | Completion]:
        rng = random.Random()
        words = [rng.choice(WORDS) for _ in range(min(request.sampling.max_new_tokens, 40))]
        for i, word in enumerate(words):
            yield TokenEvent(i, 1000 + i, -0.1, (" " if i else "") + word)
        yield Completion(request.request_id, self.identity, (1,), tuple(1000 + i for i in range(len(words))),
                         (-0.1,) * len(words), " ".join(words), "length", 0.01, 100.0, 0.0)


class Slow(Wrapped):
    def __init__(self, inner: Generator, delay_s: float) -> None:
        super().__init__(inner)
        self.delay_s = delay_s

    async def stream(self, request, *, priority, deadline):
        await asyncio.sleep(self.delay_s)
        async for event in self.inner.stream(request, priority=priority, deadline=None):
            yield event


class Crash(Wrapped):
    async def stream(self, request, *, priority, deadline):
        async for event in self.inner.stream(request, priority=priority, deadline=deadline):
            if isinstance(event, TokenEvent) and event.index >= 2:
                os._exit(3)  # a hard crash in the middle of an answer
            yield event


class Greedy(Wrapped):
    """The honest model, always greedy: cheaper to batch and cache than sampling, and what it is asked for on
    exact tasks anyway."""

    def stream(self, request, *, priority, deadline):
        greedy = dataclasses.replace(request, sampling=dataclasses.replace(request.sampling, temperature=0.0))
        return self.inner.stream(greedy, priority=priority, deadline=deadline)


class Liar(Wrapped):
    """Serves ``inner`` while claiming another identity (another model's, or the same model in another dtype)."""

    def __init__(self, inner: Generator, claimed) -> None:
        super().__init__(inner)
        self.identity = claimed
        backend = getattr(self.engine, "backend", None)
        if backend is not None:
            backend.identity = claimed  # completions carry the claimed identity too


# --- model-free cheaters ---------------------------------------------------------------------------------------

# Plausible filler for open prompts: what a model-free miner sends when a validator asks it to write something.
CANNED_OPEN = (
    "That is a great question. There are several things worth keeping in mind here. First, it helps to look at "
    "the problem from more than one side and to think about what matters most to the people involved. Second, "
    "small and steady steps usually work better than one big change. Finally, it is always a good idea to check "
    "the result and to learn from what went well and what did not. I hope this helps!",
    "Here is a short answer. The topic has a long history, and people have thought about it in many different "
    "ways. Most agree that the key ideas are simple: be clear about the goal, keep things practical, and stay "
    "curious. Examples from everyday life show how these ideas apply, and they make it easier to remember them. "
    "In short, it is a subject that rewards a little patience and attention.",
)
# The griefer's answer to every exact task: it parses as no task's expected answer.
WRONG_ANSWER = "Sorry, I cannot help with that."
# The lookup miner's table: generic prompts whose greedy answers it computes once and then serves to everyone.
# Few and short: the table is generated at start-up, on the same CPU as every other process of a scenario.
LOOKUP_EXACT_PROMPTS = ("What is 2 + 3? Answer with the number only.", "Which day comes after Monday?",
                        "How many letters are in the word 'cat'?")
LOOKUP_OPEN_PROMPTS = ("Write a short paragraph about the sea.", "Explain what a computer does, simply.")


@dataclass(frozen=True)
class Answer:
    """A whole answer as a miner returns it: the text, its token ids and their log-probs."""

    text: str
    token_ids: tuple[int, ...]
    logprobs: tuple[float, ...]


def load_committed(settings: MinerSettings) -> LoadedModel:
    """The model named by ``--model``, loaded only for what a commitment needs (its identity: the hash of the very
    weights an honest miner hashes) and for its tokenizer."""
    print(f"loading model {settings.model} for its identity and tokenizer ...", flush=True)
    return load_model(settings.model, device=settings.device, dtype=settings.dtype)


def last_user_text(request: GenerationRequest) -> str:
    users = [m.content for m in request.messages if m.role == "user"]
    return users[-1] if users else request.prompt


def pick(table: Sequence, request: GenerationRequest):
    """One entry of ``table``, the same for the same prompt (a stable hash: no per-request work)."""
    return table[zlib.crc32(last_user_text(request).encode()) % len(table)]


class ModelFree:
    """A generator that answers without running a model. It keeps only the committed model's identity and
    tokenizer (the weights are dropped after loading), so its answers still come as the model's token ids, which
    the validator decodes and checks; ``answer`` says what to send."""

    def __init__(self, loaded: LoadedModel, settings: MinerSettings) -> None:
        self.identity = loaded.identity
        self.tokenizer = loaded.tokenizer
        eos = loaded.tokenizer.eos_token_id
        self.end_id = int(eos) if eos is not None else min(end_token_ids(loaded))
        self.max_new_tokens = settings.max_new_tokens
        self.max_prompt_tokens = settings.max_prompt_tokens
        self.max_batch = settings.max_batch

    async def answer(self, request: GenerationRequest, deadline: float | None) -> Answer:
        raise NotImplementedError

    def limit(self, request: GenerationRequest) -> int:
        return min(request.sampling.max_new_tokens, self.max_new_tokens)

    def decode(self, token_ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(token_ids), skip_special_tokens=True)

    def tokenized(self, text: str, limit: int) -> Answer:
        """``text`` as the model's tokens, cut at ``limit`` and otherwise closed by the end token (so it looks
        like a whole answer, as a finished honest one does); log-probs 0, as the model is never run."""
        ids = list(self.tokenizer.encode(text, add_special_tokens=False))[:limit]
        if len(ids) < limit:
            ids.append(self.end_id)
        return Answer(self.decode(ids), tuple(ids), (0.0,) * len(ids))

    def events(self, answer: Answer) -> list[TokenEvent]:
        """One event per token, whose texts add up to the answer's text (as the engine streams them)."""
        out, shown = [], ""
        for i, (token, logprob) in enumerate(zip(answer.token_ids, answer.logprobs, strict=True)):
            text = self.decode(answer.token_ids[: i + 1])
            out.append(TokenEvent(i, token, logprob, text[len(shown):]))
            shown = text
        return out

    async def stream(self, request: GenerationRequest, *, priority, deadline) -> AsyncIterator[TokenEvent | Completion]:
        started = time.monotonic()
        answer = await self.answer(request, deadline)
        for event in self.events(answer):
            yield event
        elapsed = max(time.monotonic() - started, 1e-6)
        prompt_ids = encode_prompt(self.tokenizer, [ChatMessage(m.role, m.content) for m in request.messages],
                                   request.prompt)
        ended = bool(answer.token_ids) and answer.token_ids[-1] == self.end_id
        yield Completion(request.request_id, self.identity, tuple(prompt_ids), answer.token_ids, answer.logprobs,
                         answer.text, "stop" if ended else "length", elapsed, len(answer.token_ids) / elapsed, 0.0)

    async def stop(self, grace_s: float) -> None:
        return None


class Solver(ModelFree):
    """Exact tasks (asked greedily) solved by rules, open prompts answered with canned text."""

    async def answer(self, request: GenerationRequest, deadline: float | None) -> Answer:
        if request.sampling.temperature == 0:
            return self.tokenized(solve(last_user_text(request)) or "0", self.limit(request))
        return self.tokenized(pick(CANNED_OPEN, request), self.limit(request))


def greedy_answer(loaded: LoadedModel, question: str, max_new_tokens: int) -> Answer:
    """The model's greedy answer to ``question`` (a single user turn), with its real log-probs."""
    import torch

    prompt_ids = encode_prompt(loaded.tokenizer, [ChatMessage("user", question)])
    ends = sorted(end_token_ids(loaded))
    with torch.inference_mode():
        out = loaded.model.generate(torch.tensor([prompt_ids]), attention_mask=torch.ones(1, len(prompt_ids),
                                                                                           dtype=torch.long),
                                    do_sample=False, max_new_tokens=max_new_tokens, eos_token_id=ends,
                                    pad_token_id=ends[0])
    ids = tuple(out[0, len(prompt_ids):].tolist())
    logprobs = teacher_forced_logprobs(loaded.model, prompt_ids, ids).logprobs
    return Answer(loaded.tokenizer.decode(list(ids), skip_special_tokens=True), ids, tuple(logprobs))


class Lookup(ModelFree):
    """Serves every request from a fixed table: the greedy answers the model gave to a few generic prompts once,
    at start-up. They are the model's own tokens and log-probs, only not for the prompt asked."""

    def __init__(self, loaded: LoadedModel, settings: MinerSettings) -> None:
        super().__init__(loaded, settings)
        lengths = ChallengeSettings()  # the validator's answer lengths, exact and open
        self.exact_table = [greedy_answer(loaded, q, lengths.exact_max_new_tokens) for q in LOOKUP_EXACT_PROMPTS]
        self.open_table = [greedy_answer(loaded, q, lengths.open_max_new_tokens) for q in LOOKUP_OPEN_PROMPTS]

    async def answer(self, request: GenerationRequest, deadline: float | None) -> Answer:
        entry = pick(self.exact_table if request.sampling.temperature == 0 else self.open_table, request)
        limit = self.limit(request)
        if len(entry.token_ids) <= limit:
            return entry
        ids = entry.token_ids[:limit]
        return Answer(self.decode(ids), ids, entry.logprobs[:limit])


class Relay(ModelFree):
    """Forwards the request unchanged (seed included) to another miner and returns that miner's answer."""

    def __init__(self, loaded: LoadedModel, settings: MinerSettings, hotkey: Keypair, upstream_hotkey: str,
                 upstream: str) -> None:
        super().__init__(loaded, settings)
        self.hotkey, self.upstream_hotkey, self.upstream = hotkey, upstream_hotkey, upstream
        self.client: MinerClient | None = None

    async def answer(self, request: GenerationRequest, deadline: float | None) -> Answer:
        return await self.relayed(request, deadline)

    async def relayed(self, request: GenerationRequest, deadline: float | None) -> Answer:
        if self.client is None:  # connected here, on the server's event loop (a channel is bound to its loop)
            self.client = MinerClient.connect(self.upstream, keypair=self.hotkey, receiver_ss58=self.upstream_hotkey)
        s = request.sampling
        # The caller's deadline, as far as it is known: the upstream miner may be slow under load.
        timeout_s = max(1.0, deadline - time.monotonic()) if deadline is not None else 60.0
        reply = await self.client.generate(pb.GenerateRequest(
            messages=[pb.ChatMessage(role=m.role, content=m.content) for m in request.messages], prompt=request.prompt,
            max_new_tokens=s.max_new_tokens, temperature=s.temperature, top_p=s.top_p, seed=s.seed or 0,
            request_id=request.request_id), timeout_s=timeout_s)
        return Answer(reply.text, tuple(reply.token_ids), tuple(reply.logprobs))


class Griefer(Relay):
    """Relays sampled requests to its target, hoping that the copy is blamed on the target, and answers exact tasks
    wrong on purpose: it is there to hurt the target, not to earn."""

    async def answer(self, request: GenerationRequest, deadline: float | None) -> Answer:
        if request.sampling.temperature > 0:
            return await self.relayed(request, deadline)
        return self.tokenized(WRONG_ANSWER, self.limit(request))



def build_liar(settings: MinerSettings, spec: str) -> Generator:
    claimed = load_generator(settings).identity
    return Liar(load_generator(dataclasses.replace(settings, model=spec)), claimed)


def build_wrong_dtype(settings: MinerSettings, _: str) -> Generator:
    """The model computing in bfloat16 but declaring float32, the precision validators check strictly (a bf16
    miner that says so is held to the loose half-precision rule instead)."""
    served = load_generator(dataclasses.replace(settings, dtype="bfloat16"))
    return Liar(served, dataclasses.replace(served.identity, dtype="float32"))


def own_hotkey(settings: MinerSettings) -> Keypair:
    from subnet.wallet import Wallet, default_wallet_root

    return Wallet(name=settings.wallet_name, hotkey=settings.wallet_hotkey,
                  root=settings.wallet_path or default_wallet_root()).load_hotkey()


def build_relay(kind: type[Relay]):
    def build_it(settings: MinerSettings, target: str) -> Generator:
        upstream_hotkey, _, endpoint = target.partition("@")
        return kind(load_committed(settings), settings, own_hotkey(settings), upstream_hotkey, endpoint)

    return build_it


BUILDERS = {
    "garbage": lambda s, _: Garbage(load_generator(s)),
    "slow": lambda s, seconds: Slow(load_generator(s), float(seconds)),
    "crash": lambda s, _: Crash(load_generator(s)),
    "liar": build_liar,
    "solver": lambda s, _: Solver(load_committed(s), s),
    "lookup": lambda s, _: Lookup(load_committed(s), s),
    "greedy": lambda s, _: Greedy(load_generator(s)),
    "wrongdtype": build_wrong_dtype,
    "relay": build_relay(Relay),
    "copycat": build_relay(Relay),  # the name the validator's end-to-end test uses
    "griefer": build_relay(Griefer),
}


def build(behaviour: str, settings: MinerSettings) -> Generator:
    kind, _, arg = behaviour.partition(":")
    if kind not in BUILDERS:
        raise SystemExit(f"unknown behaviour {behaviour!r}; one of {', '.join(BUILDERS)}")
    return BUILDERS[kind](settings, arg)

def main() -> None:
    behaviour, argv = sys.argv[1], sys.argv[2:]
    settings = parse_args(argv)
    started = time.monotonic()
    generator = build(behaviour, settings)
    print(f"{behaviour} miner built in {time.monotonic() - started:.1f}s", flush=True)
    asyncio.run(run(settings, generator))


if __name__ == "__main__":
    main()
