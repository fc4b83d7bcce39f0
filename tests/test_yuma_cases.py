"""Replay the public reference scenarios epoch after epoch, carrying our own bond state forward."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from consensus.yuma import YumaParams, epoch

CASES_FILE = Path(__file__).parent / "data" / "yuma_public_cases.json"
TOLERANCE = 1e-3


def _load() -> tuple[dict, list[dict]]:
    data = json.loads(CASES_FILE.read_text())
    return {case["id"]: case for case in data["cases"]}, data["runs"]


CASES, RUNS = _load()


def _params(p: dict) -> YumaParams:
    return YumaParams(
        kappa=p["kappa"],
        bond_penalty=p["bonds_penalty"],
        bonds_moving_average=p["bonds_moving_average"] / 1e6,
        yuma3=p["yuma3"],
        liquid_alpha=p["liquid_alpha"],
        alpha_low=p["alpha_low"],
        alpha_high=p["alpha_high"],
        alpha_sigmoid_steepness=p["alpha_sigmoid_steepness"] / 100,
    )


def _col_normalise(x: np.ndarray) -> np.ndarray:
    sums = x.sum(axis=0, keepdims=True)
    return np.divide(x, sums, out=np.zeros_like(x), where=sums > 0)


@pytest.mark.parametrize("run", RUNS, ids=[f"{r['case']}-{r['version_key']}" for r in RUNS])
def test_replay_public_case(run: dict) -> None:
    case = CASES[run["case"]]
    params = _params(run["params"])
    reset = case["bonds_reset"] if run["params"]["apply_bonds_reset"] else None
    outputs = run["outputs"]
    bonds = None
    for e, (weights, stakes) in enumerate(zip(case["inputs"]["weights"], case["inputs"]["stakes"], strict=True)):
        columns = [reset["server_index"]] if reset and reset["epoch"] == e else []
        result = epoch(np.array(weights), np.array(stakes), bonds, params, reset_bond_columns=columns)
        for field in ("dividends", "incentive", "consensus", "validator_trust"):
            np.testing.assert_allclose(
                getattr(result, field), outputs[field][e], atol=TOLERANCE, err_msg=f"{field} at epoch {e}"
            )
        expected_bonds = np.array(outputs["bonds"][e])
        ours = result.bonds
        if not params.yuma3:
            expected_bonds, ours = _col_normalise(expected_bonds), _col_normalise(ours)
        np.testing.assert_allclose(ours, expected_bonds, atol=TOLERANCE, err_msg=f"bonds at epoch {e}")
        bonds = result.bonds
