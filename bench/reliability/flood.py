"""The abuse flood of scenario 5, as its own process (so its CPU use does not distort the good client's timing).

    python -m bench.reliability.flood ENDPOINT RECEIVER --seed-file F --count N --max-seconds S [--concurrency C]

Sends N bad calls to the miner's Generate (loopback only), spread evenly over S seconds, cycling through five
kinds; prints ``START`` when it begins sending and, at the end, one JSON line: per kind, calls sent, refused as expected, and the first
few unexpected outcomes. Expected refusals (``subnet/WIRE.md``):

- unsigned: no ``x-subnet-auth`` -> UNAUTHENTICATED ``missing metadata``
- forged: claims the registered validator's address, signed by another key -> UNAUTHENTICATED ``bad signature``
- tampered: validly signed by the validator, another body sent -> UNAUTHENTICATED ``body hash mismatch``
- replayed: a call the validator signed (sent once, first), sent again -> UNAUTHENTICATED ``replayed nonce``
- unregistered: validly signed by a key that is not on the subnet -> PERMISSION_DENIED ``access denied``

The validator's key (a throwaway key of the benchmark) is read from the seed file, hex.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from pathlib import Path

import grpc
import grpc.aio

from subnet.auth import wire
from subnet.client import method_path
from subnet.keys import Keypair
from subnet.proto import subnet_pb2 as pb

EXPECTED = {
    "unsigned": ("UNAUTHENTICATED", "missing metadata"),
    "forged": ("UNAUTHENTICATED", "bad signature"),
    "tampered": ("UNAUTHENTICATED", "body hash mismatch"),
    "replayed": ("UNAUTHENTICATED", "replayed nonce"),
    "unregistered": ("PERMISSION_DENIED", "access denied"),
}
REPLAY_REFRESH_S = 10.0  # sign a new original before the old one's timestamp goes stale (30 s skew)


def body(i: int) -> bytes:
    return pb.GenerateRequest(messages=[pb.ChatMessage(role="user", content=f"flood {i}")],
                              max_new_tokens=4).SerializeToString()


class Flood:
    def __init__(self, endpoint: str, receiver: str, validator: Keypair) -> None:
        self.channel = grpc.aio.insecure_channel(endpoint)
        self.method = method_path("Miner", "Generate")
        self.call = self.channel.unary_unary(self.method)
        self.receiver = receiver
        self.validator = validator
        self.attacker = Keypair.generate()
        self.stats = {k: {"sent": 0, "refused_as_expected": 0, "unexpected": []} for k in EXPECTED}
        self.originals = 0
        self._replay: tuple[bytes, tuple] | None = None
        self._replay_at = 0.0

    async def _original(self) -> tuple[bytes, tuple]:
        """A call signed by the validator, sent once (it may be served or rate-limited: not counted)."""
        if self._replay is None or time.monotonic() - self._replay_at > REPLAY_REFRESH_S:
            data = body(-1)
            md, _ = wire.sign_request(self.validator, self.method, data, self.receiver)
            self._replay, self._replay_at = (data, md), time.monotonic()
            self.originals += 1
            with contextlib.suppress(grpc.aio.AioRpcError):
                await self.call(data, metadata=md, timeout=10)
        return self._replay

    async def one(self, kind: str, i: int) -> None:
        data = body(i)
        if kind == "unsigned":
            md = ()
        elif kind == "forged":
            good, _ = wire.sign_request(self.attacker, self.method, data, self.receiver)
            value = good[0][1].replace(self.attacker.ss58_address, self.validator.ss58_address)
            md = ((wire.MD_AUTH, value),)
        elif kind == "tampered":
            md, _ = wire.sign_request(self.validator, self.method, data, self.receiver)
            data = body(i + 1)
        elif kind == "replayed":
            data, md = await self._original()
        else:
            md, _ = wire.sign_request(Keypair.generate(), self.method, data, self.receiver)
        s = self.stats[kind]
        s["sent"] += 1
        code, prefix = EXPECTED[kind]
        try:
            await self.call(data, metadata=md, timeout=10)
            outcome = ("OK", "")
        except grpc.aio.AioRpcError as exc:
            outcome = (exc.code().name, exc.details() or "")
        if outcome[0] == code and outcome[1].startswith(prefix):
            s["refused_as_expected"] += 1
        elif len(s["unexpected"]) < 5:
            s["unexpected"].append(list(outcome))

    async def run(self, count: int, max_seconds: float, concurrency: int) -> dict:
        kinds = list(EXPECTED)
        print("START", flush=True)
        started = time.monotonic()
        next_i = 0

        async def worker() -> None:
            nonlocal next_i
            while next_i < count:
                i = next_i
                next_i += 1
                await asyncio.sleep(max(0.0, started + i * max_seconds / count - time.monotonic()))
                await self.one(kinds[i % len(kinds)], i)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        await self.channel.close()
        return {"elapsed_s": time.monotonic() - started, "originals": self.originals, "kinds": self.stats}


def main() -> None:
    p = argparse.ArgumentParser(description="A bounded flood of bad calls against one miner (loopback only).")
    p.add_argument("endpoint")
    p.add_argument("receiver")
    p.add_argument("--seed-file", type=Path, required=True)
    p.add_argument("--count", type=int, default=2000)
    p.add_argument("--max-seconds", type=float, default=30.0)
    p.add_argument("--concurrency", type=int, default=8)
    a = p.parse_args()
    if not a.endpoint.startswith(("127.0.0.1:", "localhost:")):
        raise SystemExit("the flood only targets loopback endpoints")
    validator = Keypair.from_seed_hex(a.seed_file.read_text().strip())

    async def flood() -> dict:  # the channel must be made on the running loop
        return await Flood(a.endpoint, a.receiver, validator).run(a.count, a.max_seconds, a.concurrency)

    result = asyncio.run(flood())
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
