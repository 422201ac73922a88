"""Challenge 1 (level 1): fine-tune a classifier to convergence and compare it with a tuned baseline.

The data is the course's by default, or the learner's own: a CSV, or a Hugging Face Hub dataset
in the cpu and gpu profiles, loaded by :func:`course_utils.user_data.load_labelled_dataset`.
The fine-tuned run is read from its log history: lesson 02's full fine-tuning recipe (its
learning rate), evaluated after every epoch, ended by early stopping once validation macro-F1
had stopped improving. Its report is checked against its test predictions. The baseline is
recomputed here from the same data, its ``C`` chosen on the validation split as lesson 02 does;
the paired interval of the difference and the verdict are recomputed from the predictions.

Where the data comes from (``data_source``, the answer that names it):

- ``"bundled"``: the course's data, recomputed here whatever the profile;
- the learner's data, as the grader has it: the grader, which has only the notebook and no
  network, cannot load it, so the notebook's last cell (:func:`save_answers`) saved the run's
  answers and a record (the test labels, the baseline's validation macro-F1 and test predictions
  for each ``C``) in the notebook's outputs; the grader checks on those the questions its own run
  could not answer, each marked for review, with the record in its folder
  (:mod:`course_utils.grading.saved`);
- the learner's data, loaded in this process (the checks a notebook runs): recomputed from it;
- a CSV of that name next to the notebook: read and recomputed from it.

A learner's results on their own data are never compared with references computed on the
course's data.

The challenge promises no winner: whether fine-tuning beats a baseline tuned on validation is
what it measures (with the smoke profile's tiny encoder and 160 training texts, a close call),
and the verdict it checks is the one the paired interval supports, whichever that is.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np

from course_utils import user_data
from course_utils.baselines import C_GRID
from course_utils.exercises import checks
from course_utils.exercises.core import Question, QuestionSet, Wrong
from course_utils.grading.saved import SAVED_FILE

NO_SOLUTION = ("A graded challenge shows no solution: the hints and lessons 02 and 03 have what you "
               "need, and your instructor shares a solution after the deadline.")


def read_labelled_csv(path) -> "pd.DataFrame":  # noqa: F821 (pandas is imported lazily)
    """A CSV with ``text`` and ``label`` columns as ``id, text, label, split`` rows
    (:func:`course_utils.user_data.read_labelled_csv` with those two columns named)."""
    return user_data.read_labelled_csv(path, text_column="text", label_column="label")


class Source(NamedTuple):
    """The data a learner used: the test frame, the candidate training splits, validation, labels.

    From a saved record there are no texts: ``trains`` and ``validation`` are None and ``grid``
    holds the baseline's validation macro-F1 and test predictions for each ``C`` instead.
    """

    test: "pd.DataFrame"  # noqa: F821 (pandas is imported lazily)
    trains: dict | None  # {readable name: (texts, labels)}
    validation: tuple | None  # (texts, labels)
    labels: list
    name: str = user_data.BUNDLED
    grid: dict | None = None  # {C: (validation macro-F1, test predictions)}


def _source(values, workdir) -> Source:
    """The data ``data_source`` names: the course's, loaded here, a CSV next to the notebook, a saved record."""
    source = values["data_source"]
    if source == user_data.BUNDLED:
        from course_utils import data

        return Source(checks.test_frame(), checks.training_splits(), checks.validation_split(), list(data.LABELS))
    if not isinstance(source, str) or not source.strip():
        raise Wrong("data_source should be 'bundled' or the name of your data (DATASET, as the data cell sets it).")
    folder = Path(workdir).resolve()
    if (folder / SAVED_FILE).is_file():  # the grader's own folder, holding the record the run saved
        return _from_record(source, json.loads((folder / SAVED_FILE).read_text(encoding="utf-8")))
    here = user_data.loaded(source)
    if here is not None:  # the notebook's own checks: the very splits it loaded
        return _from_splits(source, here.frames(), here.labels)
    if user_data.is_csv(source):
        for candidate in (folder / source, folder / Path(source).name):
            path = candidate.resolve()
            if path.is_file() and path.is_relative_to(folder):  # never read a file outside the submission
                return _from_csv(source, path)
    raise Wrong(f"the data {source!r} was not found next to the notebook, so this answer cannot be checked here. "
                "Run the notebook from the top (the data cell loads it). For the grader, which has only your "
                "notebook, run its last cell (it saves your run's answers) and hand the notebook in with its outputs.")


