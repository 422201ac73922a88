"""The instructor's grader: run each submitted notebook in a fresh, limited kernel, check its answers here.

Usage (``course_utils.grade`` is the command; this package is its code)::

    python -m course_utils.grade ASSIGNMENT SUBMISSION... --out DIR [--profile smoke]
        [--cell-timeout S] [--timeout S] [--memory-gb G] [--hidden-checks FILE] [--jobs N]
        [--run-as USER | --same-user]

From Python: ``grade_submissions(assignment, submissions, out, ...)`` returns one
:class:`StudentResult` per submission. docs/grading.md says what it does, in order, what each
kind of submission gets, and what it defends against.

Modules, one concern each:

* ``limits``: the limits and defaults.
* ``errors``: :class:`GraderError`, :class:`PackageAltered` (the two ways grading stops).
* ``loading``: the question set and hidden checks (trusted), the submissions and their
  notebooks (not trusted; nbformat 3 is converted).
* ``integrity``: hashes of the installed ``course_utils``, before and after each run.
* ``processes``: finding and ending a run's processes (psutil), for the grader and the runner.
* ``sandbox``: which user runs submissions; the runner's command line.
* ``runner``: the child process that executes one notebook with nbclient.
* ``execution``: one submission: its folder, the runner, the limits, the verdict.
* ``readback``: reading the answers and working files back without ever waiting.
* ``saved``: answers a learner's own run saved in the notebook, checked (for review) where the
  grader's run cannot answer, e.g. challenge 1 on the learner's own data.
* ``gradebook``: :class:`StudentResult`, checking answers, the CSVs, feedback and state.
* ``batch``: :func:`grade_submissions`, the whole run with resume.
* ``cli``: the command line, :func:`main`.

>>> from course_utils import grading
>>> grading.GRADEBOOK_COLUMNS[:3]
('student', 'question', 'points')
"""

from __future__ import annotations

import importlib

# Imported on first use: the runner imports ``course_utils.grading.processes``, which must not
# pull in nbformat, the exercises and the rest of the grader.
_LAZY = {
    "grade_submissions": "batch", "main": "cli", "build_parser": "cli",
    "GraderError": "errors", "PackageAltered": "errors",
    "StudentResult": "gradebook", "check_answers": "gradebook", "feedback_markdown": "gradebook",
    "write_gradebook": "gradebook", "GRADEBOOK_COLUMNS": "gradebook", "SUMMARY_COLUMNS": "gradebook",
    "load_assignment": "loading", "collect_submissions": "loading",
    "package_snapshot": "integrity", "snapshot_changes": "integrity",
    "choose_sandbox": "sandbox", "kill_run": "processes",
}
__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"course_utils.grading.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'course_utils.grading' has no attribute {name!r}")
