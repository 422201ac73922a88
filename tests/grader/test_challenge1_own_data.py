"""Challenge 1 on the learner's own data, graded offline from what the learner's run saved.

A learner runs the solution notebook in their folder with ``DATASET = "my_data.csv"`` (a CSV the
grader never sees) and hands in the executed notebook; the grader, elsewhere, offline, re-runs it
(the run stops at the data cell) and checks the questions on the answers and the record the
notebook's last cell saved, each marked for review. Without that output nothing is graded, and
the reason says why; a saved run edited by hand is judged by the same checks. A Hub dataset's
record (``datasets.load_dataset`` replaced in memory) is checked the same way, never against
the course's data.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path

import datasets
import nbformat
import pytest
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

import course_utils
from course_utils import data
from course_utils.exercises import challenge1
from course_utils.exercises.core import Outcome
from course_utils.grade import grade_submissions
from course_utils.grading.saved import SAVED_MIME, find_saved_run, replay_unanswered, saved_bundle
from course_utils.user_data import load_labelled_dataset

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = ROOT / "solutions" / "challenge1_classifier.ipynb"
NAMES = {"medical": "health", "finance": "money", "legal": "law"}  # other labels than the course's


def saved_output(nb):
    """The output of the notebook's last cell that holds the saved run."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if SAVED_MIME in output.get("data", {}):
                return output
    return None


