"""Pytest configuration shared by tests/ and the nbval notebook tests."""

import os
import sys
from collections import defaultdict
from pathlib import Path

# TensorFlow's C++ start-up logs are noise in tests and notebooks alike.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# tests/ import helpers from the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent))

_notebook_seconds: dict[str, float] = defaultdict(float)


def pytest_collectstart(collector):
    """Do not compare stderr: library warnings and logs vary from run to run."""
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr",)


def pytest_runtest_logreport(report):
    """Add up each notebook's cells (kernel start included), so CI logs show whole-notebook times."""
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        _notebook_seconds[path] += report.duration


def pytest_terminal_summary(terminalreporter):
    if _notebook_seconds:
        terminalreporter.section("notebook run times")
        for path, seconds in sorted(_notebook_seconds.items()):
            terminalreporter.write_line(f"{seconds:7.1f} s  {path}")
