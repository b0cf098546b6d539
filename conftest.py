"""Pytest configuration shared by tests/ and the nbval notebook tests."""

import os
import sys
from pathlib import Path

# TensorFlow's C++ start-up logs are noise in tests and notebooks alike.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# tests/ import helpers from the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent))


def pytest_collectstart(collector):
    """Do not compare stderr: library warnings and logs vary from run to run."""
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr",)
