"""Questions a learner answers in a notebook and checks at once; the grader checks the same way.

A question names the variables (and files) its answer lives in and a checker that raises
:class:`Wrong` with a message in the learner's terms. In a notebook, ``q1.check()`` reads the
variables from the notebook's namespace; the grader reads them from the JSON a submission
exported, and runs the very same checker in its own process. Both paths go through
:func:`to_jsonable`, so a value checks the same in the notebook and in the gradebook.

A question's model solution is written once, in its solution notebook; ``tools/build_exercises.py``
copies each block into ``solutions.json`` next to this file, and ``q1.solution()`` shows it (see
:func:`stored_solutions`). A set made on the spot, like this one, passes its own ``solutions``.

>>> def answer_is_four(values, workdir):
...     if values["x"] != 4:
...         raise Wrong(f"x is {values['x']}; 2 + 2 is 4.")
>>> qs = QuestionSet("demo", "A demo", [Question("q1", "What is 2 + 2? Set `x`.", ("x",),
...                  answer_is_four, hints=("Add them.",))], solutions={"q1": "x = 2 + 2"})
>>> ns = {}
>>> qs.bind(ns)
>>> ns["q1"].check().status
'unanswered'
>>> ns["x"] = 5
>>> print(ns["q1"].check())
q1 ✗ incorrect: x is 5; 2 + 2 is 4.
>>> ns["x"] = 4
>>> print(ns["q1"].check())
q1 ✓ correct (1/1 points)
>>> ns["q1"].solution()
Solution to q1:
x = 2 + 2
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

# One conversion for answers and recorded results, shared with the grader's export cell.
from course_utils.jsonable import to_jsonable

STATUSES = ("correct", "incorrect", "unanswered", "review", "error")
# The grader refuses exported answers bigger than this: answers are numbers, short texts and
# small tables, never datasets.
MAX_EXPORT_BYTES = 5_000_000
# Each question's model solution, copied from the solution notebooks by tools/build_exercises.py.
SOLUTIONS_FILE = Path(__file__).with_name("solutions.json")


class Wrong(Exception):
    """Raised by a checker: the answer is wrong, and the message says how, for the learner."""


@dataclass
class Outcome:
    question: str
    status: str
    points: float
    max_points: float
    feedback: str
    needs_review: bool = False

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}.")

    def __str__(self) -> str:
        mark = {"correct": "✓", "incorrect": "✗", "unanswered": "…", "review": "✎", "error": "!"}[self.status]
        if self.status == "correct":
            text = f"{self.question} {mark} correct ({self.points:g}/{self.max_points:g} points)"
            return text + (f": {self.feedback}" if self.feedback else "")
        return f"{self.question} {mark} {self.status}: {self.feedback}"

    __repr__ = __str__

    def to_dict(self) -> dict:
        return asdict(self)


Checker = Callable[[dict, Path], Any]


@dataclass
class Question:
    """One question: what it asks, where its answer lives, how it is checked.

    ``checker(values, workdir)`` gets ``{variable: jsonable value}`` (never ``None``: an unset
    variable means unanswered, handled before) and the folder the notebook ran in; it raises
    :class:`Wrong` for a wrong answer and returns ``None`` (or a short remark) for a right one.
    ``auto=False`` marks an answer for an instructor's review: the checker then only checks
    that the answer is complete (a ratings table filled in, a reason given), and no points are
    awarded automatically. Its model solution is not written here but in the solution notebook
    (see :class:`QuestionSet`).
    """

    name: str
    prompt: str
    variables: tuple[str, ...]
    checker: Checker
    hints: tuple[str, ...] = ()
    points: float = 1.0
    files: tuple[str, ...] = ()
    auto: bool = True

    def __post_init__(self):
        if not self.variables:
            raise ValueError(f"{self.name}: a question needs at least one answer variable.")
        self.variables = tuple(self.variables)
        self.files = tuple(self.files)
        self.hints = tuple(self.hints)

    def evaluate(self, values: dict, workdir: Path | str = ".") -> Outcome:
        """Check exported (jsonable) ``values``; never raises for a learner's answer."""
        workdir = Path(workdir)
        missing = [v for v in self.variables if values.get(v) is None]
        if missing:
            names = ", ".join(f"`{v}`" for v in missing)
            return Outcome(self.name, "unanswered", 0, self.points,
                           f"not answered yet: set {names} in the notebook, then run this check again.",
                           needs_review=not self.auto)
        absent = [f for f in self.files if not (workdir / f).is_file()]
        if absent:
            return Outcome(self.name, "incorrect", 0, self.points,
                           f"the file {absent[0]!r} was not found next to the notebook: write it there.",
                           needs_review=not self.auto)
        try:
            remark = self.checker({v: values[v] for v in self.variables}, workdir)
        except Wrong as wrong:
            return Outcome(self.name, "incorrect", 0, self.points, str(wrong), needs_review=not self.auto)
        except Exception as error:  # a wrong type or shape of answer, not a crash of the notebook
            return Outcome(self.name, "incorrect", 0, self.points,
                           f"the answer could not be checked ({type(error).__name__}: {error}); "
                           "check its type against the question.", needs_review=not self.auto)
        if not self.auto:
            note = "complete; marked for the instructor's review (not scored automatically)."
            return Outcome(self.name, "review", 0, self.points,
                           f"{remark} {note}" if remark else note, needs_review=True)
        return Outcome(self.name, "correct", self.points, self.points, remark or "")