def _from_splits(name: str, frames: dict, labels: list, trains: dict | None = None) -> Source:
    def pair(frame):
        return tuple(frame["text"]), tuple(frame["label"])

    return Source(frames["test"].reset_index(drop=True),
                  trains or {f"the training split of {name}": pair(frames["train"])},
                  pair(frames["validation"]), list(labels), name)


def _from_csv(name: str, path: Path) -> Source:
    """A CSV next to the notebook, its training split whole or as the smoke profile caps it."""
    from course_utils.profiles import SIZES

    try:
        frame = user_data.read_labelled_csv(path)
    except ValueError as error:
        raise Wrong(f"{name} cannot be read as the notebook reads it: {error}") from None
    frames = {split: frame[frame["split"] == split] for split in user_data.SPLITS}
    trains = {f"the training split of {path.name}": (tuple(frames["train"]["text"]), tuple(frames["train"]["label"]))}
    cap = SIZES["smoke"].max_train_examples
    capped = user_data.capped(frames["train"], cap, seed=0)
    if len(capped) < len(frames["train"]):
        trains[f"the smoke profile's {cap} training texts of {path.name}"] = (tuple(capped["text"]),
                                                                             tuple(capped["label"]))
    return _from_splits(name, frames, user_data.label_names_of(frame["label"]), trains)


def _damaged(what: str) -> Wrong:
    return Wrong(f"the record your run saved is damaged ({what}): run the notebook again, then its last cell, "
                 "and hand it in with its outputs.")


def _from_record(name: str, record) -> Source:
    """The test labels and baseline scores the learner's run saved (see :func:`run_record`)."""
    import pandas as pd

    if not isinstance(record, dict):
        raise _damaged("not a JSON object")
    if record.get("name") != name:
        raise Wrong(f"the saved record is for the data {record.get('name')!r}, but data_source is {name!r}: run the "
                    "notebook from the top, then its last cell.")
    labels = record.get("labels")
    if not (isinstance(labels, list) and len(labels) >= 2 and all(isinstance(x, str) for x in labels)):
        raise _damaged("its labels")

    def names(ids, what):
        if not (isinstance(ids, list) and ids and all(isinstance(i, int) and 0 <= i < len(labels) for i in ids)):
            raise _damaged(what)
        return [labels[i] for i in ids]

    test_labels = names(record.get("test_labels"), "its test labels")
    test_ids = record.get("test_ids")
    if not (isinstance(test_ids, list) and len(test_ids) == len(test_labels) and len(set(map(str, test_ids)))
            == len(test_ids)):
        raise _damaged("its test ids")
    baseline = record.get("baseline")
    if not isinstance(baseline, dict) or not all(isinstance(baseline.get(k), list) for k in
                                                 ("C", "val_macro_f1", "test_predictions")):
        raise _damaged("its baseline scores")
    if not len(baseline["C"]) == len(baseline["val_macro_f1"]) == len(baseline["test_predictions"]) > 0:
        raise _damaged("its baseline scores")
    grid = {}
    for c, val, predicted in zip(baseline["C"], baseline["val_macro_f1"], baseline["test_predictions"]):
        c, val = checks.number(c, "the saved C", low=1e-12), checks.fraction(val, "a saved validation macro-F1")
        predicted = names(predicted, "its baseline predictions")
        if len(predicted) != len(test_labels):
            raise _damaged("its baseline predictions")
        grid[float(c)] = (float(val), predicted)
    if len(grid) != len(C_GRID) or not all(any(math.isclose(c, g, rel_tol=1e-9) for c in grid) for g in C_GRID):
        raise _damaged("its baseline grid, which is not C_GRID")  # or the checks would take its word for C_GRID
    test = pd.DataFrame({"id": [str(i) for i in test_ids], "label": test_labels})
    return Source(test, None, None, list(labels), name, grid)


