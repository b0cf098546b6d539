"""Recipe 02 in JupyterLab, in a real browser, as a reader runs it.

Starts the project's JupyterLab on a free loopback port, opens a copy of
``02_gru_gates.ipynb`` (outputs cleared, so that everything the test sees is drawn
now, and cut down to its setup, its imports and the functions and classes the
explorer may call: nbval runs the whole recipe already) in headless Chromium driven
by Playwright, runs every cell above the gate explorer, runs the explorer, drags its ``b_z`` slider with the mouse and checks that
the widget rendered, that the slider's readout moved, and that the figure was
redrawn. A screenshot of the explorer is saved in the test's temporary folder.

Needs Debian's ``chromium`` (``apt-get install chromium``) and the ``playwright``
package from requirements.txt; nothing is downloaded at run time. Without Chromium
the test is skipped, except in CI (``CI=true``), where ``.ci/run`` installs it and
the test must run.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "02_gru_gates.ipynb"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REQUIRED = os.environ.get("CI") == "true"
# Playwright already starts Chromium without its sandbox (which fails as root). These flags keep it from calling
# Google's servers on a closed network, and from a container's small /dev/shm, which crashes large pages.
CHROMIUM_ARGS = ["--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
RUN_TIMEOUT_MS = 10 * 60 * 1000  # the cut-down recipe runs in seconds; a hung cell must not hang CI
TOKEN = "gru-cookbook-browser-test"
EXPLORER_MARK = "widgets.interact(explore"

try:
    from playwright import sync_api
    from playwright.sync_api import expect
except ImportError:
    sync_api = None

if not REQUIRED and CHROMIUM is None:
    pytest.skip("Chromium not installed (Debian: apt-get install chromium): browser test skipped",
                allow_module_level=True)
if not REQUIRED and sync_api is None:
    pytest.skip("playwright not installed (pip install -r requirements.txt): browser test skipped",
                allow_module_level=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def definitions_only(code: str) -> str:
    """The imports, functions and classes of a cell, without the experiments it runs."""
    kept = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)
    lines = code.splitlines()
    return "\n\n".join(
        "\n".join(lines[(node.decorator_list[0] if getattr(node, "decorator_list", None) else node).lineno - 1 : node.end_lineno])
        for node in ast.parse(code).body if isinstance(node, kept)
    )


def workspace_with_recipe_02(folder: Path) -> int:
    """helpers.py and a copy of recipe 02, outputs cleared, cut down to what the explorer needs; returns its cell's index.

    The setup and imports cells stay whole; the code cells between them and the explorer keep only
    their imports, functions and classes (the explorer calls some of them), so the test does not
    re-run the recipe's experiments, which nbval runs anyway. Cells after the explorer are dropped.
    """
    (folder / "notebooks").mkdir(parents=True)
    shutil.copy2(ROOT / "helpers.py", folder / "helpers.py")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    explorer = next(i for i, cell in enumerate(notebook.cells) if EXPLORER_MARK in cell.source)
    imports = next(i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code" and "import helpers" in cell.source)
    kept = []
    for i, cell in enumerate(notebook.cells[: explorer + 1]):
        if cell.cell_type == "code":
            if imports < i < explorer:
                cell.source = definitions_only(cell.source)
                if not cell.source:
                    continue
            cell.outputs, cell.execution_count = [], None
        kept.append(cell)
    notebook.cells = kept
    nbformat.write(notebook, folder / "notebooks" / NOTEBOOK.name)
    return len(kept) - 1


def lab_settings(folder: Path) -> Path:
    """JupyterLab user settings for the test: render every cell (no windowing), no news or update checks."""
    settings = folder / "settings"
    notebook_settings = settings / "@jupyterlab" / "notebook-extension"
    notebook_settings.mkdir(parents=True)
    (notebook_settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    notifications = settings / "@jupyterlab" / "apputils-extension"
    notifications.mkdir(parents=True)  # no "get notified about Jupyter news?" toast over the screenshot
    (notifications / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    return settings


@pytest.fixture
def jupyterlab(tmp_path):
    """The project's JupyterLab serving a workspace with recipe 02; yields (base URL, explorer cell index)."""
    workspace = tmp_path / "workspace"
    explorer_index = workspace_with_recipe_02(workspace)
    port = free_port()
    # The reader's own Jupyter configuration, settings and workspaces stay out of the test.
    environment = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(lab_settings(tmp_path)),
                   "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "lab-workspaces"),
                   "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
                   "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.port_retries=0",
               "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={workspace}", f"--IdentityProvider.token={TOKEN}",
               "--expose-app-in-browser", "--LabApp.news_url=None",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = (tmp_path / "jupyterlab.log").open("w")
    server = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=environment)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail("JupyterLab did not start:\n" + (tmp_path / "jupyterlab.log").read_text()[-3000:])
            time.sleep(0.5)
        yield base, explorer_index
    finally:
        server.send_signal(signal.SIGTERM)  # Jupyter stops its kernels, then itself
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


