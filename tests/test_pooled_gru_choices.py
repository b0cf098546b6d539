"""Smoke test of benchmarks/pooled_gru_choices.py, whose committed log recipe 08 reads: every path runs at tiny sizes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "pooled_gru_choices.py"
COMMITTED_LOG = SCRIPT.parent / "results" / "pooled_gru_choices.json"


def test_smoke_run_trains_every_variant_and_writes_the_log(tmp_path):
    out = tmp_path / "choices.json"
    done = subprocess.run([sys.executable, str(SCRIPT), "--smoke", "--out", str(out)],
                          capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    log = json.loads(out.read_text())
    assert log["smoke"] and log["seeds"] == [1]
    assert [run["variant"] for run in log["runs"]] == list(log["variants"])
    for run in log["runs"]:
        assert len(run["epoch_val_accuracy"]) == len(run["epoch_seconds"]) == 1
        assert 0 <= run["epoch_val_accuracy"][0] <= 1 and run["parameters"] > 0


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_step_timing_reports_every_step_on_each_backend(tmp_path, backend):
    batches = tmp_path / "batches.npz"
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 10_000, size=(256, 40)).astype("int32")
    ids[:, 30:] = 0  # padding, so the mask is exercised
    np.savez(batches, ids=ids, targets=rng.integers(0, 2, 256).astype("float32"))
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--step-timing", str(batches), "--steps", "3", "--warmup", "1",
         "--changes", json.dumps({"bidirectional": True})],
        env={**os.environ, "KERAS_BACKEND": backend}, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    timing = json.loads(done.stdout.strip().splitlines()[-1])
    assert timing["backend"] == backend and timing["batch_shape"] == [128, 40]
    assert len(timing["warmup_seconds"]) == 1 and len(timing["seconds_per_step"]) == 3


def test_committed_log_is_a_full_run():
    log = json.loads(COMMITTED_LOG.read_text())
    assert not log["smoke"] and log["seeds"] == [1, 2, 3]
    assert len(log["runs"]) == 3 * len(log["variants"])
    assert all(len(run["epoch_val_accuracy"]) == log["base"]["epochs"] for run in log["runs"])
