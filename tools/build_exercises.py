"""Generate the exercise notebooks and the stored solutions from the solution notebooks: one source.

    python tools/build_exercises.py                 # write exercises/X.ipynb for every solutions/X.ipynb
    python tools/build_exercises.py --check         # exit 1, listing what drifted
    python tools/build_exercises.py solutions/challenge1_classifier.ipynb   # just that one

The nbgrader convention: in a solution's code cell, the lines between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` become ``# YOUR CODE HERE`` plus ``name = None`` for every answer variable
(a variable of the notebook's QuestionSet) the block assigns, so the untouched exercise runs
without errors and its checks say "not answered". A markdown cell tagged ``solution`` becomes a
"Your answer here" cell. The Colab badge is pointed at the exercise; outputs are dropped. The
notebook's metadata must name its assignment: ``{"course": {"assignment": "ex02"}}``; the
builder adds the question set's version there, in the solution and in the exercise.

Each solution block is the model solution of the question whose ``qN.check()`` comes next in
the notebook (see :func:`question_solutions`); they are copied into
``course_utils/exercises/solutions.json``, which ``q1.solution()`` shows, so a solution is written
once, in its notebook. A graded challenge withholds its solutions: its blocks are paired and
checked the same way, but none is copied. Markdown cells tagged ``solution`` answer discussion
prompts no check reads; they pair with no question and stay in the notebook.
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
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_utils import colab  # noqa: E402

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
PLACEHOLDER = "# YOUR CODE HERE"
SOLUTION_TAG = "solution"
ANSWER_MARKDOWN = "**Your answer here.** Double-click this cell and write it in place of this line."
SOURCE_DIR, TARGET_DIR = "solutions", "exercises"
SOLUTIONS_FILE = "course_utils/exercises/solutions.json"
CHECK_CALL = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\.check\(")


class MarkerError(ValueError):
    """A solution cell whose BEGIN / END SOLUTION markers do not pair up."""


class PairingError(ValueError):
    """A solution block that belongs to no question, or a question without a solution block."""


# NamedTuples, not dataclasses: the tests load this file as a module that sys.modules does not
# hold, where @dataclass fails.
class Block(NamedTuple):
    """The lines between one pair of solution markers, and where the BEGIN marker stands."""

    line: int
    indent: str
    lines: list[str]

    @property
    def code(self) -> str:
        """The block's code as a question's solution: its lines, less the common indentation."""
        return textwrap.dedent("\n".join(self.lines))


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


def split_cell(source: str, where: str = "a cell") -> list[str | Block]:
    """A code cell's lines, each run of lines between solution markers gathered into a :class:`Block`.

    >>> split_cell("x = 1\\n### BEGIN SOLUTION\\ny = 2\\n### END SOLUTION\\ny")
    ['x = 1', Block(line=2, indent='', lines=['y = 2']), 'y']
    """
    out: list[str | Block] = []
    block: Block | None = None
    for number, line in enumerate(source.splitlines(), start=1):
        marker = line.strip()
        if marker == BEGIN:
            if block is not None:
                raise MarkerError(f"{where}, line {number}: a second {BEGIN} before {END}.")
            block = Block(number, line[: len(line) - len(line.lstrip())], [])
        elif marker == END:
            if block is None:
                raise MarkerError(f"{where}, line {number}: {END} without {BEGIN}.")
            out.append(block)
            block = None
        elif BEGIN in line or END in line:
            raise MarkerError(f"{where}, line {number}: a solution marker must stand alone on its line.")
        elif block is not None:
            block.lines.append(line)
        else:
            out.append(line)
    if block is not None:
        raise MarkerError(f"{where}: {BEGIN} without {END}.")
    return out


def strip_solutions(source: str, answer_variables, where: str = "a cell") -> str:
    """The exercise version of one code cell's source (see the module docstring)."""
    answers = set(answer_variables)
    out: list[str] = []
    for part in split_cell(source, where):
        if isinstance(part, Block):
            out.append(part.indent + PLACEHOLDER)
            out += [f"{part.indent}{name} = None" for name in assigned_names("\n".join(part.lines))
                    if name in answers]
        else:
            out.append(part)
    return "\n".join(out)


