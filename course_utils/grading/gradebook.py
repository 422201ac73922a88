"""A student's result, how it is checked, and where it is written: gradebook, summary, feedback, state.

>>> from course_utils.exercises.core import Question, QuestionSet
>>> qs = QuestionSet("demo", "Demo", [Question("q1", "Set x.", ("x",), lambda v, w: None)])
>>> [o.status for o in check_answers(qs, {"x": 4}, Path("."))]
['correct']
>>> check_answers(qs, {"x": None, "_errors": {"x": "`x` contains itself"}}, Path("."))[0].status
'error'
>>> ungradable(qs, "mia", "not a notebook").outcomes[0].status
'error'
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from course_utils.exercises.core import Outcome, QuestionSet
from course_utils.files import RefusedFile, append_text, read_regular, write_atomic
from course_utils.grading.limits import MAX_STATE_BYTES

STATE_VERSION = 1
GRADEBOOK_COLUMNS = ("student", "question", "points", "max_points", "status", "feedback", "needs_review",
                     "submission_status", "submission_reason", "ran_as")
SUMMARY_COLUMNS = ("student", "submission", "status", "points", "max_points", "needs_review", "reason",
                   "ran_as", "seconds", "sha256")
PRIVATE = 0o600  # other students' grades are nobody's business
_MARKS = {"correct": "✓", "incorrect": "✗", "unanswered": "…", "review": "✎", "error": "!"}


@dataclass
class StudentResult:
    student: str
    status: str  # "graded" | "partly graded" | "ungradable"
    reason: str
    outcomes: list[Outcome]
    points: float
    max_points: float
    submission: str = ""
    sha256: str = ""
    ran_as: str = ""
    seconds: float = 0.0
    resumed: bool = False  # True: taken from DIR/state, not run again
    answers: dict | None = None
    fingerprint: str = ""

    @property
    def needs_review(self) -> bool:
        return self.status != "graded" or any(o.needs_review for o in self.outcomes)

    def to_state(self) -> dict:
        return {"version": STATE_VERSION, "student": self.student, "submission": self.submission,
                "sha256": self.sha256, "fingerprint": self.fingerprint, "status": self.status,
                "reason": self.reason, "points": self.points, "max_points": self.max_points,
                "outcomes": [o.to_dict() for o in self.outcomes], "answers": self.answers,
                "ran_as": self.ran_as, "seconds": round(self.seconds, 2),
                "graded_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}

    @classmethod
    def from_state(cls, state: dict) -> "StudentResult":
        return cls(student=state["student"], status=state["status"], reason=state["reason"],
                   outcomes=[Outcome(**o) for o in state["outcomes"]], points=state["points"],
                   max_points=state["max_points"], submission=state.get("submission", ""),
                   sha256=state["sha256"], ran_as=state.get("ran_as", ""), seconds=state.get("seconds", 0.0),
                   resumed=True, answers=state.get("answers"), fingerprint=state.get("fingerprint", ""))


def check_answers(qs: QuestionSet, values: dict, workdir: Path, file_problems: dict | None = None) -> list[Outcome]:
    """Run every question's checker here, on exported values and copied files.

    An answer the kernel could not export (listed under ``values["_errors"]``) makes its
    question an ``error`` for review, with the reason; the other questions are checked as usual.
    """
    errors = values.get("_errors") if isinstance(values.get("_errors"), dict) else {}
    file_problems = file_problems or {}
    outcomes = []
    for q in qs.questions:
        export_error = next((str(errors[v]) for v in q.variables if v in errors), None)
        file_problem = next((file_problems[f] for f in q.files if f in file_problems), None)
        if export_error:
            outcomes.append(Outcome(q.name, "error", 0, q.points,
                                    f"not graded: the answer could not be exported ({export_error[:500]})",
                                    needs_review=True))
            continue
        if file_problem:
            outcomes.append(Outcome(q.name, "incorrect", 0, q.points, file_problem, needs_review=not q.auto))
            continue
        try:
            outcomes.append(q.evaluate({v: values.get(v) for v in q.variables}, workdir))
        except Exception as error:  # a checker bug: the instructor's, not the student's
            outcomes.append(Outcome(q.name, "error", 0, q.points,
                                    f"the check itself failed ({type(error).__name__}: {error}); "
                                    "the instructor will look at it.", needs_review=True))
    return outcomes


def ungradable(qs: QuestionSet, student: str, reason: str, **kwargs) -> StudentResult:
    """A result whose every question is an ``error`` for review, with ``reason``."""
    outcomes = [Outcome(q.name, "error", 0, q.points, "not graded: the submission is ungradable (see its reason)",
                        needs_review=True)
                for q in qs.questions]
    return StudentResult(student, "ungradable", reason, outcomes, 0, qs.max_points, **kwargs)


def fmt(x: float) -> str:
    """Points as the gradebook writes them: ``fmt(5.0) == "5"``."""
    return f"{x:g}"


def feedback_markdown(result: StudentResult, qs: QuestionSet) -> str:
    """The student's feedback page: total, each question's outcome and the reason, in Markdown."""
    lines = [f"# Feedback for {result.student}: {qs.title} ({qs.name})", ""]
    lines.append(f"**Total: {fmt(result.points)} / {fmt(result.max_points)} points** ({result.status})")
    lines.append("")
    if result.status == "ungradable":
        lines += [f"**Your submission could not be graded:** {result.reason}.", "",
                  "Fix this and submit again, or ask the instructor.", ""]
    elif result.status == "partly graded":
        lines += [f"**Partly graded:** {result.reason}", ""]
    elif result.reason:
        lines += [f"**Note:** {result.reason}.", ""]
    if any(o.status == "review" for o in result.outcomes):
        lines += ["Questions marked ✎ are reviewed by the instructor; their points are added later.", ""]
    for o in result.outcomes:
        lines.append(f"## {o.question} {_MARKS[o.status]} {o.status} ({fmt(o.points)}/{fmt(o.max_points)})")
        if o.feedback:
            lines += ["", o.feedback]
        lines.append("")
    return "\n".join(lines)


def _csv_text(columns: Sequence[str], rows: Iterable[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return buffer.getvalue()


def write_gradebook(out: Path, results: Sequence[StudentResult]) -> None:
    """``out/gradebook.csv`` (a row per student and question) and ``out/summary.csv`` (per student)."""
    rows, summary = [], []
    for r in sorted(results, key=lambda r: r.student):
        for o in r.outcomes:
            rows.append({"student": r.student, "question": o.question, "points": fmt(o.points),
                         "max_points": fmt(o.max_points), "status": o.status, "feedback": o.feedback,
                         "needs_review": str(o.needs_review).lower(), "submission_status": r.status,
                         "submission_reason": r.reason, "ran_as": r.ran_as})
        summary.append({"student": r.student, "submission": r.submission, "status": r.status,
                        "points": fmt(r.points), "max_points": fmt(r.max_points),
                        "needs_review": str(r.needs_review).lower(), "reason": r.reason, "ran_as": r.ran_as,
                        "seconds": f"{r.seconds:.1f}", "sha256": r.sha256})
    write_atomic(out / "gradebook.csv", _csv_text(GRADEBOOK_COLUMNS, rows), mode=PRIVATE)
    write_atomic(out / "summary.csv", _csv_text(SUMMARY_COLUMNS, summary), mode=PRIVATE)


def fingerprint(qs: QuestionSet, profile: str, hidden_checks: str | Path | None) -> str:
    """What a resume marker must match: the questions, their points and files, the profile, hidden checks."""
    h = hashlib.sha256(f"v{STATE_VERSION}|{qs.name}|{profile}".encode())
    for q in qs.questions:
        h.update(repr((q.name, q.points, q.variables, q.files, q.auto)).encode())
    if hidden_checks:
        h.update(Path(hidden_checks).read_bytes())
    return h.hexdigest()


def read_json(path: Path) -> dict | None:
    """A JSON object the grader wrote (a state file, grader.json), or None; a planted pipe is not waited on."""
    try:
        value = json.loads(read_regular(path, MAX_STATE_BYTES).decode("utf-8"))
    except (OSError, RefusedFile, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def load_state(path: Path) -> dict | None:
    """The resume marker at ``path`` if it is one of this version's, else None."""
    state = read_json(path)
    return state if state is not None and state.get("version") == STATE_VERSION else None


def log(out: Path, message: str, echo: bool) -> None:
    """A line in ``out/grader.log`` (and on stderr with ``echo``); never waits on a planted pipe."""
    stamp = datetime.now().strftime("%H:%M:%S")
    written = append_text(out / "grader.log", f"{stamp} {message}\n")
    if echo or not written:
        print(message if written else f"{message} (grader.log is not a regular file: not logged there)",
              file=sys.stderr, flush=True)
