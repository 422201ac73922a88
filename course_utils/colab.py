"""The first cell of every notebook, and its "Open in Colab" badge, from one place.

The repository's address and the release a notebook installs are set here and nowhere else;
``python -m course_utils.colab sync`` writes them into every notebook, and a test fails when a
notebook's setup cell or badge differs from what this module makes.

>>> "google.colab" in setup_cell_source()
True
>>> badge_markdown("notebooks/00_setup_check.ipynb").startswith("[![Open In Colab]")
True
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

GITHUB_REPOSITORY = "finetuning-course/finetuning-course"  # owner/name on GitHub
RELEASE = "v0.1.0"  # the tag Colab installs from; bump it with each release of the course

SETUP_TAG = "setup"
BADGE_MARK = "colab-badge.svg"
NOTEBOOK_FOLDERS = ("notebooks", "exercises", "solutions")


def install_spec() -> str:
    """The pip requirement that installs ``course_utils`` at the pinned release."""
    return f"course-utils @ git+https://github.com/{GITHUB_REPOSITORY}@{RELEASE}"


def setup_cell_source() -> str:
    """Source of the setup cell: on Colab, install the pinned ``course_utils``; elsewhere nothing.

    pip only upgrades what is below the course's lower bounds (transformers, datasets); torch and
    numpy are never reinstalled, and nothing has imported transformers yet, so no restart is needed.
    """
    return (
        "# Setup, the same in every notebook. On Colab it installs the course's helper package\n"
        "# (pinned to a release); pip upgrades transformers/datasets only if they are older than\n"
        "# the course supports and leaves torch and numpy alone, so no restart is needed.\n"
        "# Elsewhere `make lab` has installed everything and this cell does nothing.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        "    import subprocess\n"
        "\n"
        f'    SPEC = "{install_spec()}"\n'
        '    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", SPEC], check=True)'
    )


def badge_markdown(notebook: str | Path) -> str:
    """Markdown for the "Open in Colab" badge of a notebook given by its path in the repository."""
    path = Path(notebook).as_posix()
    url = f"https://colab.research.google.com/github/{GITHUB_REPOSITORY}/blob/{RELEASE}/{path}"
    return f"[![Open In Colab](https://colab.research.google.com/assets/{BADGE_MARK})]({url})"


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def problems(notebook: Path, root: Path) -> list[str]:
    """What differs between a notebook's setup cell and badge and the canonical ones."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    rel = notebook.relative_to(root).as_posix()
    found = []
    setup = [c for c in nb["cells"] if SETUP_TAG in c.get("metadata", {}).get("tags", [])]
    if len(setup) != 1 or _source(setup[0]) != setup_cell_source():
        found.append(f"{rel}: setup cell missing or out of date")
    elif nb["cells"].index(setup[0]) != 1:
        found.append(f"{rel}: the setup cell must be the first code cell, right after the title")
    if badge_markdown(rel) not in _source(nb["cells"][0]):
        found.append(f"{rel}: first cell lacks the Colab badge for this notebook")
    if nb.get("metadata", {}).get("kernelspec", {}).get("name") != "python3":
        found.append(f"{rel}: kernelspec must be the plain python3 kernel")
    return found


def sync(notebook: Path, root: Path) -> bool:
    """Rewrite a notebook's setup cell and badge to the canonical ones; True if it changed."""
    text = notebook.read_text(encoding="utf-8")
    nb = json.loads(text)
    rel = notebook.relative_to(root).as_posix()
    cells = nb["cells"]
    setup = [c for c in cells if SETUP_TAG in c.get("metadata", {}).get("tags", [])]
    cell = setup[0] if setup else {"cell_type": "code", "execution_count": None, "id": "setup",
                                    "metadata": {"tags": [SETUP_TAG]}, "outputs": []}
    if setup:
        cells.remove(cell)
    cell["source"] = setup_cell_source().splitlines(keepends=True)
    cells.insert(1, cell)
    title = "\n".join(line for line in _source(cells[0]).splitlines() if BADGE_MARK not in line)
    cells[0]["source"] = f"{badge_markdown(rel)}\n\n{title.strip()}".splitlines(keepends=True)
    nb.setdefault("metadata", {})["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    new = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    if new != text:
        notebook.write_text(new, encoding="utf-8")
        return True
    return False


def all_notebooks(root: Path) -> list[Path]:
    return sorted(p for folder in NOTEBOOK_FOLDERS for p in (root / folder).glob("*.ipynb"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.colab")
    parser.add_argument("action", choices=["sync", "check"])
    parser.add_argument("--root", type=Path, default=Path.cwd())
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if args.action == "sync":
        for nb in all_notebooks(root):
            if sync(nb, root):
                print(f"updated {nb.relative_to(root)}")
        return 0
    found = [p for nb in all_notebooks(root) for p in problems(nb, root)]
    print("\n".join(found) or "all setup cells and badges are current")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
