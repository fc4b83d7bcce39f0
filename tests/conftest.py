"""Shared fixtures. Keep this file small and generic; feature-specific helpers live in their own modules."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Tests never download anything (the models they use are built locally or shipped in a package).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# Property tests run with a fixed seed by default so a CI run is reproducible: a failure shows up on every machine
# or on none. `HYPOTHESIS_PROFILE=explore make test` draws fresh random examples to hunt for new edge cases.
settings.register_profile("reproducible", derandomize=True, print_blob=True)
settings.register_profile("explore", print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "reproducible"))


@pytest.fixture(scope="session")
def model_cache_dir() -> Path:
    """Where converted and tiny models are cached between runs: ``$SUBNET_TEST_CACHE_DIR`` or the default
    ``~/.cache/subnet``. Entries are keyed by content hash / seed and written atomically, so sharing the
    cache with other test sessions and with a running miner is safe."""
    return Path(os.environ.get("SUBNET_TEST_CACHE_DIR", "~/.cache/subnet")).expanduser()


@pytest.fixture(scope="session")
def tiny_model_dir(model_cache_dir: Path) -> Path:
    """The folder of the default tiny random-weight model (``--model tiny``, seed 0)."""
    from subnet.tiny_model import ensure_tiny_model

    return ensure_tiny_model(0, cache_dir=model_cache_dir)
