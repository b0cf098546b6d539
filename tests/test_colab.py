"""Every notebook's first cells, run the way Colab and a plain clone run them.

A Colab reader opens a notebook alone: no ``helpers.py`` beside it, a Python that has
TensorFlow, Keras and JAX installed already, and ``google.colab`` importable. The
setup cell must then clone the repository, import ``helpers`` from the clone, and
pip-install only the packages Colab lacks, never TensorFlow, Keras or JAX. A reader
with a plain clone may have a ``keras.json`` that selects another backend; the
recipes call TensorFlow directly, so the setup cell must pin it.

Each case executes the notebook's setup cell and its first cell that imports
``helpers`` in a real Jupyter kernel (nbclient), in a fresh working directory:

- the repository is served from a local git repository of the working tree: git's
  ``url.<local>.insteadOf`` rewrites ``https://github.com/OWNER/REPO.git`` to it, so
  the clone is real and needs no network;
- ``google.colab`` is a stand-in package on ``PYTHONPATH`` (a ``google`` namespace
  portion beside protobuf's, as on Colab);
- a Colab image without some package is simulated by a ``sitecustomize`` that makes
  ``importlib.util.find_spec`` report it missing; pip then really runs, against an
  installed package, offline (``PIP_NO_INDEX``), and its log (``PIP_LOG``) records
  what it was asked for and what it changed.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tools import publish

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
REPOSITORY = publish.current_name(ROOT)  # OWNER/REPO until ./cookbook publish names it
IMDB_CACHE = ROOT / "data" / "imdb" / "imdb.parquet"
# Colab ships these; the setup cell must never install, upgrade or reinstall them.
PRESERVED = ("tensorflow", "keras", "jax", "jaxlib")

STANDIN_SITECUSTOMIZE = '''\
"""Stand-in Colab image: modules named in COLAB_STANDIN_MISSING are reported missing by find_spec."""
import importlib.util
import os

_missing = set(filter(None, os.environ.get("COLAB_STANDIN_MISSING", "").split(",")))
_find_spec = importlib.util.find_spec


def _find_spec_without_missing(name, package=None):
    return None if name in _missing else _find_spec(name, package)


importlib.util.find_spec = _find_spec_without_missing
'''

PROBE = '''\
import json as _json, sys as _sys, keras as _keras, helpers as _helpers
print(_json.dumps({"helpers": _helpers.__file__, "backend": _keras.backend.backend(),
                   "on_colab": ON_COLAB, "root": str(root), "executable": _sys.executable}))
'''


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture(scope="module")
def served_repository(tmp_path_factory) -> Path:
    """A git repository of the working tree (tracked and new, not ignored, files): what GitHub would serve."""
    served = tmp_path_factory.mktemp("github") / REPOSITORY.split("/")[1]
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():  # a deleted but still tracked file is listed too
            (served / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, served / name)
    git("init", "--quiet", "--initial-branch=main", cwd=served)
    git("add", "--all", cwd=served)
    git("-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "--quiet", "-m", "snapshot", cwd=served)
    return served


def installed_state() -> dict[str, tuple[str, int]]:
    """Version and install time (the RECORD file's mtime) of each package Colab must keep."""
    state = {}
    for name in PRESERVED:
        distribution = importlib.metadata.distribution(name)
        record = next(path for path in distribution.files if path.name == "RECORD")
        state[name] = (distribution.version, Path(record.locate()).stat().st_mtime_ns)
    return state


def run_first_cells(notebook: Path, cwd: Path, *, before_helpers=None) -> dict:
    """Run the notebook's setup cell and its first cell importing helpers in a fresh kernel; return the probe's report."""
    cells = nbformat.read(notebook, as_version=4).cells
    code = [cell for cell in cells if cell.cell_type == "code"]
    helpers_cell = next(cell for cell in code if "import helpers" in cell.source)
    probe = nbformat.v4.new_code_cell(PROBE)
    runner = nbformat.v4.new_notebook(cells=[code[0], helpers_cell, probe])
    client = NotebookClient(runner, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(cwd)}})
    with client.setup_kernel():
        client.execute_cell(runner.cells[0], 0)
        if before_helpers:
            before_helpers()
        client.execute_cell(runner.cells[1], 1)
        client.execute_cell(probe, 2)
    printed = [output["text"] for output in probe.outputs if output.get("name") == "stdout"]
    return json.loads(printed[-1])


def seed_imdb_cache(repository_root: Path) -> None:
    """Recipe 00's first cell reads the IMDb reviews: give the clone the cache a reader's first run would build."""
    if not IMDB_CACHE.exists():
        message = f"{IMDB_CACHE} missing: run helpers.load_imdb() once (see data/README.md)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    target = repository_root / "data" / "imdb" / IMDB_CACHE.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(IMDB_CACHE, target)


