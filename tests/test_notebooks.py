"""Every recipe opens the same way and follows the cookbook's shape.

nbval checks that the notebooks run and reproduce their outputs; these tests
check what a reader meets first: the title, the Colab badge, the time it
takes, the shared setup cell, and the recipe's sections in order.
"""

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SECTIONS = ["## Getting ready", "## How to do it…", "## How it works…", "## There's more…", "## See also"]


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def source(cell: dict) -> str:
    return "".join(cell["source"])


def first_code_cell(path: Path) -> str:
    return next(source(c) for c in cells(path) if c["cell_type"] == "code")


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found"
    assert NOTEBOOKS[0].name == "00_the_imdb_data.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_opens_with_title_badge_goals_and_time(path):
    opening = source(cells(path)[0])
    number = path.name[:2]
    assert re.match(rf"# {number} · \S", opening), "title '# NN · ...' first"
    badge = f"https://colab.research.google.com/github/OWNER/REPO/blob/main/notebooks/{path.name}"
    assert badge in opening
    assert "**What you will learn**" in opening
    assert re.search(r"\*\*Time:\*\* .*2-core laptop CPU \(measured: [^)]+\)", opening)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_starts_with_the_shared_setup_cell(path):
    setup = first_code_cell(path)
    assert setup == first_code_cell(NOTEBOOKS[0]), "the setup cell must be identical in every notebook"
    assert 'REPO = "OWNER/REPO"' in setup
    assert 'os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"' in setup
    assert "pip" in setup
    assert not re.search(r"[\"'](tensorflow|keras)[\"'=<>]", setup.lower()), "never reinstall TensorFlow on Colab"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_follows_the_recipe_shape(path):
    headings = [
        line.strip()
        for cell in cells(path)
        if cell["cell_type"] == "markdown"
        for line in source(cell).splitlines()
        if line.startswith("## ")
    ]
    found = [h for h in headings if h in SECTIONS]
    assert found == SECTIONS, f"sections out of order or missing: {headings}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_outputs_come_from_one_clean_run(path):
    code = [c for c in cells(path) if c["cell_type"] == "code"]
    counts = [c["execution_count"] for c in code]
    assert counts == list(range(1, len(code) + 1)), "execute the whole notebook top to bottom"
    errors = [o for c in code for o in c["outputs"] if o["output_type"] == "error"]
    assert not errors
