"""The two ways grading stops as a whole; everything else a submission does ends in its own row.

>>> str(PackageAltered("rita", ["course_utils/exercises/core.py"]))[:55]
"grading stopped: course_utils was altered while 'rita' "
"""

from __future__ import annotations

from collections.abc import Sequence


class GraderError(Exception):
    """The grader cannot go on (bad assignment, checks that do not load, an altered package)."""


class PackageAltered(GraderError):
    """A submission changed the installed course_utils (or site-packages' .pth files)."""

    def __init__(self, student: str, changed: Sequence[str]):
        self.student = student
        self.changed = list(changed)
        super().__init__(f"grading stopped: course_utils was altered while {student!r} ran; changed files: "
                         f"{', '.join(self.changed)}. Restore the package (reinstall it or check it out "
                         "again), then run the grader again: it resumes where it stopped.")