def run_record(name: str, splits, labels) -> dict:
    """What the checks need to judge this run's answers without its data, for :func:`save_answers`.

    The test ids and labels, and lesson 02's baseline recomputed on these splits: for each ``C`` of
    ``C_GRID``, its validation macro-F1 and its test predictions (labels are saved as their index in
    ``labels``). The same references the checks compute when they have the data.
    """
    if not hasattr(splits, "keys") or any(s not in splits for s in user_data.SPLITS):
        raise ValueError("splits should be the DatasetDict the data cell loaded, with train, validation and test: "
                         "run the notebook from the top.")
    labels = list(labels)
    frames = user_data.LabelledData(splits, labels, name).frames()
    source = _from_splits(name, frames, labels)
    (train_texts, train_labels), = source.trains.values()
    choice = checks.tfidf_on_validation(train_texts, train_labels, *source.validation)
    index = {label: i for i, label in enumerate(labels)}
    test_texts = tuple(source.test["text"])
    cs = [float(c) for c in choice.table["C"]]
    return {"name": name, "labels": labels, "sizes": {s: len(frames[s]) for s in user_data.SPLITS},
            "test_ids": [str(i) for i in source.test["id"]],
            "test_labels": [index[label] for label in source.test["label"]],
            "baseline": {"C": cs, "val_macro_f1": [float(v) for v in choice.table["val_macro_f1"]],
                         "test_predictions": [[index[p] for p in checks.tfidf_test_predictions(
                             train_texts, train_labels, test_texts, c)] for c in cs]}}


def save_answers(namespace: dict) -> None:
    """Save this run's answers in the notebook for a grader that cannot load its data: ``save_answers(globals())``.

    With the course's data there is nothing to save: the grader re-runs the notebook and checks
    what that run computes. With your own data the grader (offline, with only the notebook) cannot
    load it; this cell's output holds your answers and :func:`run_record`, and travels with the
    notebook when it is saved with its outputs.
    """
    from course_utils.grading.saved import show_saved_run

    source = namespace.get("data_source")
    if source == user_data.BUNDLED:
        print("The course's data: the grader re-runs this notebook and checks what that run computes, "
              "so there is nothing to save here.")
        return
    if not isinstance(source, str):
        raise ValueError("data_source is not set: run the notebook from the top (the data cell sets it), "
                         "then this cell.")
    show_saved_run(QUESTIONS, namespace, run_record(source, namespace.get("splits"), namespace.get("LABELS", [])))


def _predicted(values, source: Source) -> list[str]:
    """The fine-tuned model's test predictions as label names, in the test split's order."""
    ids = list(source.test["id"])
    predicted = checks.labels_by_id(values["predictions"], "predictions", ids=ids, labels=source.labels)
    return [predicted[i] for i in ids]


def _floor(test) -> dict:
    largest = test["label"].value_counts().idxmax()
    return checks.scores(test["label"], [largest] * len(test))


# ----------------------------------------------------------------------------- q1


def check_history(values, workdir):
    curve = checks.run_curve(values["history"], "history")
    model = checks.recipe_of(curve, "full", "history", "fine_tune's default recipe (full fine-tuning's)")
    checks.early_stopped(curve, "history", checks.method_recipes("full")[model].patience,
                         "Train with fine_tune's default recipe (no num_train_epochs)")
    return (f"{curve.epochs_run} epochs, epoch {curve.best_epoch} kept: validation stopped improving and early "
            "stopping ended the run.")


# ----------------------------------------------------------------------------- q2

_CLASS_KEYS = ("precision", "recall", "f1-score", "support")


