"""Questions a learner answers in a notebook and checks at once; the grader checks the same way.

A question names the variables (and files) its answer lives in and a checker that raises
:class:`Wrong` with a message in the learner's terms. In a notebook, ``q1.check()`` reads the
variables from the notebook's namespace; the grader reads them from the JSON a submission
exported, and runs the very same checker in its own process. Both paths go through
:func:`to_jsonable`, so a value checks the same in the notebook and in the gradebook.

>>> def answer_is_four(values, workdir):
...     if values["x"] != 4:
...         raise Wrong(f"x is {values['x']}; 2 + 2 is 4.")
>>> qs = QuestionSet("demo", "A demo", [Question("q1", "What is 2 + 2? Set `x`.", ("x",),
...                  answer_is_four, hints=("Add them.",), solution="x = 2 + 2")])
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
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STATUSES = ("correct", "incorrect", "unanswered", "review", "error")
# The grader refuses exported answers bigger than this: answers are numbers, short texts and
# small tables, never datasets.
MAX_EXPORT_BYTES = 5_000_000


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
    awarded automatically.
    """

    name: str
    prompt: str
    variables: tuple[str, ...]
    checker: Checker
    hints: tuple[str, ...] = ()
    solution: str = ""
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

    def __init__(self, question: Question, namespace: dict):
        self.question = question
        self._namespace = namespace
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
        print(f"Solution to {self.question.name}:\n{self.question.solution or '(none written)'}")

    def __repr__(self) -> str:
        return f"{self.question.name}: {self.question.prompt}"


@dataclass
class QuestionSet:
    """The questions of one exercise notebook or challenge."""

    name: str
    title: str
    questions: Sequence[Question]
    notes: str = ""
    by_name: dict = field(init=False, repr=False)

    def __post_init__(self):
        self.questions = list(self.questions)
        self.by_name = {q.name: q for q in self.questions}
        if len(self.by_name) != len(self.questions):
            raise ValueError(f"{self.name}: question names repeat.")

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
            namespace[q.name] = BoundQuestion(q, namespace)
        namespace["_course_exercise"] = self.name

    def grade(self, values: dict, workdir: Path | str = ".") -> list[Outcome]:
        return [q.evaluate(values, workdir) for q in self.questions]


def to_jsonable(value, *, name: str = "answer"):
    """The JSON form of an answer: how the notebook's check and the grader both see it.

    Numbers (NumPy's too) become floats or ints, NaN becomes ``None``, arrays and Series become
    lists, a DataFrame becomes ``{"columns": [...], "rows": [[...], ...]}``.

    >>> import numpy as np
    >>> to_jsonable({"f1": np.float32(0.5), "ids": np.array([1, 2])})
    {'f1': 0.5, 'ids': [1, 2]}
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    type_name = type(value).__module__.split(".")[0]
    if type_name == "numpy":
        import numpy as np

        if isinstance(value, np.ndarray):
            return [to_jsonable(v, name=name) for v in value.tolist()]
        if isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, np.integer):
            return int(value)
        if isinstance(value, np.floating):
            return to_jsonable(float(value), name=name)
    if type_name == "pandas":
        import pandas as pd

        if isinstance(value, pd.DataFrame):
            return {"columns": [str(c) for c in value.columns],
                    "rows": [[to_jsonable(v, name=name) for v in row] for row in value.itertuples(index=False)]}
        if isinstance(value, pd.Series):
            return [to_jsonable(v, name=name) for v in value.tolist()]
    if type_name == "torch":
        return to_jsonable(value.detach().cpu().numpy(), name=name)
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [to_jsonable(v, name=name) for v in items]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v, name=name) for k, v in value.items()}
    raise TypeError(f"`{name}` is a {type(value).__name__}; answers must be numbers, text, lists, "
                    "dicts or DataFrames.")


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
