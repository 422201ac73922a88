"""Loading what is trusted (the question set, hidden checks) and what is not (the submissions).

>>> safe_id("../../Jo Smith (late)")
'Jo_Smith_late'
>>> nb, note = parse_notebook(b'{"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": '
...                           b'[{"cells": [{"cell_type": "code", "input": "total = 4", "outputs": []}]}]}')
>>> nb.nbformat, nb.cells[0].source, note
(4, 'total = 4', 'the notebook was saved by an older Jupyter (nbformat 3) and was converted to nbformat 4 to run')
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

from course_utils.exercises import load as load_question_set
from course_utils.exercises.core import Question, QuestionSet
from course_utils.grading.errors import GraderError


class NotANotebook(ValueError):
    """A submission that is not a notebook we can run; the message is the gradebook's reason."""


def module_from_file(path: str | Path, prefix: str) -> ModuleType:
    """Import the Python file ``path`` under a private name; a :class:`GraderError` if it fails."""
    path = Path(path).resolve()
    if not path.is_file():
        raise GraderError(f"{path} does not exist: give the path of a .py file.")
    name = f"_{prefix}_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise GraderError(f"{path} cannot be imported: give the path of a .py file.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        sys.modules.pop(name, None)
        raise GraderError(f"could not load {path}: {type(error).__name__}: {error}") from error
    return module


def load_assignment(assignment: QuestionSet | str | Path, hidden_checks: str | Path | None = None) -> QuestionSet:
    """The QuestionSet to grade with, plus the questions of a hidden-checks file.

    ``assignment``: a QuestionSet, a name (``"ex02"``), ``"module:attribute"``, ``"file.py"``
    (its ``QUESTIONS``) or ``"file.py:NAME"``, or an exercise notebook (``.ipynb``) whose metadata
    holds ``{"course": {"assignment": ...}}``. ``load_assignment("ex02").name == "ex02"``.
    """
    if isinstance(assignment, QuestionSet):
        qs = assignment
    else:
        spec = str(assignment)
        file_part, _, attribute = spec.partition(".py:")
        if spec.endswith(".ipynb"):
            try:
                meta = json.loads(Path(spec).read_text(encoding="utf-8")).get("metadata", {})
                name = meta["course"]["assignment"]
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
                raise GraderError(f"{spec}: not an exercise notebook with metadata "
                                  '{"course": {"assignment": ...}} '
                                  f"({type(error).__name__}: {error}).") from error
            if str(name).endswith(".py") or ".py:" in str(name):
                name = str(Path(spec).parent / name)
            qs = load_assignment(name)
        elif attribute or spec.endswith(".py"):
            path = Path(file_part + ".py") if attribute else Path(spec)
            qs = getattr(module_from_file(path, "course_grade_assignment"), attribute or "QUESTIONS", None)
        else:
            try:
                qs = load_question_set(spec)
            except (ImportError, AttributeError, ValueError) as error:
                raise GraderError(f"could not load the assignment {spec!r}: {type(error).__name__}: {error}") from error
        if not isinstance(qs, QuestionSet):
            raise GraderError(f"{assignment!r} does not name a QuestionSet (got {type(qs).__name__}): name "
                              "an assignment such as ex02, or module:attribute of a QuestionSet.")
    if hidden_checks:
        hidden = getattr(module_from_file(Path(hidden_checks), "course_grade_hidden"), "HIDDEN", None)
        if not isinstance(hidden, (list, tuple)) or not all(isinstance(q, Question) for q in hidden):
            raise GraderError(f"{hidden_checks}: define HIDDEN = [Question(...), ...].")
        clash = sorted({q.name for q in hidden} & set(qs.by_name))
        if clash:
            raise GraderError(f"{hidden_checks}: hidden question names {clash} are already used by {qs.name}; "
                              "rename them.")
        # replace keeps every other field of the set (its version, its solutions...).
        qs = dataclasses.replace(qs, questions=list(qs.questions) + list(hidden))
    return qs


def safe_id(stem: str) -> str:
    """A student id from a file stem: letters, digits, ``_.-`` only, at most 80 characters."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("._-")[:80]
    return safe or "submission"


def collect_submissions(paths: Iterable[str | Path]) -> list[tuple[str, Path]]:
    """``(student id, path)`` for each file given, or each file directly in a folder given.

    Ids that clash (case-insensitively) get ``-2``, ``-3``...; hidden files are skipped.
    """
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files += sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith("."))
        elif p.is_file():
            files.append(p)
        else:
            raise GraderError(f"{p}: no such file or folder; give submitted notebooks or folders of them.")
    taken: set[str] = set()
    result = []
    for f in files:
        base = safe_id(f.stem)
        student, n = base, 1
        while student.lower() in taken:
            n += 1
            student = f"{base}-{n}"
        taken.add(student.lower())
        result.append((student, f))
    return result


def parse_notebook(data: bytes):
    """The submitted notebook as nbformat 4, and a note when it had to be converted.

    Older Jupyter saved nbformat 3 (cells inside ``worksheets``); it is converted, as Jupyter
    itself does when it opens one. Raises :class:`NotANotebook` with the gradebook's reason.
    """
    import nbformat

    try:
        text = data.decode("utf-8")
        raw = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise NotANotebook(f"not a valid notebook ({type(error).__name__}: {str(error)[:200]}); the file may be "
                           "damaged: open it in Jupyter, save and submit again") from None
    version = raw.get("nbformat") if isinstance(raw, dict) else None
    if isinstance(version, int) and not isinstance(version, bool) and version < 4:
        try:
            nb = nbformat.reads(text, as_version=4)  # nbformat's own upgrade, 3 -> 4
            if not isinstance(nb.get("cells"), list):
                raise ValueError("no cells after the conversion")
        except Exception as error:
            raise NotANotebook(f"an nbformat {version} notebook (saved by an older Jupyter) that could not be "
                               f"converted to nbformat 4 ({type(error).__name__}: {str(error)[:200]}); open it in "
                               "a current Jupyter, save it (File > Save Notebook) and submit again") from None
        return nb, (f"the notebook was saved by an older Jupyter (nbformat {version}) and was converted "
                    "to nbformat 4 to run")
    try:
        if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
            raise ValueError("it has no list of cells")
        nb = nbformat.reads(text, as_version=4)
    except Exception as error:
        raise NotANotebook(f"not a valid notebook ({type(error).__name__}: {str(error)[:200]}); the file may be "
                           "damaged: open it in Jupyter, save and submit again") from None
    return nb, ""