class BoundQuestion:
    """A question bound to a notebook's namespace: ``check()``, ``hint()``, ``solution()``."""

    def __init__(self, question: Question, namespace: dict, question_set: QuestionSet | None = None):
        self.question = question
        self._namespace = namespace
        self._question_set = question_set
        self._hints_shown = 0

    def values(self) -> dict:
        return {v: to_jsonable(self._namespace.get(v), name=v) for v in self.question.variables}

    def check(self) -> Outcome:
        try:
            values = self.values()
        except TypeError as error:
            return Outcome(self.question.name, "incorrect", 0, self.question.points, str(error))
        return self.question.evaluate(values, Path.cwd())

    def hint(self, n: int | None = None) -> None:
        hints = self.question.hints
        if not hints:
            print(f"{self.question.name}: no hint for this one; re-read the question.")
            return
        index = (n - 1) if n else min(self._hints_shown, len(hints) - 1)
        self._hints_shown = index + 1
        more = f" (hint {index + 1} of {len(hints)}; call hint() again for the next)" if len(hints) > 1 else ""
        print(f"Hint{more}: {hints[index]}")

    def solution(self) -> None:
        qs = self._question_set
        if qs is not None and qs.solutions_withheld:
            text = qs.solutions_withheld
        else:
            text = (qs.solution_of(self.question.name) if qs is not None else None) or "(none written)"
        print(f"Solution to {self.question.name}:\n{text}")

    def __repr__(self) -> str:
        return f"{self.question.name}: {self.question.prompt}"


@dataclass
class QuestionSet:
    """The questions of one exercise notebook or challenge.

    ``version`` is a whole number the set's module raises whenever a question changes what it
    asks, its variables or its check; the notebooks record it (``{"course": {"assignment": ...,
    "version": ...}}``), so that :func:`version_mismatch` can warn when a submission was made
    against other questions. ``solutions`` maps question names to model code; by default it is
    read from the solutions stored for the set's name (:func:`stored_solutions`). A graded
    challenge sets ``solutions_withheld`` to what ``qN.solution()`` says instead, and none of its
    solutions ships with the package.

    >>> qs = QuestionSet("demo", "A demo", [Question("q1", "Set `x`.", ("x",), lambda v, w: None)],
    ...                  version=2, solutions={"q1": "x = 4"})
    >>> qs.version, qs.solution_of("q1")
    (2, 'x = 4')
    """

    name: str
    title: str
    questions: Sequence[Question]
    notes: str = ""
    version: int = 1
    solutions: Mapping[str, str] | None = field(default=None, repr=False)
    solutions_withheld: str = ""
    by_name: dict = field(init=False, repr=False)

    def __post_init__(self):
        self.questions = list(self.questions)
        self.by_name = {q.name: q for q in self.questions}
        if len(self.by_name) != len(self.questions):
            raise ValueError(f"{self.name}: question names repeat.")
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1:
            raise ValueError(f"{self.name}: version must be a whole number from 1, got {self.version!r}.")
        if self.solutions is not None:
            unknown = sorted(set(self.solutions) - set(self.by_name))
            if unknown:
                raise ValueError(f"{self.name}: solutions given for {unknown}, which are not questions of "
                                 f"the set ({', '.join(self.by_name)}).")
            self.solutions = dict(self.solutions)

    def solution_of(self, question: str) -> str | None:
        """The model solution of ``question`` (its code), or None where none is written or it is withheld."""
        if question not in self.by_name:
            raise KeyError(f"{self.name} has no question {question!r}; it has {', '.join(self.by_name)}.")
        if self.solutions_withheld:
            return None
        solutions = self.solutions if self.solutions is not None else stored_solutions(self.name)
        return solutions.get(question)

    @property
    def variables(self) -> list[str]:
        seen: list[str] = []
        for q in self.questions:
            seen += [v for v in q.variables if v not in seen]
        return seen

    @property
    def max_points(self) -> float:
        return sum(q.points for q in self.questions)

    def bind(self, namespace: dict) -> None:
        """Put ``q1``, ``q2``... into a notebook's namespace: ``ex02.bind(globals())``."""
        if not isinstance(namespace, dict):
            raise TypeError("bind needs the notebook's namespace: call bind(globals()).")
        for q in self.questions:
            namespace[q.name] = BoundQuestion(q, namespace, self)
        namespace["_course_exercise"] = self.name

    def grade(self, values: dict, workdir: Path | str = ".") -> list[Outcome]:
        return [q.evaluate(values, workdir) for q in self.questions]


