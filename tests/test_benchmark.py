"""Smoke tests of the two benchmarks, benchmarks/gru_speed.py and benchmarks/time_to_accuracy.py: every configuration
runs end to end at tiny sizes and the reports are written. Also: the committed results are full runs.

The benchmarks' extra package (PyTorch) is not part of the cookbook's install. Where it is missing the smoke
tests are skipped, except in CI (CI=true), which installs it and must run them.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
RESULTS = BENCHMARKS / "results"
needs_torch = pytest.mark.skipif(
    importlib.util.find_spec("torch") is None and os.environ.get("CI") != "true",
    reason="PyTorch not installed: pip install -r benchmarks/requirements.txt",
)


def run_script(name, *arguments):
    done = subprocess.run([sys.executable, str(BENCHMARKS / name), *arguments],
                          capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@needs_torch
def test_gru_speed_smoke_run_times_steps_of_every_configuration(tmp_path):
    stdout = run_script("gru_speed.py", "--smoke", "--out", str(tmp_path))
    report = json.loads((tmp_path / "gru_speed.json").read_text())
    assert [row["config"] for row in report["results"]] == [
        "pytorch", "pytorch-flush-denormal", "keras-tensorflow", "keras-tensorflow-xla", "keras-jax",
        "recipe03-tensorflow", "recipe03-jax",
    ]
    for run in report["runs"]:
        assert 0 < run["step_seconds"] and run["peak_memory_mb"] > 0
        if not run["config"].startswith("pytorch"):
            assert run["fit_exit_seconds"] >= 0  # reported apart from the steps
    by_config = {row["config"]: row for row in report["results"]}
    assert "speedup_vs_pytorch" not in by_config["recipe03-jax"]  # another model: no ratio against the book's loop
    assert (tmp_path / "gru_speed.png").stat().st_size > 10_000
    assert (tmp_path / "gru_speed.md").read_text().strip() in stdout and "| recipe03-jax |" in stdout


@needs_torch
def test_time_to_accuracy_smoke_run_writes_curves_table_and_figure(tmp_path):
    stdout = run_script("time_to_accuracy.py", "--smoke", "--repeats", "1", "--out", str(tmp_path))
    report = json.loads((tmp_path / "time_to_accuracy.json").read_text())
    assert report["smoke"] and [run["config"] for run in report["runs"]] == list(report["configs"])
    for run in report["runs"]:
        assert run["seed"] == 1 and run["curve"] and all(0 <= point["val_accuracy"] <= 1 for point in run["curve"])
        assert 0 <= run["test_accuracy"] <= 1 and run["training_seconds"] > 0 and run["peak_memory_mb"] > 0
    neural = [run for run in report["runs"] if run["config"] != "tfidf-bigrams"]
    for run in neural:  # several evaluations per epoch, the last one at the end of the smoke run's one epoch
        assert len(run["curve"]) == report["evaluations_per_epoch"] and run["curve"][-1]["epoch"] == pytest.approx(1.0)
    assert (tmp_path / "time_to_accuracy.png").stat().st_size > 10_000
    assert (tmp_path / "time_to_accuracy.md").read_text().strip() in stdout


def test_committed_results_are_full_runs():
    speed = json.loads((RESULTS / "gru_speed.json").read_text())
    assert not speed["smoke"] and speed["repeats"] >= 3
    assert all(row["repeats"] == speed["repeats"] for row in speed["results"])
    accuracy = json.loads((RESULTS / "time_to_accuracy.json").read_text())
    assert not accuracy["smoke"]
    assert all(accuracy["summary"][config]["repeats"] >= 3 for config in accuracy["configs"])