RUN_UP_TO_AND_EXPLORER = """async ([explorerIndex, timeoutMs]) => {
    async function runUpToAndExplorer() {
        const app = window.jupyterapp;
        const panel = app.shell.currentWidget;
        await panel.context.ready;
        await panel.sessionContext.ready;
        panel.content.activeCellIndex = explorerIndex;
        const above = await app.commands.execute("notebook:run-all-above");
        const explorer = await app.commands.execute("notebook:run-cell");
        const failed = panel.content.widgets
            .map((cell, index) => [index, cell.model.type === "code" ? cell.model.outputs.toJSON() : []])
            .filter(([index, outputs]) => outputs.some((output) => output.output_type === "error"))
            .map(([index]) => index);
        return {above, explorer, failed};
    }
    const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error("cells still running")), timeoutMs));
    return Promise.race([runUpToAndExplorer(), timeout]);
}"""


def test_gate_explorer_renders_and_redraws_when_its_slider_moves(jupyterlab, tmp_path):
    assert CHROMIUM is not None and sync_api is not None, "CI needs Chromium and playwright (.ci/run installs both)"
    base, explorer_index = jupyterlab
    started = time.perf_counter()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(120_000)
            page.goto(f"{base}/lab/tree/notebooks/{NOTEBOOK.name}?token={TOKEN}")
            page.wait_for_function("() => window.jupyterapp?.shell.currentWidget?.sessionContext !== undefined")
            result = page.evaluate(RUN_UP_TO_AND_EXPLORER, [explorer_index, RUN_TIMEOUT_MS])  # until every cell ran
            assert result == {"above": True, "explorer": True, "failed": []}, result

            explorer = page.locator(".jp-Notebook .jp-Cell").nth(explorer_index)
            slider = explorer.locator(".widget-slider", has_text="b_z")
            readout = slider.locator(".widget-readout")
            figure = explorer.locator(".widget-output img")
            figure.wait_for()
            explorer.scroll_into_view_if_needed()
            assert readout.inner_text().strip() == "3.00"  # the explorer's starting b_z
            first_figure = figure.get_attribute("src")

            handle = slider.locator(".noUi-handle")
            box = handle.bounding_box()
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.mouse.down()
            page.mouse.move(box["x"] + box["width"] / 2 + 60, box["y"] + box["height"] / 2, steps=10)
            page.mouse.up()

            # The widget replaces its <img> when it redraws: the locator finds the new one.
            expect(figure).not_to_have_attribute("src", first_figure, timeout=60_000)
            moved_to = float(readout.inner_text())
            assert moved_to > 3.0, "dragging right raised b_z"
            page.wait_for_function(
                "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'")
            explorer.screenshot(path=tmp_path / "gate_explorer.png")
        finally:
            browser.close()
    seconds = time.perf_counter() - started
    print(f"browser run: {seconds:.0f} s; b_z moved from 3.00 to {moved_to:.2f}; "
          f"screenshot {tmp_path / 'gate_explorer.png'}")
    assert (tmp_path / "gate_explorer.png").stat().st_size > 20_000