def report_scores(report, labels, test) -> dict:
    """Check a classification_report dict; return its accuracy and macro-F1."""
    if isinstance(report, dict) and set(report) == {"columns", "rows"}:
        raise Wrong("report is a table, and a table's row names (the classes) are lost on export: give "
                    "the dict itself, classification_report(..., output_dict=True).")
    if not isinstance(report, dict):
        raise Wrong("report should be the dict from classification_report(..., output_dict=True).")
    needed = list(labels) + ["accuracy", "macro avg", "weighted avg"]
    missing = [k for k in needed if k not in report]
    if missing:
        hint = (" Pass the label names (target_names=LABELS), not their ids."
                if all(str(i) in report for i in range(len(labels))) else "")
        raise Wrong(f"report lacks {missing}.{hint}")
    n = len(test)
    for label in labels:
        row = report[label]
        if not isinstance(row, dict) or any(k not in row for k in _CLASS_KEYS):
            raise Wrong(f"report[{label!r}] should hold {list(_CLASS_KEYS)}.")
        p, r, f = (checks.fraction(row[k], f"{label} {k}") for k in _CLASS_KEYS[:3])
        support = int((test["label"] == label).sum())
        if row["support"] != support:
            raise Wrong(f"report gives {label!r} a support of {row['support']}; the test split has {support} "
                        f"{label!r} texts. Score the whole test split.")
        if abs(f - (2 * p * r / (p + r) if p + r else 0.0)) > 1e-3:
            raise Wrong(f"for {label!r}, F1 {f:.3f} does not follow from precision {p:.3f} and recall {r:.3f}.")
    accuracy = checks.fraction(report["accuracy"], "report['accuracy']")
    from_recall = sum(report[label]["recall"] * report[label]["support"] for label in labels) / n
    if abs(accuracy - from_recall) > 1e-3:
        raise Wrong(f"report's accuracy {accuracy:.3f} disagrees with its recalls and supports ({from_recall:.3f}).")
    macro = checks.fraction(report["macro avg"].get("f1-score"), "report['macro avg']['f1-score']")
    if abs(macro - float(np.mean([report[label]["f1-score"] for label in labels]))) > 1e-3:
        raise Wrong("report's macro avg F1 is not the mean of the classes' F1.")
    return {"accuracy": accuracy, "macro_f1": macro}


def check_report(values, workdir):
    source = _source(values, workdir)
    predicted = _predicted(values, source)
    got = report_scores(values["report"], source.labels, source.test)
    want = checks.scores(source.test["label"], predicted)
    if abs(got["macro_f1"] - want["macro_f1"]) > 1e-3 or abs(got["accuracy"] - want["accuracy"]) > 1e-3:
        raise Wrong(f"report gives macro-F1 {got['macro_f1']:.3f} and accuracy {got['accuracy']:.3f}, but "
                    f"predictions score {want['macro_f1']:.3f} and {want['accuracy']:.3f}: make the report from "
                    "the same predictions.")
    floor = _floor(source.test)
    if got["macro_f1"] <= floor["macro_f1"] + 1e-9:
        raise Wrong(f"macro-F1 {got['macro_f1']:.3f} is no better than always answering the largest class "
                    f"({floor['macro_f1']:.3f}): the model learned nothing. Check the training.")
    return f"test macro-F1 {got['macro_f1']:.3f}."


# ----------------------------------------------------------------------------- q3


def _grid_baseline(values, source: Source) -> str:
    """As :func:`checks.validated_tfidf`, on the scores a saved record holds for each ``C``."""
    c = checks.number(values["baseline_c"], "baseline_c", low=1e-12)
    macro = checks.fraction(values["baseline_macro_f1"], "baseline_macro_f1")
    grid = source.grid
    on_grid = [g for g in grid if math.isclose(c, g, rel_tol=1e-9)]
    if not on_grid:
        raise Wrong(f"`baseline_c` is {c:g}; choose it from the values lesson 02 searches, C_GRID = {sorted(grid)}.")
    c = on_grid[0]
    val = {g: score for g, (score, _) in grid.items()}
    best = min(g for g in val if val[g] == max(val.values()))  # a tie goes to the smaller C

    def test_f1(g: float) -> float:
        return checks.scores(source.test["label"], grid[g][1])["macro_f1"]

    if c == best:
        if abs(test_f1(c) - macro) <= 1e-3:
            return f"the training split of {source.name}"
        raise Wrong(f"`baseline_c` = {c:g} is the right choice, but `baseline_macro_f1` is {macro:.3f}: "
                    f"tfidf_model({c:g}) refitted on the training split scores test macro-F1 {test_f1(c):.3f}.")
    checks.wrong_c(c, "baseline_c", tied=val[c] >= val[best], best_on_test=c == max(sorted(grid), key=test_f1))


