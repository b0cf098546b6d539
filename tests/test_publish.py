"""The repository's name: one spelling everywhere, and `./cookbook publish OWNER/REPO` changing all of it at once."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools import publish

ROOT = Path(__file__).resolve().parent.parent
COLAB_LINK = re.compile(r"https://colab\.research\.google\.com/github/([^/\s)]+/[^/\s)]+)/blob/main/notebooks/")


def names_in_use(root: Path) -> set[str]:
    """Every repository name in the setup cells, the notebooks' badges and the README's badges."""
    names = publish.spellings(root)
    texts = [(root / "README.md").read_text(encoding="utf-8")]
    texts += ["".join(c["source"]) for path in publish.notebooks(root)
              for c in json.loads(path.read_text(encoding="utf-8"))["cells"]]
    for text in texts:
        names.update(COLAB_LINK.findall(text))
    return names


def copy_of_the_cookbook(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    return tmp_path


def outputs(root: Path) -> list:
    return [[c.get("outputs") for c in json.loads(path.read_text(encoding="utf-8"))["cells"]]
            for path in publish.notebooks(root)]


def test_one_spelling_of_the_repository_everywhere():
    names = names_in_use(ROOT)
    assert len(names) == 1, names
    (name,) = names
    for path in publish.notebooks(ROOT):
        opening = "".join(json.loads(path.read_text(encoding="utf-8"))["cells"][0]["source"])
        assert f"https://colab.research.google.com/github/{name}/blob/main/notebooks/{path.name}" in opening
        assert f"https://colab.research.google.com/github/{name}/blob/main/notebooks/{path.name}" in (
            ROOT / "README.md").read_text(encoding="utf-8")


def test_publish_renames_every_badge_and_setup_cell_and_leaves_outputs_alone(tmp_path):
    root = copy_of_the_cookbook(tmp_path)
    (old,) = names_in_use(root)
    before = outputs(root)
    changed = publish.publish(root, "ada/gru-cookbook")
    assert names_in_use(root) == {"ada/gru-cookbook"}
    assert all(count >= 2 for name, count in changed.items() if name.endswith(".ipynb"))  # badge and setup cell
    assert changed["README.md"] == len(publish.notebooks(root))  # one badge per recipe
    for path in [*publish.notebooks(root), root / "README.md"]:
        assert old not in path.read_text(encoding="utf-8"), path.name
    assert outputs(root) == before
    # and back again: publishing is repeatable
    publish.publish(root, old)
    assert names_in_use(root) == {old}


@pytest.mark.parametrize("name", ["ada", "ada/", "/gru", "ada/gru/extra", "a da/gru", "-ada/gru"])
def test_publish_refuses_what_is_not_a_repository_name(tmp_path, name):
    root = copy_of_the_cookbook(tmp_path)
    with pytest.raises(SystemExit, match="not a GitHub repository name"):
        publish.publish(root, name)


def test_publish_refuses_setup_cells_that_disagree(tmp_path):
    root = copy_of_the_cookbook(tmp_path)
    publish.rewrite_notebook(publish.notebooks(root)[1], publish.current_name(root), "someone/else")
    with pytest.raises(SystemExit, match="disagree"):
        publish.publish(root, "ada/gru-cookbook")


def test_the_cookbook_command_publishes(tmp_path):
    root = copy_of_the_cookbook(tmp_path)
    (root / "tools").mkdir()
    shutil.copy(ROOT / "tools" / "publish.py", root / "tools" / "publish.py")
    shutil.copy(ROOT / "cookbook", root / "cookbook")
    result = subprocess.run(["bash", str(root / "cookbook"), "publish", "ada/gru-cookbook"],
                            capture_output=True, text=True, env={"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert "-> ada/gru-cookbook" in result.stdout
    assert names_in_use(root) == {"ada/gru-cookbook"}
