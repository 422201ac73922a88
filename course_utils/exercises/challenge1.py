"""Challenge 1 (level 1): fine-tune a classifier to convergence and compare it with a tuned baseline.

The data is the bundled domain data by default, or any CSV with ``text`` and ``label`` columns
(:func:`read_labelled_csv` splits it; the notebook and these checks use the same function).
The fine-tuned run is read from its log history: lesson 02's full fine-tuning recipe (its
learning rate), evaluated after every epoch, ended by early stopping once validation macro-F1
had stopped improving. Its report is checked against its test predictions. The baseline is
recomputed here from the same data, its ``C`` chosen on the validation split as lesson 02 does;
the paired interval of the difference and the verdict are recomputed from the predictions.

The challenge promises no winner: whether fine-tuning beats a baseline tuned on validation is
what it measures (with the smoke profile's tiny encoder and 160 training texts, a close call),
and the verdict it checks is the one the paired interval supports, whichever that is.

>>> import pandas as pd, tempfile, os
>>> rows = [{"text": f"text {i}", "label": "ab"[i % 2]} for i in range(40)]
>>> path = os.path.join(tempfile.mkdtemp(), "tiny.csv")
>>> pd.DataFrame(rows).to_csv(path, index=False)
>>> read_labelled_csv(path)["split"].value_counts().to_dict()
{'train': 28, 'test': 8, 'validation': 4}
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from course_utils.exercises import checks
from course_utils.exercises.core import Question, QuestionSet, Wrong

NO_SOLUTION = ("A graded challenge shows no solution: the hints and lessons 02 and 03 have what you "
               "need, and your instructor shares a solution after the deadline.")

TEST_SIZE, VALIDATION_SIZE, SPLIT_SEED = 0.2, 0.1, 0
MIN_PER_LABEL = 10


def read_labelled_csv(path) -> "pd.DataFrame":  # noqa: F821 (pandas is imported lazily)
    """A CSV with ``text`` and ``label`` columns as ``id, text, label, split`` rows.

    Rows without text or label are dropped and labels are read as text. A ``split`` column with
    ``train`` / ``validation`` / ``test`` is kept (a missing validation part is taken from
    train); without one, the rows are split 70 / 10 / 20, stratified by label, with a fixed seed.
    """
    import pandas as pd
    from sklearn.model_selection import train_test_split

    frame = pd.read_csv(path)
    missing = [c for c in ("text", "label") if c not in frame.columns]
    if missing:
        raise ValueError(f"{path} has no column(s) {missing}; its columns are {list(frame.columns)}. "
                         "Rename them to 'text' and 'label'.")
    frame = frame.dropna(subset=["text", "label"])
    frame = frame[frame["text"].astype(str).str.strip() != ""].reset_index(drop=True)
    frame["text"], frame["label"] = frame["text"].astype(str), frame["label"].astype(str)
    if "id" not in frame.columns:
        frame["id"] = [f"row-{i:05d}" for i in range(len(frame))]
    frame["id"] = frame["id"].astype(str)
    small = frame["label"].value_counts()
    small = small[small < MIN_PER_LABEL]
    if len(small):
        raise ValueError(f"Labels with fewer than {MIN_PER_LABEL} rows cannot be split and learned: "
                         f"{small.to_dict()}. Add examples or drop those labels.")
    if "split" in frame.columns:
        frame["split"] = frame["split"].astype(str).str.strip().str.lower()
        unknown = sorted(set(frame["split"]) - {"train", "validation", "test"})
        if unknown or not {"train", "test"} <= set(frame["split"]):
            raise ValueError("The split column must hold 'train' and 'test' (and optionally "
                             f"'validation'); found {sorted(set(frame['split']))}.")
        if "validation" not in set(frame["split"]):
            train = frame[frame["split"] == "train"]
            _, validation = train_test_split(train, test_size=VALIDATION_SIZE, random_state=SPLIT_SEED,
                                             stratify=train["label"])
            frame.loc[validation.index, "split"] = "validation"
        return frame[["id", "text", "label", "split"]]
    rest, test = train_test_split(frame, test_size=TEST_SIZE, random_state=SPLIT_SEED,
                                  stratify=frame["label"])
    train, validation = train_test_split(rest, test_size=VALIDATION_SIZE / (1 - TEST_SIZE),
                                         random_state=SPLIT_SEED, stratify=rest["label"])
    frame["split"] = "train"
    frame.loc[validation.index, "split"] = "validation"
    frame.loc[test.index, "split"] = "test"
    return frame[["id", "text", "label", "split"]]


class Source(NamedTuple):
    """The data a learner used: the test frame, the candidate training splits, validation, labels."""

    test: "pd.DataFrame"  # noqa: F821 (pandas is imported lazily)
    trains: dict  # {readable name: (texts, labels)}
    validation: tuple  # (texts, labels)
    labels: list


def _source(values, workdir) -> Source:
    """The bundled data or the learner's CSV, as named by ``data_source``."""
    source = values["data_source"]
    if source == "bundled":
        from course_utils import data

        return Source(checks.test_frame(), checks.training_splits(), checks.validation_split(), list(data.LABELS))
    if not isinstance(source, str):
        raise Wrong("data_source should be 'bundled' or the CSV's file name.")
    folder = Path(workdir).resolve()
    for candidate in (folder / source, folder / Path(source).name):
        path = candidate.resolve()
        if path.is_file() and path.is_relative_to(folder):  # never read a file outside the submission
            frame = read_labelled_csv(path)
            part = {name: frame[frame["split"] == name] for name in ("train", "validation", "test")}
            return Source(part["test"].reset_index(drop=True),
                          {f"the training split of {path.name}": (tuple(part["train"]["text"]),
                                                                  tuple(part["train"]["label"]))},
                          (tuple(part["validation"]["text"]), tuple(part["validation"]["label"])),
                          sorted(frame["label"].unique()))
    raise Wrong(f"the CSV {source!r} was not found next to the notebook, so this answer cannot be "
                "recomputed: put the CSV in the notebook's folder and set CSV_PATH to its file name. "
                "(The grader has only the course's data: hand in with CSV_PATH = None.)")


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


def check_baseline(values, workdir):
    source = _source(values, workdir)
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
    true, texts = source.test["label"].to_numpy(), tuple(source.test["text"])
    wants = []
    for train_texts, train_labels in source.trains.values():  # the learner's training split matches
        baseline = np.array(checks.tfidf_test_predictions(train_texts, train_labels, texts, c))
        wants.append(difference_interval(true, [predicted], [baseline]))
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
VERSION = 2

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
