"""The instructor's grader, ``python -m course_utils.grade``; the code is in :mod:`course_utils.grading`.

Usage::

    python -m course_utils.grade ASSIGNMENT SUBMISSION... --out DIR [--profile smoke]
        [--cell-timeout S] [--timeout S] [--memory-gb G] [--hidden-checks FILE] [--jobs N]
        [--run-as USER | --same-user]

From Python: ``from course_utils.grade import grade_submissions``. See docs/grading.md.

>>> from course_utils import grade
>>> grade.grade_submissions is grade.grading.batch.grade_submissions
True
"""

from __future__ import annotations

import sys

from course_utils import grading
from course_utils.files import write_atomic
from course_utils.grading.batch import grade_submissions
from course_utils.grading.cli import build_parser, main
from course_utils.grading.errors import GraderError, PackageAltered
from course_utils.grading.gradebook import (GRADEBOOK_COLUMNS, SUMMARY_COLUMNS, StudentResult, check_answers,
                                            feedback_markdown, write_gradebook)
from course_utils.grading.integrity import package_snapshot, snapshot_changes
from course_utils.grading.limits import (DEFAULT_CELL_TIMEOUT, DEFAULT_MEMORY_GB, DEFAULT_OUTPUT_LIMIT,
                                         DEFAULT_PROFILE, DEFAULT_TOTAL_TIMEOUT, MAX_NOTEBOOK_BYTES)
from course_utils.grading.loading import collect_submissions, load_assignment, safe_id
from course_utils.grading.processes import kill_run
from course_utils.grading.readback import read_answers
from course_utils.grading.sandbox import choose_sandbox

__all__ = ["DEFAULT_CELL_TIMEOUT", "DEFAULT_MEMORY_GB", "DEFAULT_OUTPUT_LIMIT", "DEFAULT_PROFILE",
           "DEFAULT_TOTAL_TIMEOUT", "GRADEBOOK_COLUMNS", "MAX_NOTEBOOK_BYTES", "SUMMARY_COLUMNS", "GraderError",
           "PackageAltered", "StudentResult", "build_parser", "check_answers", "choose_sandbox",
           "collect_submissions", "feedback_markdown", "grade_submissions", "grading", "kill_run",
           "load_assignment", "main", "package_snapshot", "read_answers", "safe_id", "snapshot_changes",
           "write_atomic", "write_gradebook"]

if __name__ == "__main__":
    sys.exit(main())