def check_baseline(values, workdir):
    source = _source(values, workdir)
    if source.grid is not None:
        return f"C chosen on validation; trained on {_grid_baseline(values, source)}."
    which = checks.validated_tfidf(values["baseline_c"], values["baseline_macro_f1"], test=source.test,
                                   trains=source.trains, validation=source.validation, c_name="baseline_c",
                                   f1_name="baseline_macro_f1")
    return f"C chosen on validation; trained on {which}."


# ----------------------------------------------------------------------------- q4

VERDICTS = ("fine-tuned better", "baseline better", "not separated")


def verdict_of(interval) -> str:
    """The verdict an interval of (fine-tuned minus baseline) supports.

    >>> from course_utils.stats import Interval
    >>> verdict_of(Interval(0.01, -0.03, 0.05, 0.95)), verdict_of(Interval(0.08, 0.02, 0.14, 0.95))
    ('not separated', 'fine-tuned better')
    """
    return VERDICTS[0] if interval.low > 0 else VERDICTS[1] if interval.high < 0 else VERDICTS[2]


def _baselines(source: Source, c: float):
    """The baseline's test predictions with this ``C``, for each training split the learner may have used."""
    if source.grid is not None:
        on_grid = [g for g in source.grid if math.isclose(c, g, rel_tol=1e-9)]
        if not on_grid:
            raise Wrong(f"`baseline_c` is {c:g}, not a value of C_GRID: your run saved the baseline's predictions "
                        "for those values only.")
        yield source.grid[on_grid[0]][1]
        return
    texts = tuple(source.test["text"])
    for train_texts, train_labels in source.trains.values():
        yield checks.tfidf_test_predictions(train_texts, train_labels, texts, c)


def check_comparison(values, workdir):
    from course_utils.evaluation import difference_interval

    source = _source(values, workdir)
    predicted = np.array(_predicted(values, source))
    c = checks.number(values["baseline_c"], "baseline_c", low=1e-12)
    estimate = checks.number(values["f1_difference"], "f1_difference", low=-1, high=1)
    ci = values["f1_difference_ci"]
    if not (isinstance(ci, list) and len(ci) == 2):
        raise Wrong("f1_difference_ci should be [low, high], e.g. [interval.low, interval.high].")
    low, high = (checks.number(v, "f1_difference_ci") for v in ci)
    verdict = values["verdict"]
    if verdict not in VERDICTS:
        raise Wrong(f"verdict is {verdict!r}; it should be one of {list(VERDICTS)}.")
    true = source.test["label"].to_numpy()
    wants = []
    for baseline in _baselines(source, c):  # the learner's training split matches
        wants.append(difference_interval(true, [predicted], [np.array(baseline)]))
        if abs(estimate - wants[-1].estimate) <= 1e-3:
            break
    else:
        if any(abs(estimate + w.estimate) <= 1e-3 and abs(w.estimate) > 1e-3 for w in wants):
            raise Wrong("f1_difference has the wrong sign: fine-tuned minus baseline.")
        found = " or ".join(f"{w.estimate:+.4f}" for w in wants)
        raise Wrong(f"f1_difference is {estimate:+.4f}; the fine-tuned model's test macro-F1 minus that of "
                    f"tfidf_model({c:g}) trained on the training split is {found}.")
    want = wants[-1]
    if low > high:
        raise Wrong("f1_difference_ci is [high, low]; give [low, high].")
    if abs(low - want.low) > 1e-3 or abs(high - want.high) > 1e-3:
        raise Wrong(f"difference_interval(y_test, [fine-tuned predictions], [baseline predictions]) with its "
                    f"defaults gives [{want.low:.4f}, {want.high:.4f}]; you have [{low:.4f}, {high:.4f}].")
    if verdict != verdict_of(want):
        raise Wrong(f"the interval [{want.low:+.3f}, {want.high:+.3f}] does not support {verdict!r}: 'fine-tuned "
                    "better' needs it all above zero, 'baseline better' all below, and one that includes zero "
                    "is 'not separated'.")
    return f"{verdict} on this test split."