@pytest.fixture(scope="module")
def learners_notebook(tmp_path_factory):
    """The solution notebook executed in the learner's folder, next to their CSV, as they would hand it in."""
    from nbclient import NotebookClient

    folder = tmp_path_factory.mktemp("learner")
    frame = data.load_domain_frame()
    rows = frame.groupby("label").head(15).sample(frac=1.0, random_state=1)
    rows.assign(category=rows["label"].map(NAMES)).rename(columns={"text": "review"})[
        ["review", "category"]].to_csv(folder / "my_data.csv", index=False)
    nb = nbformat.read(SOLUTION, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    cell.source += '\nDATASET = "my_data.csv"'
    saved_env = {k: os.environ.get(k) for k in ("COURSE_PROFILE", "HF_HUB_OFFLINE", "COURSE_CACHE_DIR")}
    os.environ.update(COURSE_PROFILE="smoke", HF_HUB_OFFLINE="1", COURSE_CACHE_DIR=str(folder / "cache"))
    try:
        NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    finally:
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    assert saved_output(nb) is not None, "the last cell saved nothing"
    return nb


@pytest.fixture(scope="module")
def graded(learners_notebook, tmp_path_factory):
    """Three hand-ins graded in one call, in a folder without the CSV: as run, outputs cleared, saved run edited."""
    submissions = tmp_path_factory.mktemp("submissions")
    nbformat.write(learners_notebook, submissions / "lea.ipynb")
    cleared = copy.deepcopy(learners_notebook)
    for cell in cleared.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    nbformat.write(cleared, submissions / "max_no_outputs.ipynb")
    edited = copy.deepcopy(learners_notebook)
    answers = saved_output(edited)["data"][SAVED_MIME]["answers"]
    answers["verdict"] = "not separated" if answers["verdict"] != "not separated" else "fine-tuned better"
    nbformat.write(edited, submissions / "ned_edited.ipynb")
    package = tmp_path_factory.mktemp("package") / "course_utils"
    shutil.copytree(Path(course_utils.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("grades")
    results = grade_submissions("challenge1", [submissions], out, cell_timeout=120, total_timeout=300,
                                package_dir=package)
    return {r.student: r for r in results}, out


def test_a_csv_the_grader_cannot_see_is_graded_from_the_saved_run(graded):
    results, out = graded
    lea = results["lea"]
    assert lea.status == "partly graded"
    assert "FileNotFoundError" in lea.reason and "my_data.csv" in lea.reason
    assert "the answers the notebook's own run saved were checked instead" in lea.reason
    statuses = {o.question: o.status for o in lea.outcomes}
    assert statuses == {"q1": "correct", "q2": "correct", "q3": "correct", "q4": "correct", "q5": "review"}
    assert all(o.needs_review and o.feedback.startswith("graded from the answers your own run saved")
               for o in lea.outcomes)
    assert lea.points == 8 and lea.needs_review
    feedback = (out / "feedback" / "lea.md").read_text()
    assert "graded from the answers your own run saved" in feedback
    assert "trained on the training split of my_data.csv" in feedback


def test_without_the_saved_output_nothing_is_graded_and_the_reason_says_why(graded):
    results, _ = graded
    bare = results["max_no_outputs"]
    assert [o.status for o in bare.outcomes] == ["unanswered"] * 5 and bare.points == 0
    assert bare.status == "partly graded" and bare.needs_review
    assert "was not found" in bare.reason and "last cell saved" in bare.reason


def test_a_saved_run_edited_by_hand_is_judged_by_the_same_checks(graded):
    results, _ = graded
    ned = {o.question: o for o in results["ned_edited"].outcomes}
    assert ned["q4"].status == "incorrect" and "does not support" in ned["q4"].feedback and ned["q4"].needs_review
    assert ned["q3"].status == "correct" and results["ned_edited"].points == 6


# ----------------------------------------------------------------------------- a Hub dataset's record, no network


@pytest.fixture
def hub_data(monkeypatch):
    """A two-class Hub dataset with only train and test splits, served from memory, loaded in the cpu profile."""
    for flag in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "COURSE_PROFILE"):
        monkeypatch.delenv(flag, raising=False)
    features = Features({"sentence": Value("string"), "label": ClassLabel(names=["neg", "pos"])})

    def split(n, offset):
        words = ("dull slow boring awful", "bright moving funny superb")
        labels = [i % 2 for i in range(n)]
        return Dataset.from_dict({"sentence": [f"{words[y]} film {offset + i} {words[y].split()[i % 4]}"
                                               for i, y in enumerate(labels)], "label": labels}, features=features)

    served = DatasetDict({"train": split(80, 0), "test": split(30, 1000)})
    monkeypatch.setattr(datasets, "load_dataset", lambda name, config=None, **kwargs: served)
    return load_labelled_dataset("someone/reviews", profile="cpu")


def hub_answers(mine, record, *, shift_c: bool = False) -> dict:
    """What a learner's honest run on ``mine`` exports: a fine-tuned model right on all but two test texts."""
    from course_utils.evaluation import classification_metrics, difference_interval
    from sklearn.metrics import classification_report

    test = mine.frames()["test"]
    truth = list(test["label"])
    predicted = [("neg" if y == "pos" else "pos") if i < 2 else y for i, y in enumerate(truth)]
    grid = record["baseline"]
    best = max(range(len(grid["C"])), key=lambda i: (grid["val_macro_f1"][i], -i))
    pick = (best + 1) % len(grid["C"]) if shift_c else best
    baseline = [mine.labels[i] for i in grid["test_predictions"][pick]]
    difference = difference_interval(truth, [predicted], [baseline])
    verdict = challenge1.verdict_of(difference)
    history = [{"loss": 1.0, "learning_rate": 3e-4, "epoch": 1.0}, {"eval_macro_f1": 0.6, "epoch": 1.0}]
    for epoch in range(2, 6):
        history += [{"loss": 0.5, "learning_rate": 2e-4, "epoch": float(epoch)},
                    {"eval_macro_f1": 0.9 if epoch == 2 else 0.8, "epoch": float(epoch)}]
    return {"history": history, "data_source": mine.source, "predictions": [mine.labels.index(p) for p in predicted],
            "report": classification_report(truth, predicted, labels=mine.labels, output_dict=True, zero_division=0),
            "baseline_c": grid["C"][pick],
            "baseline_macro_f1": classification_metrics(truth, baseline)["macro_f1"],
            "f1_difference": difference.estimate, "f1_difference_ci": [difference.low, difference.high],
            "verdict": verdict, "conclusion": None}


def replayed(answers: dict, record: dict, folder: Path) -> dict:
    qs = challenge1.QUESTIONS
    folder.mkdir()
    unanswered = [Outcome(q.name, "unanswered", 0, q.points, "not answered yet") for q in qs.questions]
    outcomes, names = replay_unanswered(qs, unanswered, {"answers": answers, "record": record}, folder)
    assert names == [q.name for q in qs.questions if q.name != "q5"]  # q5 has no saved answer: left as it was
    return {o.question: o for o in outcomes}


def test_a_hub_datasets_record_is_checked_offline_never_against_the_course_data(hub_data, tmp_path):
    record = challenge1.run_record(hub_data.source, hub_data.splits, hub_data.labels)
    assert record["labels"] == ["neg", "pos"] and record["sizes"] == {"train": 72, "validation": 8, "test": 30}
    json.dumps(record, allow_nan=False)  # what the notebook saves is plain JSON
    right = replayed(hub_answers(hub_data, record), record, tmp_path / "right")
    assert {q: o.status for q, o in right.items()} == {"q1": "correct", "q2": "correct", "q3": "correct",
                                                       "q4": "correct", "q5": "unanswered"}
    assert "trained on the training split of someone/reviews" in right["q3"].feedback
    assert all(o.needs_review for name, o in right.items() if name != "q5")
    wrong = replayed(hub_answers(hub_data, record, shift_c=True), record, tmp_path / "wrong")
    assert wrong["q3"].status == "incorrect" and "validation" in wrong["q3"].feedback


def test_a_damaged_or_foreign_record_is_refused(hub_data, tmp_path):
    record = challenge1.run_record(hub_data.source, hub_data.splits, hub_data.labels)
    answers = hub_answers(hub_data, record)
    other = replayed(answers, {**record, "name": "imdb"}, tmp_path / "other")
    assert other["q2"].status == "incorrect" and "saved record is for the data 'imdb'" in other["q2"].feedback
    broken = replayed(answers, {**record, "test_labels": [7] * len(record["test_labels"])}, tmp_path / "broken")
    assert broken["q2"].status == "incorrect" and "damaged (its test labels)" in broken["q2"].feedback
    one_c = {**record["baseline"], **{k: record["baseline"][k][:1] for k in ("C", "val_macro_f1", "test_predictions")}}
    shrunk = replayed(answers, {**record, "baseline": one_c}, tmp_path / "shrunk")  # C_GRID is the course's, not the record's
    assert shrunk["q3"].status == "incorrect" and "its baseline grid" in shrunk["q3"].feedback


def test_the_grader_reads_only_a_saved_run_of_its_own_assignment():
    qs = challenge1.QUESTIONS
    cell = nbformat.v4.new_code_cell("save()", outputs=[nbformat.v4.new_output("display_data", saved_bundle(
        qs, {"verdict": "not separated"}, None))])
    nb = nbformat.v4.new_notebook(cells=[cell])
    saved, note = find_saved_run(nb, qs)
    assert saved == {"answers": {"verdict": "not separated"}, "record": None} and note == ""
    cell.outputs[0]["data"][SAVED_MIME]["assignment"] = "challenge2"
    assert find_saved_run(nb, qs) == (None, "the run saved in the notebook is for 'challenge2', not challenge1, "
                                            "and was not used")
    with pytest.raises(ValueError, match="the grader reads at most"):
        saved_bundle(qs, {"predictions": list(range(2_000_000))}, None)