@lru_cache(maxsize=None)
def _solutions_file(path: Path) -> dict:
    if not path.is_file():  # only before tools/build_exercises.py first ran: no solution to show
        return {}
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise RuntimeError(f"{path} cannot be read ({error}); rebuild it with "
                           "python tools/build_exercises.py.") from error
    if not isinstance(stored, dict):
        raise RuntimeError(f"{path} should map assignments to {{question: code}}; rebuild it with "
                           "python tools/build_exercises.py.")
    return stored


def stored_solutions(assignment: str, path: Path | str | None = None) -> dict[str, str]:
    """``{question: model code}`` for ``assignment``, as the builder copied it from the solution notebook.

    Empty for an assignment with none stored (a graded challenge, a set made on the spot).

    >>> stored_solutions("ex01")["q1"].splitlines()[-1]
    'n_unusable = int(unusable.sum())'
    """
    if assignment.startswith("_"):  # "_about" and the like describe the file; they are no assignment
        return {}
    stored = _solutions_file(Path(path) if path is not None else SOLUTIONS_FILE)
    return dict(stored.get(assignment) or {})


def version_mismatch(qs: QuestionSet, notebook_metadata: Mapping | None) -> str | None:
    """A warning when a notebook was made against another version of ``qs`` than the one checking it.

    ``notebook_metadata`` is the notebook's ``metadata`` (``nb["metadata"]``). None when the versions
    agree, or when the notebook names another assignment (which set grades a notebook is the
    grader's choice). A notebook without a recorded version predates versioning: version 1.

    >>> qs = QuestionSet("ex02", "Exercise 02", [Question("q1", "Set `x`.", ("x",), lambda v, w: None)],
    ...                  version=3)
    >>> print(version_mismatch(qs, {"course": {"assignment": "ex02", "version": 2}}))  # doctest: +NORMALIZE_WHITESPACE
    this submission was made against ex02 version 2; the grader checks version 3: answers may be
    checked against different questions.
    >>> version_mismatch(qs, {"course": {"assignment": "ex02", "version": 3}}) is None
    True
    """
    course = notebook_metadata.get("course") if isinstance(notebook_metadata, Mapping) else None
    if not isinstance(course, Mapping):  # no metadata, or a hand-edited one: nothing recorded
        course = {}
    if course.get("assignment") not in (None, qs.name):
        return None
    tail = f"the grader checks version {qs.version}: answers may be checked against different questions."
    if "version" not in course:
        if qs.version == 1:
            return None
        return (f"this submission records no version of {qs.name}, so it was made against version 1 "
                f"(before versions were recorded); {tail}")
    made = course["version"]
    if made == qs.version and not isinstance(made, bool):
        return None
    return f"this submission was made against {qs.name} version {made!r}; {tail}"


def export_answers(namespace: dict, variables: Sequence[str], path: Path | str) -> dict:
    """Write the answer variables found in ``namespace`` to ``path`` as JSON (what the grader reads).

    A variable that cannot be turned into JSON is exported as ``None`` with the reason under
    ``"_errors"``, so one odd answer does not lose the others.
    """
    exported: dict = {}
    errors: dict = {}
    for v in variables:
        try:
            exported[v] = to_jsonable(namespace.get(v), name=v)
        except TypeError as error:
            exported[v], errors[v] = None, str(error)
    if errors:
        exported["_errors"] = errors
    Path(path).write_text(json.dumps(exported, allow_nan=False))
    return exported


def frame_from_json(value) -> "pd.DataFrame":  # noqa: F821 (pandas is imported lazily)
    """Back from :func:`to_jsonable`'s DataFrame form (or a list of row dicts) to a DataFrame."""
    import pandas as pd

    if isinstance(value, dict) and set(value) == {"columns", "rows"}:
        return pd.DataFrame(value["rows"], columns=value["columns"])
    if isinstance(value, list) and all(isinstance(r, dict) for r in value):
        return pd.DataFrame(value)
    raise Wrong("expected a table (a DataFrame).")
