"""Generate the exercise notebooks from the solution notebooks: one source, kept in sync by a test.

    python tools/build_exercises.py                 # write exercises/X.ipynb for every solutions/X.ipynb
    python tools/build_exercises.py --check         # exit 1, listing the exercises that drifted
    python tools/build_exercises.py solutions/challenge1_classifier.ipynb   # just that one

The nbgrader convention: in a solution's code cell, the lines between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` become ``# YOUR CODE HERE`` plus ``name = None`` for every answer variable
(a variable of the notebook's QuestionSet) the block assigns, so the untouched exercise runs
without errors and its checks say "not answered". A markdown cell tagged ``solution`` becomes a
"Your answer here" cell. The Colab badge is pointed at the exercise; outputs are dropped. The
notebook's metadata must name its assignment: ``{"course": {"assignment": "ex02"}}``.
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import re
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_utils import colab  # noqa: E402

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
PLACEHOLDER = "# YOUR CODE HERE"
SOLUTION_TAG = "solution"
ANSWER_MARKDOWN = "**Your answer here.** Double-click this cell and write it in place of this line."
SOURCE_DIR, TARGET_DIR = "solutions", "exercises"


class MarkerError(ValueError):
    """A solution cell whose BEGIN / END SOLUTION markers do not pair up."""


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def assigned_names(code: str) -> list[str]:
    """Names a block of code assigns (``x = ...``, ``a, b = ...``, ``x += ...``, ``for x in``), in order.

    >>> assigned_names("a, b = 1, 2\\nfor i in range(3):\\n    total = i\\nc += 1")
    ['a', 'b', 'i', 'total', 'c']
    """
    try:
        tree = ast.parse(textwrap.dedent(code))
    except SyntaxError:  # a fragment (say, the body of an if): fall back to the assignment lines
        found = re.findall(r"^\s*([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*(?:[-+*/]?=)(?!=)", code, flags=re.M)
        return list(dict.fromkeys(name.strip() for group in found for name in group.split(",")))
    names: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor)):
            targets = [node.target]
        elif isinstance(node, ast.NamedExpr):
            targets = [node.target]
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            targets = [item.optional_vars for item in node.items if item.optional_vars is not None]
        for target in targets:
            for sub in ast.walk(target):
                if isinstance(sub, ast.Name):
                    names.append((sub.lineno, sub.col_offset, sub.id))
    return list(dict.fromkeys(name for _, _, name in sorted(names)))


def strip_solutions(source: str, answer_variables, where: str = "a cell") -> str:
    """The exercise version of one code cell's source (see the module docstring)."""
    answers = set(answer_variables)
    out: list[str] = []
    block: list[str] | None = None
    indent = ""
    for number, line in enumerate(source.splitlines(), start=1):
        marker = line.strip()
        if marker == BEGIN:
            if block is not None:
                raise MarkerError(f"{where}, line {number}: a second {BEGIN} before {END}.")
            block, indent = [], line[: len(line) - len(line.lstrip())]
        elif marker == END:
            if block is None:
                raise MarkerError(f"{where}, line {number}: {END} without {BEGIN}.")
            out.append(indent + PLACEHOLDER)
            out += [f"{indent}{name} = None" for name in assigned_names("\n".join(block)) if name in answers]
            block = None
        elif BEGIN in line or END in line:
            raise MarkerError(f"{where}, line {number}: a solution marker must stand alone on its line.")
        elif block is not None:
            block.append(line)
        else:
            out.append(line)
    if block is not None:
        raise MarkerError(f"{where}: {BEGIN} without {END}.")
    return "\n".join(out)


def assignment_of(nb: dict, where: str) -> str:
    name = nb.get("metadata", {}).get("course", {}).get("assignment")
    if not name:
        raise ValueError(f"{where}: the notebook metadata lacks course.assignment (e.g. \"ex02\").")
    return name


def exercise_notebook(solution: dict, solution_path: str, exercise_path: str) -> dict:
    """The exercise notebook made from a solution notebook (``*_path``: paths in the repository)."""
    from course_utils.exercises import load

    variables = load(assignment_of(solution, solution_path)).variables
    nb = copy.deepcopy(solution)
    for index, cell in enumerate(nb["cells"]):
        where = f"{solution_path}, cell {index}"
        text = _source(cell)
        if cell["cell_type"] == "code":
            text = strip_solutions(text, variables, where)
            cell["outputs"], cell["execution_count"] = [], None
        elif BEGIN in text or END in text:
            raise MarkerError(f"{where}: solution markers belong in code cells; tag a markdown answer "
                              f"'{SOLUTION_TAG}' instead.")
        tags = cell.get("metadata", {}).get("tags", [])
        if cell["cell_type"] == "markdown" and SOLUTION_TAG in tags:
            text = ANSWER_MARKDOWN
            rest = [t for t in tags if t != SOLUTION_TAG]
            if rest:
                cell["metadata"]["tags"] = rest
            else:
                cell["metadata"].pop("tags")
        if index == 0:
            text = text.replace(colab.badge_markdown(solution_path), colab.badge_markdown(exercise_path))
        cell["source"] = text.splitlines(keepends=True)
    return nb


def render(nb: dict) -> str:
    """The file text, formatted as ``python -m course_utils.colab sync`` writes notebooks."""
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def build(solution_file: Path, root: Path = ROOT) -> tuple[Path, str]:
    """``(exercise file, its text)`` for one solution notebook."""
    rel = solution_file.resolve().relative_to(root).as_posix()
    target = root / TARGET_DIR / solution_file.name
    solution = json.loads(solution_file.read_text(encoding="utf-8"))
    nb = exercise_notebook(solution, rel, target.relative_to(root).as_posix())
    return target, render(nb)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/build_exercises.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="solution notebooks (default: all of solutions/)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if an exercise differs")
    parser.add_argument("--root", type=Path, default=ROOT)
    args = parser.parse_args(argv)
    root = args.root.resolve()
    sources = [p.resolve() for p in args.notebooks] or sorted((root / SOURCE_DIR).glob("*.ipynb"))
    drifted, failed = [], []
    for source in sources:
        try:
            target, text = build(source, root)
        except (ValueError, KeyError) as error:  # MarkerError, a missing assignment, an unknown one
            failed.append(f"{source.relative_to(root)}: {error}")
            continue
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current == text:
            continue
        if args.check:
            drifted.append(target.relative_to(root).as_posix())
        else:
            target.parent.mkdir(exist_ok=True)
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target.relative_to(root)}")
    for line in failed:
        print(f"ERROR {line}", file=sys.stderr)
    if drifted:
        print("out of date (run python tools/build_exercises.py):\n  " + "\n  ".join(drifted))
    return 1 if failed or drifted else 0


if __name__ == "__main__":
    sys.exit(main())
