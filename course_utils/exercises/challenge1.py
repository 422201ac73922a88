"""Challenge 1 (level 1): fine-tune a classifier for 3 epochs and compare it with a baseline.

The data is the bundled domain data by default, or any CSV with ``text`` and ``label`` columns
(:func:`read_labelled_csv` splits it; the notebook and these checks use the same function).
The baseline is recomputed here from the same data; the fine-tuned model's report is checked
for consistency (its numbers must agree with each other and with the test split's class counts).

>>> import pandas as pd, tempfile, os
>>> rows = [{"text": f"text {i}", "label": "ab"[i % 2]} for i in range(40)]
>>> path = os.path.join(tempfile.mkdtemp(), "tiny.csv")
>>> pd.DataFrame(rows).to_csv(path, index=False)
>>> read_labelled_csv(path)["split"].value_counts().to_dict()
{'train': 28, 'test': 8, 'validation': 4}
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from course_utils.exercises import checks
from course_utils.exercises.core import Question, QuestionSet, Wrong

NO_SOLUTION = ("A graded challenge shows no solution: the hints and lessons 02 and 03 have what you "
               "need, and your instructor shares a solution after the deadline.")

EPOCHS = 3
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


def _source(values, workdir):
    """``(test frame, {name: (train texts, train labels)}, labels)`` for the data the learner used."""
    source = values["data_source"]
    if source == "bundled":
        from course_utils import data

        return checks.test_frame(), checks.training_splits(), list(data.LABELS)
    if not isinstance(source, str):
        raise Wrong("data_source should be 'bundled' or the CSV's file name.")
    folder = Path(workdir).resolve()
    for candidate in (folder / source, folder / Path(source).name):
        path = candidate.resolve()
        if path.is_file() and path.is_relative_to(folder):  # never read a file outside the submission
            frame = read_labelled_csv(path)
            train = frame[frame["split"] == "train"]
            test = frame[frame["split"] == "test"].reset_index(drop=True)
            return (test, {f"the training split of {path.name}": (tuple(train["text"]), tuple(train["label"]))},
                    sorted(frame["label"].unique()))
    raise Wrong(f"the CSV {source!r} was not found next to the notebook, so this answer cannot be "
                "recomputed: put the CSV in the notebook's folder and set CSV_PATH to its file name. "
                "(The grader has only the course's data: hand in with CSV_PATH = None.)")


def _floor(test) -> dict:
    largest = test["label"].value_counts().idxmax()
    return checks.scores(test["label"], [largest] * len(test))


# ----------------------------------------------------------------------------- q1


def check_history(values, workdir):
    history = values["history"]
    if not isinstance(history, list) or not all(isinstance(e, dict) for e in history):
        raise Wrong("history should be the trainer's log history: result.trainer.state.log_history.")
    evals = [e for e in history if "eval_macro_f1" in e]
    if not evals:
        raise Wrong("history has no validation scores (eval_macro_f1): train with fine_tune, which "
                    "evaluates every epoch, and export result.trainer.state.log_history.")
    epochs = sorted(round(checks.number(e.get("epoch"), "epoch")) for e in evals)
    if epochs != list(range(1, EPOCHS + 1)):
        raise Wrong(f"the model was evaluated after epochs {epochs}; the challenge trains for {EPOCHS} epochs "
                    f"(num_train_epochs={EPOCHS}), with a validation score after each.")
    for e in evals:
        checks.fraction(e["eval_macro_f1"], "eval_macro_f1")
    if not any("loss" in e for e in history):
        raise Wrong("history has no training loss: export the whole log history.")
    return None


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
    test, _, labels = _source(values, workdir)
    got = report_scores(values["report"], labels, test)
    floor = _floor(test)
    if got["macro_f1"] <= floor["macro_f1"] + 1e-9:
        raise Wrong(f"macro-F1 {got['macro_f1']:.3f} is no better than always answering the largest class "
                    f"({floor['macro_f1']:.3f}): the model learned nothing. Check the training.")
    return f"test macro-F1 {got['macro_f1']:.3f}."


# ----------------------------------------------------------------------------- q3


def check_baseline(values, workdir):
    given = checks.fraction(values["baseline_macro_f1"], "baseline_macro_f1")
    test, trains, _ = _source(values, workdir)
    found = {}
    for which, (texts, labels) in trains.items():  # computed one at a time: the first usually matches
        found[which] = checks.scores(test["label"], checks.tfidf_predictions(
            texts, labels, tuple(test["text"]), ngram_range=(1, 2)))["macro_f1"]
        if abs(given - found[which]) <= 1e-3:
            return f"trained on {which}."
    expected = "; ".join(f"{v:.3f} on {which}" for which, v in found.items())
    raise Wrong(f"baseline_macro_f1 is {given:.3f}; TF-IDF (sublinear, words and word pairs) + "
                f"LogisticRegression(max_iter=2000), trained on the training split and scored on the test "
                f"split, gives {expected}.")


# ----------------------------------------------------------------------------- q4


def check_comparison(values, workdir):
    report = values["report"]
    baseline = checks.fraction(values["baseline_macro_f1"], "baseline_macro_f1")
    frame = checks.table(values["comparison"], "comparison", ("method", "macro_f1", "accuracy"))
    gain = checks.number(values["f1_gain"], "f1_gain")
    if len(frame) != 2:
        raise Wrong(f"comparison has {len(frame)} rows; it needs two: the fine-tuned model and the baseline.")
    try:
        tuned = report["macro avg"]["f1-score"], report["accuracy"]
    except (TypeError, KeyError):
        raise Wrong("report is not a classification_report dict; fix question q2 first.") from None
    f1s = [checks.fraction(v, "comparison macro_f1") for v in frame["macro_f1"]]
    accs = [checks.fraction(v, "comparison accuracy") for v in frame["accuracy"]]
    tuned_rows = [i for i in range(2) if abs(f1s[i] - tuned[0]) <= 1e-6 and abs(accs[i] - tuned[1]) <= 1e-6]
    if not tuned_rows:
        raise Wrong("no row of comparison has the fine-tuned model's macro-F1 and accuracy from report.")
    other = 1 - tuned_rows[0]
    if abs(f1s[other] - baseline) > 1e-6:
        raise Wrong(f"the baseline's row has macro-F1 {f1s[other]:.3f}, but baseline_macro_f1 is {baseline:.3f}.")
    if abs(gain - (tuned[0] - baseline)) > 1e-6:
        if abs(gain + (tuned[0] - baseline)) <= 1e-6:
            raise Wrong("f1_gain has the wrong sign: fine-tuned minus baseline.")
        raise Wrong(f"f1_gain is {gain:.3f}; fine-tuned minus baseline macro-F1 is {tuned[0] - baseline:.3f}.")
    return None


# ----------------------------------------------------------------------------- q5


def check_conclusion(values, workdir):
    checks.text(values["conclusion"], "conclusion", min_words=25)
    return "written."


# Raise when a question changes what it asks, its variables or its check: notebooks record the
# version they were made for, and the grader warns about a submission made for another one.
VERSION = 1

QUESTIONS = QuestionSet("challenge1", "Challenge 1 · Fine-tune a classifier and beat a baseline", [
    Question(
        "q1", f"Fine-tune the course's classifier for {EPOCHS} epochs; set `history` to the trainer's log history.",
        ("history",), check_history, points=2,
        hints=(f"`fine_tune(cfg, model, tokenizer, encoded, output_dir=..., num_train_epochs={EPOCHS})` "
               "evaluates after every epoch.", "`result.trainer.state.log_history`.")),
    Question(
        "q2", "Set `report` to the classification report of the fine-tuned model on the test split "
              "(a dict, with the label names).",
        ("report", "data_source"), check_report, points=2,
        hints=("`classification_report(y_true, y_pred, labels=range(len(LABELS)), target_names=LABELS, "
               "output_dict=True, zero_division=0)`.",)),
    Question(
        "q3", "Train TF-IDF (words and word pairs) + logistic regression on the same training split; set "
              "`baseline_macro_f1` (test macro-F1).",
        ("baseline_macro_f1", "data_source"), check_baseline, points=2,
        hints=("`make_pipeline(TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2)), "
               "LogisticRegression(max_iter=2000))`.",)),
    Question(
        "q4", "Set `comparison` (a DataFrame: method, macro_f1, accuracy; one row per model) and `f1_gain` "
              "(fine-tuned minus baseline macro-F1).",
        ("report", "baseline_macro_f1", "comparison", "f1_gain"), check_comparison,
        hints=("The fine-tuned row takes its numbers from `report`.",)),
    Question(
        "q5", "In a few sentences (`conclusion`): which would you deploy for this data, and why?",
        ("conclusion",), check_conclusion, points=2, auto=False,
        hints=("Weigh the scores against the cost (training time, hardware) and say how sure the "
               "comparison is with a test split this size.",)),
], version=VERSION, solutions_withheld=NO_SOLUTION)

bind = QUESTIONS.bind