@pytest.fixture
def colab(tmp_path, monkeypatch, served_repository):
    """A Colab-like kernel environment; returns (working directory, pip log path)."""
    standin = tmp_path / "colab-standin"
    (standin / "google" / "colab").mkdir(parents=True)  # no google/__init__.py: a namespace portion, as on Colab
    (standin / "google" / "colab" / "__init__.py").write_text('"""Stand-in for Colab\'s google.colab."""\n')
    (standin / "sitecustomize.py").write_text(STANDIN_SITECUSTOMIZE)
    gitconfig = tmp_path / "gitconfig"
    # file:// rather than a plain path, so that git honours the setup cell's --depth=1 as it would for GitHub.
    gitconfig.write_text(f'[url "file://{served_repository}"]\n\tinsteadOf = https://github.com/{REPOSITORY}.git\n')
    content = tmp_path / "content"  # Colab's working directory
    content.mkdir()
    pip_log = tmp_path / "pip.log"
    monkeypatch.setenv("PYTHONPATH", str(standin))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("PIP_LOG", str(pip_log))
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # nothing may be downloaded
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)  # the reader's pip.conf must not change what pip does here
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    monkeypatch.delenv("COLAB_STANDIN_MISSING", raising=False)
    return content, pip_log


def assert_cloned_and_imported(report: dict, content: Path, served: Path) -> Path:
    clone = content / REPOSITORY.split("/")[1]
    assert report["on_colab"] is True
    assert Path(report["root"]) == clone
    assert git("rev-parse", "HEAD", cwd=clone) == git("rev-parse", "HEAD", cwd=served), "cloned from the repository URL"
    assert Path(report["helpers"]).resolve() == (clone / "helpers.py").resolve(), "helpers imported from the clone"
    assert report["backend"] == "tensorflow"
    assert report["executable"] == sys.executable, "the kernel runs the test's own Python"
    return clone


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_on_colab_the_setup_cell_clones_and_installs_nothing_colab_has(notebook, colab, served_repository):
    content, pip_log = colab
    before = installed_state()
    clone = content / REPOSITORY.split("/")[1]
    seed = (lambda: seed_imdb_cache(clone)) if notebook.name.startswith("00_") else None
    report = run_first_cells(notebook, content, before_helpers=seed)
    assert_cloned_and_imported(report, content, served_repository)
    assert not pip_log.exists(), "pip ran although nothing was missing"
    assert installed_state() == before


def test_on_colab_the_setup_cell_installs_only_what_is_missing(colab, served_repository, monkeypatch):
    content, pip_log = colab
    monkeypatch.setenv("COLAB_STANDIN_MISSING", "ipywidgets,sklearn,bokeh_sampledata")
    before = installed_state()
    report = run_first_cells(ROOT / "notebooks" / "02_gru_gates.ipynb", content)
    assert_cloned_and_imported(report, content, served_repository)
    log = pip_log.read_text()
    assert "Requirement already satisfied: ipywidgets" in log
    assert "Requirement already satisfied: scikit-learn" in log
    assert "Requirement already satisfied: bokeh_sampledata==2026.1" in log
    assert "pyarrow" not in log, "pyarrow was not missing"
    for package in PRESERVED:  # pip was not asked about them, not even as a dependency
        assert not re.search(rf"(Requirement|Collecting|Installing|Uninstalling|installed).*\b{package}\b", log), package
    assert "Successfully installed" not in log and "Uninstalling" not in log
    assert installed_state() == before


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_a_keras_json_selecting_jax_does_not_change_the_backend(notebook, tmp_path, monkeypatch, served_repository):
    clone = tmp_path / "clone"
    git("clone", "--quiet", str(served_repository), str(clone), cwd=tmp_path)
    if notebook.name.startswith("00_"):
        seed_imdb_cache(clone)
    keras_home = tmp_path / "keras-home"
    keras_home.mkdir()
    (keras_home / "keras.json").write_text(json.dumps({"backend": "jax", "floatx": "float32"}))
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    check = subprocess.run([sys.executable, "-c", "import keras; print(keras.backend.backend())"],
                           env={"KERAS_HOME": str(keras_home), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert check.stdout.strip() == "jax", "the keras.json must select JAX for this test to mean anything"
    report = run_first_cells(clone / "notebooks" / notebook.name, clone / "notebooks")
    assert report["on_colab"] is False
    assert Path(report["helpers"]).resolve() == (clone / "helpers.py").resolve()
    assert report["backend"] == "tensorflow"
