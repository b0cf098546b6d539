"""Every recipe opens the same way and follows the cookbook's shape.

nbval checks that the notebooks run and reproduce their outputs; these tests
check what a reader meets first: the title, the Colab badge, the time it
takes, the shared setup cell, the recipe's sections in order, clean
markdown and the closing exercises.
"""

import io
import json
import re
import tokenize
import unicodedata
from pathlib import Path

import pytest

from tools import publish

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SECTIONS = ["## Getting ready", "## How to do it…", "## How it works…", "## There's more…", "## See also"]


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def source(cell: dict) -> str:
    return "".join(cell["source"])


def first_code_cell(path: Path) -> str:
    return next(source(c) for c in cells(path) if c["cell_type"] == "code")


def code_lines(code: str) -> list[str]:
    """The lines of ``code`` with comments removed (a string that contains '#' is kept whole)."""
    comments = [t for t in tokenize.generate_tokens(io.StringIO(code).readline) if t.type == tokenize.COMMENT]
    lines = code.splitlines()
    for comment in reversed(comments):
        row, column = comment.start
        lines[row - 1] = lines[row - 1][:column]
    return lines


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found"
    assert NOTEBOOKS[0].name == "00_the_imdb_data.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_opens_with_title_badge_goals_and_time(path):
    opening = source(cells(path)[0])
    number = path.name[:2]
    assert re.match(rf"# {number} · \S", opening), "title '# NN · ...' first"
    repository = publish.current_name(path.parent.parent)  # OWNER/REPO until ./cookbook publish names it
    badge = f"https://colab.research.google.com/github/{repository}/blob/main/notebooks/{path.name}"
    assert badge in opening
    assert "**What you will learn**" in opening
    assert re.search(r"\*\*Time:\*\* .*2-core laptop CPU \(measured: [^)]+\)", opening)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_starts_with_the_shared_setup_cell(path):
    setup = first_code_cell(path)
    assert setup == first_code_cell(NOTEBOOKS[0]), "the setup cell must be identical in every notebook"
    assert re.search(r'^REPO = "[^"/]+/[^"/]+"$', setup, re.MULTILINE), "REPO names the GitHub repository"
    backend = setup.find('os.environ["KERAS_BACKEND"] = "tensorflow"')
    assert backend >= 0, "pin the Keras backend, whatever keras.json says"
    assert backend < setup.find("import tensorflow") and "import keras" not in setup[:backend], (
        "pin the backend before TensorFlow or Keras is imported"
    )
    assert "enable_tensor_float_32_execution(False)" in setup, "turn TF32 off: the recipes assert float32 equalities"
    # find_spec("google.colab") raises ModuleNotFoundError where no `google` package is installed,
    # so every call must come after a check for the parent in the same condition.
    colab_lines = [line for line in code_lines(setup) if 'find_spec("google.colab")' in line]
    assert colab_lines, "detect Colab"
    for line in colab_lines:
        guarded = line.find('find_spec("google") is not None and')
        assert 0 <= guarded < line.find('find_spec("google.colab")'), f"unguarded Colab check: {line.strip()}"
    assert "pip" in setup
    # "tensorflow" may appear quoted only as the backend's name, never as a package to install.
    rest = "\n".join(line for line in code_lines(setup) if 'os.environ["KERAS_BACKEND"]' not in line)
    assert not re.search(r"[\"'](tensorflow|keras)[\"'=<>]", rest.lower()), "never reinstall TensorFlow on Colab"


def control_characters(text: str) -> list[tuple[int, str]]:
    """Positions and names of control characters other than newline and tab."""
    return [(i, f"U+{ord(ch):04X}") for i, ch in enumerate(text) if unicodedata.category(ch) == "Cc" and ch not in "\n\t"]


def test_control_characters_are_found():
    assert control_characters("$z_t \x07pprox 0$\nline\ttab") == [(5, "U+0007")]
    assert control_characters("plain\nmarkdown\twith tabs, dashes – and …") == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_markdown_has_no_control_characters(path):
    """A "\\a" in a Python string once became a bell: `$z_t \\approx 0$` was stored as `$z_t \\x07pprox 0$`."""
    found = []
    for index, cell in enumerate(cells(path)):
        if cell["cell_type"] != "markdown":
            continue
        text = source(cell)
        for position, name in control_characters(text):
            snippet = text[max(0, position - 30) : position + 30]
            found.append(f"cell {index}: {name} in {snippet!r}")
    assert not found, "control characters in markdown:\n" + "\n".join(found)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_ends_with_exercises(path):
    markdown = [source(c) for c in cells(path) if c["cell_type"] == "markdown"]
    last = markdown[-2:]
    headings = [line for text in last for line in text.splitlines() if re.match(r"#{2,4} .*Exercises", line)]
    assert headings, "end the recipe with an '## Exercises' section (in its last markdown cells)"


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
