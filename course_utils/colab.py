"""The first cell of every notebook, and its "Open in Colab" badge, from one place.

The repository's address is set here and nowhere else; the release a notebook installs is the tag
``"v" + course_utils.__version__``, so the package's version is typed once (docs/releasing.md).
``python -m course_utils.colab sync`` writes both into every notebook and the README's badges;
``python -m course_utils.colab check`` fails when a setup cell or badge differs from what this
module makes, or when a notebook imports something the pinned release does not provide.

>>> "google.colab" in setup_cell_source()
True
>>> badge_markdown("notebooks/00_setup_check.ipynb").startswith("[![Open In Colab]")
True
>>> RELEASE == "v" + __version__
True
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.metadata
import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import NamedTuple

from course_utils import __version__

GITHUB_REPOSITORY = "finetuning-course/finetuning-course"  # owner/name on GitHub
RELEASE = f"v{__version__}"  # the tag Colab installs from; a release bumps __version__, never this line

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


# Every badge's address names the release it opens; ``sync`` rewrites that part, ``check`` compares it.
_BADGE_RELEASE = re.compile(
    rf"(https://colab\.research\.google\.com/github/{re.escape(GITHUB_REPOSITORY)}/blob/)([^/\s)]+)/")


def readme_problems(root: Path) -> list[str]:
    """The README's Colab badges that open a release other than :data:`RELEASE` (none if no README).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = Path(tmp, "README.md").write_text(badge_markdown("notebooks/a.ipynb").replace(RELEASE, "v0.0.1"))
    ...     print(readme_problems(Path(tmp))[0].split(";")[0])
    README.md: 1 Colab badge(s) open release v0.0.1, not the pinned one
    """
    readme = Path(root) / "README.md"
    if not readme.is_file():
        return []
    stale: dict[str, int] = {}
    for match in _BADGE_RELEASE.finditer(readme.read_text(encoding="utf-8")):
        if match.group(2) != RELEASE:
            stale[match.group(2)] = stale.get(match.group(2), 0) + 1
    return [f"README.md: {n} Colab badge(s) open release {release}, not the pinned one; "
            f"`python -m course_utils.colab sync` rewrites them to {RELEASE}" for release, n in stale.items()]


def sync_readme(root: Path) -> bool:
    """Point every Colab badge in the README at :data:`RELEASE`; True if the file changed."""
    readme = Path(root) / "README.md"
    if not readme.is_file():
        return False
    text = readme.read_text(encoding="utf-8")
    new = _BADGE_RELEASE.sub(lambda m: f"{m.group(1)}{RELEASE}/", text)
    if new != text:
        readme.write_text(new, encoding="utf-8")
        return True
    return False


# ---- Imports: what the notebooks use must be in the pinned release and in its declared dependencies.

PACKAGE_DIR = Path(__file__).resolve().parent  # the course_utils being checked: the one installed here


class Import(NamedTuple):
    """One imported module: where the statement is, the module, the names taken from it (``()`` for ``import m``)."""

    where: str
    module: str
    names: tuple[str, ...]


def _imports(source: str, where: str, package: str | None = None) -> list[Import]:
    # ast.walk reaches imports inside functions too: lora.py imports peft only where it is used.
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [Import(f"{where}:{node.lineno}", alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # relative: resolvable only inside the package
                if package is None:
                    continue
                module = importlib.util.resolve_name("." * node.level + module, package)
            found.append(Import(f"{where}:{node.lineno}", module, tuple(a.name for a in node.names)))
    return found


def notebook_imports(notebook: Path, root: Path) -> list[Import]:
    """Every import in a notebook's code cells, with ``where`` as ``path cell N:line`` (N counts all cells from 0).

    Lines starting with ``%`` or ``!`` (IPython magics, shell commands) are blanked first; a cell that is
    still not Python raises ValueError, because its imports would otherwise go unchecked.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     cell = {"cell_type": "code", "source": "%time\\nfrom course_utils import data"}
    ...     _ = Path(tmp, "a.ipynb").write_text(json.dumps({"cells": [cell]}))
    ...     notebook_imports(Path(tmp, "a.ipynb"), Path(tmp))
    [Import(where='a.ipynb cell 0:2', module='course_utils', names=('data',))]
    """
    notebook, root = Path(notebook), Path(root)
    if not notebook.is_file():
        raise ValueError(f"{notebook} is not a file: pass the path of a .ipynb notebook")
    rel = notebook.resolve().relative_to(root.resolve()).as_posix()
    found = []
    for index, cell in enumerate(json.loads(notebook.read_text(encoding="utf-8"))["cells"]):
        if cell.get("cell_type") != "code":
            continue
        # Blank rather than drop magic lines, so that line numbers stay those of the cell.
        code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                         for line in _source(cell).splitlines())
        try:
            found += _imports(code, f"{rel} cell {index}")
        except SyntaxError as err:
            raise ValueError(f"{rel} cell {index}: not Python even without its %/! lines ({err.msg}, line "
                             f"{err.lineno}), so its imports cannot be checked; fix the cell") from err
    return found


def _module_file(name: str) -> Path | None:
    parts = name.split(".")
    if parts[0] != "course_utils":
        return None
    base = PACKAGE_DIR.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py") if len(parts) > 1 else None, base / "__init__.py"):
        if candidate is not None and candidate.is_file():
            return candidate
    return None


def package_imports(modules: set[str] | list[str]) -> list[Import]:
    """Every import in these course_utils modules, their parent packages and the course_utils modules they
    import, at any depth (imports inside functions included; ``importlib.import_module`` calls are not followed).

    >>> any(i.module == "peft" for i in package_imports(["course_utils.lora"]))
    True
    """
    todo, seen, found = list(modules), set(), []
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += [name.rsplit(".", depth)[0] for depth in range(1, name.count(".") + 1)]  # imported first
        file = _module_file(name)
        if file is None:  # a name that is not a module (a function), or outside course_utils
            continue
        package = name if file.name == "__init__.py" else name.rpartition(".")[0]
        for imp in _imports(file.read_text(encoding="utf-8"), file.relative_to(PACKAGE_DIR.parent).as_posix(), package):
            found.append(imp)
            if imp.module.split(".")[0] == "course_utils":
                todo += [imp.module] + [f"{imp.module}.{n}" for n in imp.names]
    return found


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared_dependencies(root: Path) -> set[str]:
    """Canonical names of the distributions in ``[project] dependencies`` of ``root/pyproject.toml``.

    >>> "peft" in declared_dependencies(PACKAGE_DIR.parent)  # the repository's pyproject.toml
    True
    """
    try:
        import tomllib  # Python 3.11+; only this maintainers' check needs it, never a lesson
    except ModuleNotFoundError as err:
        raise RuntimeError("reading pyproject.toml needs Python 3.11 or newer (tomllib): "
                           "run the check with the course's .venv/bin/python") from err
    path = Path(root) / "pyproject.toml"
    if not path.is_file():
        raise ValueError(f"{path} does not exist: pass --root, the repository's root (it holds pyproject.toml)")
    deps = tomllib.loads(path.read_text(encoding="utf-8")).get("project", {}).get("dependencies", [])
    return {_canonical(re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", d).group(1)) for d in deps}


def _load(name: str, where: str, missing: str) -> tuple[object, str | None]:
    """Import a course_utils module: (module, None), or (None, the problem) naming ``missing`` when it is absent."""
    try:
        return importlib.import_module(name), None
    except ModuleNotFoundError as err:
        if err.name and (name == err.name or name.startswith(err.name + ".")):
            return None, (f"{where}: {missing} is not in course_utils {__version__}, the release {RELEASE} the "
                          "setup cell pins: add it to the package (and release it) or fix the import")
        return None, f"{where}: {name} fails to import ({err}): declare and install what it needs"
    except Exception as err:  # noqa: BLE001 - whatever breaks the import is the problem to report
        return None, f"{where}: {name} fails to import ({type(err).__name__}: {err})"


def _course_utils_problems(imp: Import, reached: set[str]) -> list[str]:
    """Whether course_utils at this version has the module and the names; the modules reached go in ``reached``."""
    module, problem = _load(imp.module, imp.where, f"module {imp.module}")
    if problem:
        return [problem]
    reached.add(imp.module)
    found = []
    for name in imp.names:
        if name == "*":
            continue
        if hasattr(module, name):  # hasattr also runs the package's lazy __getattr__ (course_utils.setup)
            value = getattr(module, name)
            owner = value.__name__ if isinstance(value, type(sys)) else getattr(value, "__module__", None)
        else:  # `from course_utils import cheatsheet`: a submodule, not yet an attribute
            value, problem = _load(f"{imp.module}.{name}", imp.where, f"`from {imp.module} import {name}`: {name}")
            if problem:
                found.append(problem)
                continue
            owner = value.__name__
        if isinstance(owner, str) and owner.split(".")[0] == "course_utils":
            reached.add(owner)  # its own imports are checked too
    return found


def _dependency_problems(imports: list[Import], declared: set[str]) -> list[str]:
    """Third-party modules that no declared dependency provides, each with every place that imports it."""
    providers = importlib.metadata.packages_distributions()
    missing: dict[str, list[str]] = {}
    for imp in imports:
        top = imp.module.split(".")[0]
        if not top or top == "course_utils" or top in sys.stdlib_module_names:
            continue
        if not any(_canonical(d) in declared for d in providers.get(top, [])):
            missing.setdefault(top, [])
            if imp.where not in missing[top]:
                missing[top].append(imp.where)
    found = []
    for top, places in sorted(missing.items()):
        dists = providers.get(top)
        what = (f"from the distribution {dists[0]}, which [project] dependencies in pyproject.toml do not declare: "
                f"add \"{dists[0]}>=...\" there" if dists else
                "which no installed distribution provides: add the one that provides it to [project] "
                "dependencies in pyproject.toml and install it")
        places.sort()
        shown = ", ".join(places[:4]) + (f" and {len(places) - 4} more" if len(places) > 4 else "")
        found.append(f"{top} is imported ({shown}), {what}, or remove the import")
    return found


def import_problems(root: Path) -> list[str]:
    """What the notebooks under ``root`` import that the pinned release lacks.

    Checks every ``course_utils`` module and name a notebook imports (by importing it), and every
    third-party module imported by a notebook or by the course_utils modules the notebooks reach: it must
    come from a distribution in ``[project] dependencies`` of ``root/pyproject.toml``. Empty when all is well.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = Path(tmp, "pyproject.toml").write_text('[project]\\ndependencies = ["numpy>=1.26"]\\n')
    ...     cell = {"cell_type": "code", "source": "import numpy, pandas\\nfrom course_utils import nothing"}
    ...     Path(tmp, "notebooks").mkdir()
    ...     _ = Path(tmp, "notebooks", "a.ipynb").write_text(json.dumps({"cells": [cell]}))
    ...     for problem in import_problems(Path(tmp)):
    ...         print(problem.split(" is not in")[0].split(", which")[0])
    notebooks/a.ipynb cell 0:2: `from course_utils import nothing`: nothing
    pandas is imported (notebooks/a.ipynb cell 0:1), from the distribution pandas
    """
    root = Path(root)
    notebooks = all_notebooks(root)
    if not notebooks:
        raise ValueError(f"no notebooks in {root}/{{{','.join(NOTEBOOK_FOLDERS)}}}: "
                         "pass --root, the repository's root")
    declared = declared_dependencies(root)
    found: list[str] = []
    imports: list[Import] = []
    for notebook in notebooks:
        try:
            imports += notebook_imports(notebook, root)
        except ValueError as err:
            found.append(str(err))
    reached: set[str] = set()
    for imp in imports:
        if imp.module.split(".")[0] == "course_utils":
            found += _course_utils_problems(imp, reached)
    found += _dependency_problems(imports + package_imports(reached), declared)
    return found


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
        if sync_readme(root):
            print("updated README.md")
        return 0
    try:
        found = [p for nb in all_notebooks(root) for p in problems(nb, root)] + readme_problems(root)
        found += import_problems(root)
    except (ValueError, RuntimeError) as err:
        print(err, file=sys.stderr)
        return 2
    print("\n".join(found) or f"all setup cells and badges pin {RELEASE}, and it has every module and "
          "dependency the notebooks import")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