def checked_questions(line: str, question_names) -> list[str]:
    """The questions a line of code checks (``q2.check()``), in order; a comment checks nothing.

    >>> checked_questions("q1.check()  # q2.check() after", ["q1", "q2"])
    ['q1']
    """
    code = line.split("#", 1)[0]  # a '#' inside a string would cut early; no check call needs one
    return [name for name in CHECK_CALL.findall(code) if name in question_names]


def question_solutions(nb: dict, qs, where: str) -> dict[str, str]:
    """``{question: code}``: each question's solution block in a solution notebook, in question order.

    The rule: a block is the solution of the question whose ``qN.check()`` call comes next (in
    the same cell after the block, or in a later one), and it must assign at least one of that
    question's answer variables, which catches a check placed under the wrong block. Every
    question needs exactly one block; a block that no check follows, two blocks before one
    check, a second block for a question already answered, or a question without a block raise
    :class:`PairingError`, all problems of the notebook in one message. A check call with no
    block before it (a question checked again, say) pairs with nothing.
    """
    names = list(qs.by_name)
    found: dict[str, tuple[str, int]] = {}
    pending: list[tuple[int, Block]] = []
    problems: list[str] = []

    def place(index: int, block: Block) -> str:
        return f"cell {index}, line {block.line}"

    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        for part in split_cell(_source(cell), f"{where}, cell {index}"):
            if isinstance(part, Block):
                pending.append((index, part))
                continue
            for name in checked_questions(part, names):
                if not pending:
                    continue
                if len(pending) > 1:
                    problems.append(f"{len(pending)} solution blocks ({', '.join(place(*p) for p in pending)}) "
                                    f"before {name}.check() in cell {index}: a question's solution is one block; "
                                    "merge them, or check each question right after its block.")
                    found.setdefault(name, ("", index))  # reported here, not again as "no solution block"
                elif name in found:
                    problems.append(f"a second solution block for {name} ({place(*pending[0])}) after the one in "
                                    f"cell {found[name][1]}: each question has one.")
                else:
                    block_index, block = pending[0]
                    variables = qs.by_name[name].variables
                    if not set(assigned_names(block.code)) & set(variables):
                        problems.append(f"the solution block in {place(block_index, block)} is followed by "
                                        f"{name}.check() but assigns none of {name}'s answer variables "
                                        f"({', '.join(variables)}): is the check under the right block?")
                    found[name] = (block.code, block_index)
                pending = []
    for index, block in pending:
        problems.append(f"the solution block in {place(index, block)} is followed by no check: put the "
                        "check of its question (q1.check()...) after it.")
    for name in names:
        if name not in found:
            problems.append(f"{name} has no solution block: write its solution between {BEGIN} and {END} in "
                            f"a code cell before {name}.check().")
    if problems:
        raise PairingError(f"{where}:\n  " + "\n  ".join(problems))
    return {name: found[name][0] for name in names}


def assignment_of(nb: dict, where: str) -> str:
    name = nb.get("metadata", {}).get("course", {}).get("assignment")
    if not name:
        raise ValueError(f"{where}: the notebook metadata lacks course.assignment (e.g. \"ex02\").")
    return name


def with_version(nb: dict, version: int) -> dict:
    """A copy of ``nb`` whose metadata records the question set's version next to its assignment."""
    nb = copy.deepcopy(nb)
    nb["metadata"]["course"]["version"] = version
    return nb


def exercise_notebook(solution: dict, solution_path: str, exercise_path: str) -> dict:
    """The exercise notebook made from a solution notebook (``*_path``: paths in the repository)."""
    from course_utils.exercises import load

    qs = load(assignment_of(solution, solution_path))
    variables = qs.variables
    nb = with_version(solution, qs.version)
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


