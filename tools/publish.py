"""Give the cookbook its GitHub name: ``./cookbook publish OWNER/REPO``.

Until it is published the cookbook calls its repository ``OWNER/REPO``, the
same spelling in every notebook's Colab badge, every notebook's setup cell
(``REPO = "OWNER/REPO"``, which Colab clones) and the README's badges. This
script finds the spelling in use and rewrites it, everywhere at once, to the
name given. It edits the cells' source text only, never their outputs, so the
stored runs stay valid.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
SETUP_REPO = re.compile(r'^REPO = "([^"]+)"$', re.MULTILINE)


def notebooks(root: Path) -> list[Path]:
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def spellings(root: Path) -> set[str]:
    """Every repository name the notebooks' setup cells use (one, in a consistent cookbook)."""
    names = set()
    for path in notebooks(root):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        setup = next("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        names.update(SETUP_REPO.findall(setup))
    return names


def current_name(root: Path) -> str:
    names = spellings(root)
    if len(names) != 1:
        raise SystemExit(f"the notebooks' setup cells disagree on the repository's name: {sorted(names)}")
    return names.pop()


def rewrite_notebook(path: Path, old: str, new: str) -> int:
    """Replace ``old`` by ``new`` in the source of every cell; returns the number of replacements."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    count = 0
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        if old in source:
            count += source.count(old)
            cell["source"] = source.replace(old, new).splitlines(keepends=True)
    if count:
        path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return count


def publish(root: Path, new: str) -> dict[str, int]:
    """Rename the repository from the spelling in use to ``new``; returns replacements per file."""
    if not REPOSITORY.match(new):
        raise SystemExit(f"not a GitHub repository name (owner/name): {new!r}")
    old = current_name(root)
    changed = {path.name: rewrite_notebook(path, old, new) for path in notebooks(root)}
    readme = root / "README.md"
    text = readme.read_text(encoding="utf-8")
    changed[readme.name] = text.count(old)
    readme.write_text(text.replace(old, new), encoding="utf-8")
    return changed


def main(arguments: list[str]) -> None:
    if len(arguments) != 1:
        raise SystemExit("usage: ./cookbook publish OWNER/REPO")
    old = current_name(ROOT)
    for name, count in publish(ROOT, arguments[0]).items():
        print(f"{name}: {count} replacement(s)")
    print(f"{old} -> {arguments[0]}; commit the result, then the Colab badges and the setup cells point at it")


if __name__ == "__main__":
    main(sys.argv[1:])
