"""``subnet-validator``: score the subnet's miners and set weights.

    subnet-validator --wallet.name W --wallet.hotkey H --chain.endpoint HOST:PORT [--sample-size N]
                     [--timeout-s S] [--state-dir DIR] [--reference-model SPEC ...]

APScheduler runs two jobs: a step every ``--step-interval-s`` (never two at once) and a weights check every
``--weights-check-interval-s``. Scores persist in DIR/scores.json after every step, so a restart resumes them.
Once running it prints ``READY validator <hotkey>``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from datetime import UTC
from pathlib import Path

from apscheduler.events import EVENT_JOB_MAX_INSTANCES
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from subnet.chain.client import add_chain_trust_flags
from subnet.errors import SubnetError
from subnet.wallet import Wallet, default_wallet_root
from validators.config import ValidatorSettings
from validators.loop import Validator

log = logging.getLogger("subnet.validator")


def parse_args(argv: list[str] | None) -> ValidatorSettings:
    d = ValidatorSettings()
    p = argparse.ArgumentParser(prog="subnet-validator", description="Score the subnet's miners and set weights.")
    p.add_argument("--wallet.name", "--wallet-name", dest="wallet_name", default=os.environ.get("SUBNET_WALLET_NAME",
                                                                                                "default"))
    p.add_argument("--wallet.hotkey", "--wallet-hotkey", dest="wallet_hotkey",
                   default=os.environ.get("SUBNET_WALLET_HOTKEY", "default"))
    p.add_argument("--wallet.path", "--wallet-path", dest="wallet_path", type=Path, default=None)
    p.add_argument("--chain.endpoint", "--chain-endpoint", dest="chain_endpoint",
                   default=os.environ.get("SUBNET_CHAIN_ENDPOINT", d.chain_endpoint))
    add_chain_trust_flags(p)
    p.add_argument("--sample-size", type=int, default=d.sample_size, help="miners per step (0 = all)")
    p.add_argument("--timeout-s", type=float, default=d.timeout_s, help="deadline of one query")
    p.add_argument("--step-interval-s", type=float, default=d.step_interval_s)
    p.add_argument("--weights-check-interval-s", type=float, default=d.weights_check_interval_s)
    p.add_argument("--state-dir", type=Path, default=d.state_dir)
    p.add_argument("--reference-model", action="append", default=None, metavar="SPEC",
                   help="an admitted model to verify and pay (repeat for each; smollm2-135m, tiny, a path, any of "
                        "them with :layers=F for a first-layers model, or 'none'); default: smollm2-135m")
    p.add_argument("--device", default=d.device)
    p.add_argument("--n-exact", type=int, default=d.n_exact)
    p.add_argument("--n-open", type=int, default=d.n_open)
    p.add_argument("--open-temperature", type=float, default=d.open_temperature)
    p.add_argument("--verify-fraction", type=float, default=d.verify_fraction)
    p.add_argument("--probes-per-step", type=int, default=d.probes_per_step,
                   help="unscored cross-probes per step for copy detection")
    p.add_argument("--seed", type=int, default=None, help="base seed of the challenges (replayable steps)")
    p.add_argument("--log-level", default=os.environ.get("SUBNET_LOG_LEVEL", "INFO"))
    a = p.parse_args(argv)
    logging.basicConfig(level=a.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.ERROR)  # its own lines are noise; skips are logged below
    specs = d.reference_models if a.reference_model is None else tuple(
        spec for spec in a.reference_model if spec not in ("", "none"))
    return ValidatorSettings(
        chain_endpoint=a.chain_endpoint, chain_node_address=a.chain_node_address, chain_tls_ca=a.chain_tls_ca, wallet_name=a.wallet_name, wallet_hotkey=a.wallet_hotkey,
        wallet_path=a.wallet_path, state_dir=a.state_dir, reference_models=specs, device=a.device,
        sample_size=a.sample_size, timeout_s=a.timeout_s, step_interval_s=a.step_interval_s,
        weights_check_interval_s=a.weights_check_interval_s, n_exact=a.n_exact, n_open=a.n_open,
        open_temperature=a.open_temperature,
        verify_fraction=a.verify_fraction, probes_per_step=a.probes_per_step, seed=a.seed,
    )


def load_parts(settings: ValidatorSettings):
    """The slow parts (keys, models), loaded off the event loop."""
    from validators.reference import ReferenceModels

    wallet = Wallet(name=settings.wallet_name, hotkey=settings.wallet_hotkey,
                    root=settings.wallet_path or default_wallet_root())
    hotkey = wallet.load_hotkey()
    print(f"loading the models to verify: {', '.join(settings.reference_models) or 'none'}...", flush=True)
    models = ReferenceModels.load(settings.reference_models, device=settings.device)
    for line in models.describe():
        print(f"  holding {line}", flush=True)
    return hotkey, models


async def run(settings: ValidatorSettings) -> None:
    hotkey, models = await asyncio.to_thread(load_parts, settings)
    validator = Validator(settings, hotkey, models=models)  # gRPC channels: on the loop
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    async def step_job() -> None:
        try:
            await validator.step()
        except Exception:  # the validator's own trouble (e.g. chain down): log it, the next step retries
            log.exception("step failed")

    async def weights_job() -> None:
        try:
            await validator.maybe_set_weights()
        except Exception:
            log.exception("weights check failed")

    scheduler = AsyncIOScheduler()
    scheduler.add_job(step_job, "interval", seconds=settings.step_interval_s, max_instances=1, coalesce=True,
                      misfire_grace_time=None, next_run_time=_now())
    scheduler.add_job(weights_job, "interval", seconds=settings.weights_check_interval_s, max_instances=1,
                      coalesce=True, misfire_grace_time=None)
    scheduler.add_listener(_log_skipped_run, EVENT_JOB_MAX_INSTANCES)
    scheduler.start()
    print(f"READY validator {validator.hotkey.ss58_address}", flush=True)
    await stop.wait()
    scheduler.shutdown(wait=False)
    await validator.close()


def _log_skipped_run(event) -> None:
    # Expected now and then (a step can outlast the interval when miners time out), but worth counting.
    log.info("job %s skipped: maximum number of running instances reached (the previous run is still going)",
             event.job_id)


def _now():
    from datetime import datetime

    return datetime.now(UTC)


def main(argv: list[str] | None = None) -> int:
    settings = parse_args(argv)
    try:
        asyncio.run(run(settings))
    except SubnetError as exc:
        print(f"subnet-validator: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