class Built(NamedTuple):
    """What one solution notebook makes: files to write (itself with its version, the exercise) and solutions."""

    assignment: str
    files: dict[Path, str]
    solutions: dict[str, str] | None  # None: the set withholds its solutions


def build(solution_file: Path, root: Path = ROOT) -> Built:
    """Build from one solution notebook; raises MarkerError, PairingError or ValueError, with the place."""
    from course_utils.exercises import load

    rel = solution_file.resolve().relative_to(root).as_posix()
    target = root / TARGET_DIR / solution_file.name
    solution = json.loads(solution_file.read_text(encoding="utf-8"))
    assignment = assignment_of(solution, rel)
    qs = load(assignment)
    solutions = question_solutions(solution, qs, rel)
    exercise = exercise_notebook(solution, rel, target.relative_to(root).as_posix())
    files = {solution_file.resolve(): render(with_version(solution, qs.version)), target: render(exercise)}
    return Built(assignment, files, None if qs.solutions_withheld else solutions)


def render_solutions(stored: dict) -> str:
    """The text of ``solutions.json``: assignments in the course's order, a note on where it comes from."""
    from course_utils.exercises import ASSIGNMENTS

    order = list(ASSIGNMENTS)
    names = sorted(stored, key=lambda name: (order.index(name) if name in order else len(order), name))
    about = ("Each question's model solution, copied from the BEGIN/END SOLUTION blocks of solutions/*.ipynb "
             "by tools/build_exercises.py: edit the notebooks, then run it; never edit this file.")
    return json.dumps({"_about": about, **{name: stored[name] for name in names}}, indent=1,
                      ensure_ascii=False) + "\n"


def stored_solutions_text(built: list[Built], store: Path, everything: bool) -> str:
    """The new ``solutions.json``: all of it (``everything``), or the current one with ``built`` replaced."""
    stored: dict = {}
    if not everything and store.exists():
        try:
            stored = {k: v for k, v in json.loads(store.read_text(encoding="utf-8")).items() if not k.startswith("_")}
        except ValueError as error:
            raise ValueError(f"{store} is not JSON ({error}): rebuild it from every notebook (no arguments).")
    for result in built:
        stored.pop(result.assignment, None)
        if result.solutions is not None:
            stored[result.assignment] = result.solutions
    return render_solutions(stored)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/build_exercises.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="solution notebooks (default: all of solutions/)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if an exercise, a solution's metadata or solutions.json differs")
    parser.add_argument("--root", type=Path, default=ROOT)
    args = parser.parse_args(argv)
    root = args.root.resolve()
    everything = not args.notebooks
    sources = [p.resolve() for p in args.notebooks] or sorted((root / SOURCE_DIR).glob("*.ipynb"))
    built: list[Built] = []
    failed: list[str] = []
    seen: dict[str, Path] = {}  # assignment -> its solution notebook
    for source in sources:
        try:
            result = build(source, root)
        except (ValueError, KeyError) as error:  # Marker/PairingError, a missing assignment, an unknown one
            rel = source.relative_to(root).as_posix()
            message = str(error).strip("'")  # a KeyError's text comes quoted
            failed.append(message if message.startswith(rel) else f"{rel}: {message}")
            continue
        if result.assignment in seen:
            failed.append(f"{source.relative_to(root)}: {result.assignment} is already the assignment of "
                          f"{seen[result.assignment].relative_to(root)}; each has one solution notebook.")
        seen[result.assignment] = source
        built.append(result)
    if everything and not failed:  # a notebook that failed may well be the one "missing"
        from course_utils.exercises import ASSIGNMENTS, load

        failed += [f"{name}: no notebook in {SOURCE_DIR}/ names it in its metadata, so its questions have no "
                   "solution." for name in ASSIGNMENTS if name not in seen and not load(name).solutions_withheld]
    files: dict[Path, str] = {}
    for result in built:
        files.update(result.files)
    store = root / SOLUTIONS_FILE
    if not failed:  # a notebook that failed would lose its solutions from the store
        files[store] = stored_solutions_text(built, store, everything)
    drifted = []
    for target, text in files.items():
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
