"""Exercises and graded challenges: questions bound into a notebook with one line.

>>> from course_utils.exercises import load
>>> load("course_utils.exercises.core:QuestionSet").__name__  # any "module:attribute" works too
'QuestionSet'

In a notebook: ``from course_utils.exercises import ex02; ex02.bind(globals())``, then
``q1.check()``, ``q1.hint()``, ``q1.solution()``. Each ``exNN`` / ``challengeN`` module holds a
:class:`~course_utils.exercises.core.QuestionSet` named ``QUESTIONS`` and exposes its ``bind``;
its ``VERSION`` is recorded in the notebooks' metadata. The solutions ``q1.solution()`` shows are
copied from the solution notebooks into ``solutions.json`` by ``tools/build_exercises.py``.
The grader (``python -m course_utils.grade``) loads the same sets by name.
"""

from __future__ import annotations

import importlib

from course_utils.exercises.core import (Outcome, Question, QuestionSet, Wrong, export_answers, to_jsonable,
                                         version_mismatch)

__all__ = ["Outcome", "Question", "QuestionSet", "Wrong", "export_answers", "to_jsonable", "version_mismatch",
           "load", "ASSIGNMENTS"]

# Assignment name -> module; each module defines QUESTIONS.
ASSIGNMENTS = {
    "ex01": "course_utils.exercises.ex01",
    "ex02": "course_utils.exercises.ex02",
    "ex03": "course_utils.exercises.ex03",
    "ex04": "course_utils.exercises.ex04",
    "ex05": "course_utils.exercises.ex05",
    "ex06": "course_utils.exercises.ex06",
    "ex07": "course_utils.exercises.ex07",
    "challenge1": "course_utils.exercises.challenge1",
    "challenge2": "course_utils.exercises.challenge2",
    "challenge3": "course_utils.exercises.challenge3",
}


def load(name: str):
    """The QuestionSet for an assignment name (``"ex02"``) or a ``"module:attribute"`` path."""
    if ":" in name:
        module, attribute = name.split(":", 1)
        return getattr(importlib.import_module(module), attribute)
    if name not in ASSIGNMENTS:
        raise ValueError(f"Unknown assignment {name!r}; choose one of {', '.join(ASSIGNMENTS)} "
                         "or give 'module:attribute'.")
    return importlib.import_module(ASSIGNMENTS[name]).QUESTIONS
