"""Instructor-only checks for the toy assignment (students never see this file)."""

from course_utils.exercises.core import Question, Wrong


def check_int(values, workdir):
    if not isinstance(values["total"], int):
        raise Wrong(f"total should be an integer, not {type(values['total']).__name__}.")


def check_file_ends_with_newline(values, workdir):
    if not (workdir / "predictions.csv").read_text().endswith("\n"):
        raise Wrong("predictions.csv should end with a newline.")


HIDDEN = [
    Question("h1", "(hidden) `total` is an integer.", ("total",), check_int),
    Question("h2", "(hidden) predictions.csv ends with a newline.", ("n_rows",), check_file_ends_with_newline,
             files=("predictions.csv",)),
]
