"""Answers a learner's own run saved in the notebook, for the questions the grader's run cannot answer.

The grader re-runs every submission offline and checks what that run computes. Some work cannot
be re-run there: challenge 1 on the learner's own data (a CSV the grader does not have, a Hub
dataset it cannot download). Such a notebook ends with a cell that saves, as one output of the
notebook itself (MIME type :data:`SAVED_MIME`), the run's answers and a *record*: what the
checks need to judge them without the data (test labels, the baseline's scores...). The notebook
travels with its outputs, so the record does too.

The grader reads the saved run from the submitted notebook before it clears the outputs, re-runs
the notebook as usual, and checks every question that run answered as usual. A question the run
left unanswered (the data could not be loaded) is checked on the saved answers instead, with the
record written to :data:`SAVED_FILE` in a folder of the grader's own, and is always marked for
review: the grader reproduced none of it. The record is the learner's claim, like any answer
(docs/grading.md, "Hard-coded answers"): the checks judge its consistency, not its truth.

>>> import nbformat
>>> from course_utils.exercises.core import Question, QuestionSet
>>> qs = QuestionSet("demo", "Demo", [Question("q1", "Set x.", ("x",), lambda v, w: None)], version=2)
>>> bundle = saved_bundle(qs, {"x": 4}, {"n_test": 3})
>>> cell = nbformat.v4.new_code_cell("save()", outputs=[nbformat.v4.new_output("display_data", bundle)])
>>> saved, note = find_saved_run(nbformat.v4.new_notebook(cells=[cell]), qs)
>>> saved["answers"], saved["record"], note
({'x': 4}, {'n_test': 3}, '')
"""

from __future__ import annotations

import json
from pathlib import Path

from course_utils.exercises.core import MAX_EXPORT_BYTES, Outcome, QuestionSet

SAVED_MIME = "application/vnd.course-utils.saved-run+json"
SAVED_FILE = "saved_run_record.json"  # the record, in the grader's folder for the replayed checks
REPLAY_NOTE = ("graded from the answers your own run saved in the notebook, not from the grader's run (which could "
               "not answer it, see the reason); checked for consistency, not reproduced: for the instructor's "
               "review.")


def saved_bundle(qs: QuestionSet, answers: dict, record: dict | None) -> dict:
    """The output a notebook displays to save its run: ``{SAVED_MIME: ..., "text/plain": a summary}``.

    ``answers`` is the JSON object of the set's variables (as :func:`course_utils.jsonable.answers_json`
    writes it); ``record`` what the checks need besides them. Raises ValueError when the whole is
    larger than the grader reads.
    """
    saved = {"assignment": qs.name, "version": qs.version, "answers": answers, "record": record}
    size = len(json.dumps(saved, allow_nan=False))
    if size > MAX_EXPORT_BYTES:
        raise ValueError(f"The saved run is {size:,} bytes; the grader reads at most {MAX_EXPORT_BYTES:,}. "
                         "Cap the test split (max_test=) so that fewer predictions are saved.")
    answered = [q.name for q in qs.questions if all(answers.get(v) is not None for v in q.variables)]
    summary = (f"Saved in this notebook: this run's answers to {', '.join(answered) or 'no question yet'} "
               f"of {qs.name}" + (" and what the checks need to judge them" if record else "")
               + f" ({size:,} bytes). Save the notebook with its outputs and hand it in.")
    return {SAVED_MIME: saved, "text/plain": summary}


def show_saved_run(qs: QuestionSet, namespace: dict, record: dict | None) -> None:
    """Display the saved run of ``namespace``'s answers in the notebook (the cell's output is the save)."""
    from IPython.display import display

    from course_utils.jsonable import answers_json

    answers = json.loads(answers_json(namespace, qs.variables))
    display(saved_bundle(qs, answers, record), raw=True)


def find_saved_run(nb, qs: QuestionSet) -> tuple[dict | None, str]:
    """The last run the submitted notebook saved for ``qs`` (``{"answers", "record"}``), or None; and a note.

    The note says why a saved run was found but not used (another assignment, too large, damaged).
    """
    found = None
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        for output in cell.get("outputs", []) or []:
            data = output.get("data") if isinstance(output, dict) else None
            if isinstance(data, dict) and SAVED_MIME in data:
                found = data[SAVED_MIME]
    if found is None:
        return None, ""
    try:
        if isinstance(found, str):  # a front end that stored the JSON as text
            found = json.loads(found, parse_constant=_no_constants)
        size = len(json.dumps(found, allow_nan=False))
    except (ValueError, TypeError, RecursionError):
        return None, "the run saved in the notebook is not valid JSON and was not used"
    if size > MAX_EXPORT_BYTES:
        return None, f"the run saved in the notebook is larger than {MAX_EXPORT_BYTES:,} bytes and was not used"
    if not isinstance(found, dict) or not isinstance(found.get("answers"), dict):
        return None, "the run saved in the notebook has no answers and was not used"
    if found.get("assignment") != qs.name:
        return None, (f"the run saved in the notebook is for {found.get('assignment')!r}, not {qs.name}, and was "
                      "not used")
    record = found.get("record")
    return {"answers": found["answers"], "record": record if isinstance(record, dict) else None}, ""


def _no_constants(name: str):
    raise ValueError(f"{name} is not allowed in a saved run")


def replay_unanswered(qs: QuestionSet, outcomes: list[Outcome], saved: dict, folder: Path) -> tuple[list[Outcome],
                                                                                                     list[str]]:
    """Check on the saved answers each question the grader's run left unanswered; ``(outcomes, replayed names)``.

    ``folder`` is a fresh folder of the grader's: the record is written there as :data:`SAVED_FILE`
    and the replayed checks read it. A question that reads working files is never replayed (the
    files did not travel), nor one the saved run did not answer in full either. Replayed outcomes keep
    their points and are marked for review, with :data:`REPLAY_NOTE`.
    """
    folder = Path(folder)
    if saved.get("record") is not None:
        (folder / SAVED_FILE).write_text(json.dumps(saved["record"], allow_nan=False), encoding="utf-8")
    answers = saved["answers"]
    out, replayed = [], []
    for question, outcome in zip(qs.questions, outcomes):
        values = {v: answers.get(v) for v in question.variables}
        if outcome.status != "unanswered" or question.files or any(v is None for v in values.values()):
            out.append(outcome)
            continue
        try:
            result = question.evaluate(values, folder)
        except Exception as error:  # a checker bug: the instructor's, not the student's
            result = Outcome(question.name, "error", 0, question.points,
                             f"the check itself failed ({type(error).__name__}: {error}).")
        result.needs_review = True
        result.feedback = f"{REPLAY_NOTE} {result.feedback}".strip()
        out.append(result)
        replayed.append(question.name)
    return out, replayed
