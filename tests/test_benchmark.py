"""Smoke test of benchmarks/gru_speed.py: every configuration runs end to end at tiny sizes.

The benchmark's extra package (PyTorch) is not part of the cookbook's install. Where it is missing
this test is skipped, except in CI (CI=true), which installs it and must run the test.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "gru_speed.py"
TORCH_MISSING = importlib.util.find_spec("torch") is None

if TORCH_MISSING and os.environ.get("CI") != "true":
    pytest.skip("PyTorch not installed: pip install -r benchmarks/requirements.txt", allow_module_level=True)


def test_benchmark_smoke_run_writes_json_chart_and_table(tmp_path):
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "gru_speed.json").read_text())
    configs = [r["config"] for r in report["results"]]
    assert configs == [
        "pytorch", "pytorch-flush-denormal", "keras-tensorflow", "keras-tensorflow-xla", "keras-jax",
    ]
    for result in report["results"]:
        assert result["samples_per_second"] > 0 and result["peak_memory_mb"] > 0
        assert result["seconds_per_epoch"] == pytest.approx(25_000 / result["samples_per_second"])
    assert report["results"][0]["speedup_vs_pytorch"] == 1.0
    assert (tmp_path / "gru_speed.png").stat().st_size > 10_000
    assert "| keras-jax |" in done.stdout