# ----------------------------------------------------------------------------- q5


def check_conclusion(values, workdir):
    answer = checks.text(values["conclusion"], "conclusion", min_words=25)
    missing = checks.missing_topics(answer, {
        "how sure the comparison is (the interval)": r"interval|separat|uncertain|confiden|noise|\bsure\b|significan",
        "what each model costs": r"cost|time|second|minute|gpu|cpu|cheap|expensive|fast|slow"})
    if missing:
        raise Wrong("conclusion should weigh " + " and ".join(missing) + " too.")
    return "written."


# Raise when a question changes what it asks, its variables or its check: notebooks record the
# version they were made for, and the grader warns about a submission made for another one.
VERSION = 3

QUESTIONS = QuestionSet("challenge1", "Challenge 1 · Fine-tune a classifier and compare it with a tuned baseline", [
    Question(
        "q1", "Fine-tune the course's classifier with lesson 02's full fine-tuning recipe until validation "
              "macro-F1 stops improving; set `history` to the run's log history.",
        ("history",), check_history, points=2,
        hints=("`fine_tune` trains with that recipe when you pass it no training settings, and stops early "
               "on its own.", "`result.history` is the log history: one row per epoch's training loss and one "
               "per validation score.")),
    Question(
        "q2", "Predict the test split with the fine-tuned model: set `predictions` (one label per test text, "
              "in the split's order) and `report`, the classification report of those predictions (a dict, "
              "with the label names).",
        ("predictions", "report", "data_source"), check_report, points=2,
        hints=("`result.trainer.predict(encoded['test'])` gives logits; the predicted label is the largest.",
               "`classification_report(y_true, y_pred, labels=range(len(LABELS)), target_names=LABELS, "
               "output_dict=True, zero_division=0)`.")),
    Question(
        "q3", "Train the lesson's TF-IDF baseline on the same training split, its `C` chosen on the "
              "validation split; set `baseline_c` and `baseline_macro_f1` (test macro-F1).",
        ("baseline_c", "baseline_macro_f1", "data_source"), check_baseline, points=2,
        hints=("Choose `C` as lesson 02 does: the values of C_GRID, each scored on validation, never on test.",
               "`choose_c(tfidf_model, ...)` from course_utils.baselines returns the chosen `.c` and the `.model` "
               "refitted with it.")),
    Question(
        "q4", "Compare the two on the same test texts: set `f1_difference` (fine-tuned minus baseline macro-F1), "
              "`f1_difference_ci` ([low, high], its paired 95 % bootstrap interval from `difference_interval`) "
              f"and `verdict`, one of {list(VERDICTS)}, as the interval says.",
        ("predictions", "baseline_c", "data_source", "f1_difference", "f1_difference_ci", "verdict"),
        check_comparison, points=2,
        hints=("Both models predict the same test texts: pair them, as lesson 02 compares every method with the "
               "baseline.",
               "`difference_interval(y_test, [fine-tuned predictions], [baseline predictions])` with its defaults.",
               "An interval that includes zero does not separate the two.")),
    Question(
        "q5", "In a few sentences (`conclusion`): which would you deploy for this data, and why?",
        ("conclusion",), check_conclusion, points=2, auto=False,
        hints=("Weigh the scores and how sure the comparison is (the interval) against the cost of each model "
               "(training time, hardware).",)),
], version=VERSION, solutions_withheld=NO_SOLUTION)

bind = QUESTIONS.bind
