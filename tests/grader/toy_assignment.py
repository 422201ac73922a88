"""A toy assignment for the grader's tests: three auto questions (one reads a file) and one for review.

Loaded as ``tests.grader.toy_assignment:QUESTIONS`` from the repository root, or by path.
"""

from course_utils.exercises.core import Question, QuestionSet, Wrong


def check_total(values, workdir):
    if values["total"] != 4:
        raise Wrong(f"total is {values['total']!r}; 2 + 2 is 4.")


def check_squares(values, workdir):
    if values["squares"] != [1, 4, 9]:
        raise Wrong(f"squares is {values['squares']!r}; the first three squares are 1, 4 and 9.")


def check_predictions(values, workdir):
    lines = (workdir / "predictions.csv").read_text().splitlines()
    if not lines or lines[0].strip() != "label":
        raise Wrong("predictions.csv needs a header line `label`.")
    labels = [line.strip() for line in lines[1:]]
    if values["n_rows"] != len(labels):
        raise Wrong(f"n_rows is {values['n_rows']!r} but predictions.csv has {len(labels)} rows.")
    if labels != ["pos", "neg", "pos"]:
        raise Wrong(f"the labels are {labels}; expected pos, neg, pos.")


def check_reason(values, workdir):
    if not isinstance(values["reason"], str) or len(values["reason"].split()) < 5:
        raise Wrong("give your reason in a sentence of at least five words.")


QUESTIONS = QuestionSet("toy", "Toy assignment", [
    Question("q1", "What is 2 + 2? Set `total`.", ("total",), check_total),
    Question("q2", "Set `squares` to the first three squares.", ("squares",), check_squares, points=2),
    Question("q3", "Write predictions.csv (header `label`, then pos, neg, pos); set `n_rows`.", ("n_rows",),
             check_predictions, files=("predictions.csv",), points=2),
    Question("q4", "Why does the validation set matter? Set `reason`.", ("reason",), check_reason,
             points=3, auto=False),
])
