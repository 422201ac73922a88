"""Exercise 03: take the fine-tuned classifier's test predictions apart (lesson 03).

The predictions come from training, so they are checked for shape and sanity (every test id
once, a label each, better than always answering the largest class); everything computed from
them is recomputed here from the exported predictions and the bundled true labels and hard flags.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from course_utils.exercises import checks
from course_utils.exercises.core import Question, QuestionSet, Wrong


def _labels() -> list[str]:
    from course_utils import data

    return list(data.LABELS)


def _predicted(values) -> dict[str, str]:
    return checks.labels_by_id(values["predicted_labels"], "predicted_labels")


def _correct(predicted: dict[str, str]):
    """True labels, and whether each test text (in id order) was predicted right."""
    test = checks.test_frame()
    return test, np.array([predicted[i] == t for i, t in zip(test["id"], test["label"])])


# ----------------------------------------------------------------------------- q1


def check_errors(values, workdir):
    from course_utils.exercises.ex02 import majority_floor

    predicted = _predicted(values)
    wrong = checks.id_list(values["wrong_ids"], "wrong_ids")
    test, correct = _correct(predicted)
    accuracy = correct.mean()
    if accuracy <= majority_floor()["accuracy"]:
        raise Wrong(f"these predictions are right on {accuracy:.1%} of the test split, no better than "
                    "always answering 'medical': export the fine-tuned model's predictions.")
    expected = test.loc[~correct, "id"].tolist()
    if sorted(wrong) == sorted(test.loc[correct, "id"]):
        raise Wrong("wrong_ids lists the texts the model got right; list those it got wrong.")
    checks.compare_ids(wrong, expected, "wrong_ids")
    return f"{len(expected)} errors out of {len(test)}."


# ----------------------------------------------------------------------------- q2


def check_confusion(values, workdir):
    labels = _labels()
    rows = np.array(checks.matrix(values["confusion"], "confusion", len(labels)))
    accuracy = checks.fraction(values["accuracy"], "accuracy")
    test = checks.test_frame()
    support = np.array([(test["label"] == label).sum() for label in labels])
    if rows.sum() != len(test):
        raise Wrong(f"the counts in confusion add up to {rows.sum():g}; the test split has {len(test)} "
                    "texts (use counts, not the row-normalised matrix).")
    if not np.array_equal(rows.sum(axis=1), support):
        if np.array_equal(rows.sum(axis=0), support):
            raise Wrong("rows and columns are swapped: rows are the true class, columns the prediction "
                        "(confusion_matrix(true, predicted)).")
        raise Wrong(f"the rows of confusion add up to {rows.sum(axis=1).astype(int).tolist()}; each row is a "
                    f"true class, so they must be the class counts {support.tolist()} in the order {labels}.")
    diagonal = np.trace(rows) / len(test)
    if abs(accuracy - diagonal) > 1e-3:
        raise Wrong(f"accuracy is {accuracy:.3f}, but the diagonal of your matrix holds "
                    f"{np.trace(rows):g} of {len(test)} texts ({diagonal:.3f}).")
    return None


# ----------------------------------------------------------------------------- q3


def check_weakest(values, workdir):
    labels = _labels()
    rows = np.array(checks.matrix(values["confusion"], "confusion", len(labels)))
    weakest = values["weakest_class"]
    recall_given = checks.fraction(values["weakest_recall"], "weakest_recall")
    if weakest not in labels:
        raise Wrong(f"weakest_class is {weakest!r}; it should be one of {labels}.")
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.diag(rows) / rows.sum(axis=1)
        precision = np.diag(rows) / rows.sum(axis=0)
    lowest = [labels[i] for i in np.flatnonzero(np.isclose(recall, np.nanmin(recall)))]
    i = labels.index(weakest)
    if weakest not in lowest:
        if weakest in [labels[j] for j in np.flatnonzero(np.isclose(precision, np.nanmin(precision)))]:
            raise Wrong(f"{weakest!r} has the lowest precision; the question asks for the lowest recall "
                        "(of the texts of a class, the share found).")
        raise Wrong(f"by your confusion matrix the lowest recall is {lowest[0]!r} "
                    f"({np.nanmin(recall):.3f}), not {weakest!r}.")
    if abs(recall_given - recall[i]) > 1e-3:
        if abs(recall_given - precision[i]) <= 1e-3:
            raise Wrong("weakest_recall is that class's precision; recall divides by the row (the texts "
                        "truly of that class).")
        raise Wrong(f"weakest_recall is {recall_given:.3f}; by your confusion matrix {weakest!r} has "
                    f"recall {recall[i]:.3f}.")
    return None


# ----------------------------------------------------------------------------- q4


GAP_TOLERANCE = 0.04  # bootstrap bounds from another seed or resample count differ by about 0.01


def _hard_gap(predicted: dict[str, str]) -> dict:
    """The lesson's evidence: accuracy on hard minus other texts, with its bootstrap interval."""
    from course_utils.advice import accuracy_difference

    test, correct = _correct(predicted)
    return accuracy_difference(correct, test["hard"].to_numpy(dtype=bool))


def check_hard(values, workdir):
    predicted = _predicted(values)
    acc_hard = checks.fraction(values["acc_hard"], "acc_hard")
    acc_other = checks.fraction(values["acc_other"], "acc_other")
    test, correct = _correct(predicted)
    hard = test["hard"].to_numpy(dtype=bool)
    want_hard, want_other = correct[hard].mean(), correct[~hard].mean()
    if not (abs(acc_hard - want_hard) <= 1e-3 and abs(acc_other - want_other) <= 1e-3):
        if abs(acc_hard - want_other) <= 1e-3 and abs(acc_other - want_hard) <= 1e-3:
            raise Wrong("your two accuracies are swapped: acc_hard is for the texts with hard == True.")
        if abs(acc_other - correct.mean()) <= 1e-3:
            raise Wrong("acc_other is the accuracy on the whole test split; compute it on the texts that "
                        "are not hard cases.")
        raise Wrong(f"with your predictions, the {hard.sum()} hard test texts score {want_hard:.3f} and the "
                    f"{(~hard).sum()} others {want_other:.3f}; you have {acc_hard:.3f} and {acc_other:.3f}.")
    low = checks.number(values["hard_gap_low"], "hard_gap_low", low=-1, high=1)
    high = checks.number(values["hard_gap_high"], "hard_gap_high", low=-1, high=1)
    decision = values["add_cross_domain"]
    if not isinstance(decision, bool):
        raise Wrong("add_cross_domain should be True or False.")
    difference = acc_hard - acc_other
    if not low <= difference <= high:
        if low <= -difference <= high:
            raise Wrong("your interval is for acc_other - acc_hard; the question asks for acc_hard - acc_other.")
        raise Wrong(f"the interval {low:.3f} to {high:.3f} does not contain the difference itself "
                    f"({difference:.3f}).")
    ours = _hard_gap(predicted)
    if abs(low - ours["low"]) > GAP_TOLERANCE or abs(high - ours["high"]) > GAP_TOLERANCE:
        raise Wrong(f"a 95 % bootstrap interval of the difference runs from about {ours['low']:.3f} to "
                    f"{ours['high']:.3f}; yours, {low:.3f} to {high:.3f}, is far from it. Resample all the test "
                    "texts, compute both accuracies in each resample and take the 2.5th and 97.5th percentiles "
                    "of their difference.")
    if decision != (high < 0):
        if decision:
            raise Wrong(f"your interval ({low:.3f} to {high:.3f}) does not lie below zero: this test set does "
                        "not show the hard cases to be harder, so nothing calls for cross-domain examples.")
        raise Wrong(f"your interval ({low:.3f} to {high:.3f}) lies below zero: the hard cases are harder, "
                    "which is what cross-domain training examples would address.")
    return None


# ----------------------------------------------------------------------------- q5

N_BINS = 10


def check_calibration(values, workdir):
    from course_utils.evaluation import expected_calibration_error

    predicted = _predicted(values)
    ece = checks.fraction(values["ece"], "ece")
    confidence = values["confidence"]
    test, correct = _correct(predicted)
    if isinstance(confidence, list) and len(confidence) == len(test):
        confidence = dict(zip(test["id"], confidence))
    if not isinstance(confidence, dict):
        raise Wrong("confidence should map each test id to the model's confidence, e.g. "
                    "dict(zip(predictions['id'], predictions['confidence'])).")
    checks.compare_ids(list(confidence), test["id"].tolist(), "confidence")
    conf = np.array([checks.fraction(confidence[i], "confidence") for i in test["id"]])
    if (conf < 1 / 3 - 1e-9).any():
        raise Wrong("some confidences are below 1/3, which the largest of three probabilities cannot be: "
                    "use the probability of the predicted class (predictions['confidence']).")
    want = expected_calibration_error(conf, correct, n_bins=N_BINS)
    if abs(ece - want) <= 1e-3:
        return None
    for bins in (5, 15, 20):
        if abs(ece - expected_calibration_error(conf, correct, n_bins=bins)) <= 1e-6:
            raise Wrong(f"that is the calibration error over {bins} bins; the question uses {N_BINS}.")
    raise Wrong(f"from your confidences and predictions the expected calibration error over {N_BINS} "
                f"bins is {want:.3f}; you have {ece:.3f}.")


# ----------------------------------------------------------------------------- q6


@lru_cache(maxsize=None)
def _baseline_wrong(which: str) -> tuple:
    """Test ids the lesson's TF-IDF baseline gets wrong (words and word pairs, ``C`` chosen on the
    validation split, as lesson 02 does), trained on ``which``."""
    from course_utils import data
    from course_utils.baselines import choose_c, tfidf_model

    test = checks.test_frame()
    texts, labels = checks.training_splits()[which]
    validation = data.load_domain_splits()["validation"]
    model = choose_c(tfidf_model, list(texts), list(labels), validation["text"],
                     [data.LABELS[i] for i in validation["label"]]).model
    return tuple(sorted(test.loc[model.predict(test["text"]) != test["label"].to_numpy(), "id"]))


def check_shared(values, workdir):
    predicted = _predicted(values)
    baseline = checks.id_list(values["baseline_wrong_ids"], "baseline_wrong_ids")
    shared = checks.id_list(values["shared_wrong_ids"], "shared_wrong_ids")
    expected_shared = checks.number(values["expected_shared"], "expected_shared", low=0)
    test, correct = _correct(predicted)
    model_wrong = set(test.loc[~correct, "id"])
    matched = [which for which in checks.training_splits() if tuple(sorted(baseline)) == _baseline_wrong(which)]
    if not matched:
        counts = ", ".join(f"{len(_baseline_wrong(which))} trained on {which}" for which in checks.training_splits())
        raise Wrong(f"baseline_wrong_ids has {len(baseline)} ids; the lesson's baseline (TF-IDF on words and "
                    f"word pairs, C chosen on validation with choose_c, trained on splits['train']) gets this "
                    f"many test texts wrong: {counts}.")
    expected = sorted(model_wrong & set(baseline))
    if sorted(shared) == sorted(model_wrong | set(baseline)):
        raise Wrong("shared_wrong_ids lists the texts wrong for either model; keep those wrong for both.")
    checks.compare_ids(shared, expected, "shared_wrong_ids")
    chance = len(model_wrong) * len(baseline) / len(test)
    if abs(expected_shared - chance) > 1e-3:
        if abs(expected_shared - len(expected)) <= 1e-3:
            raise Wrong("expected_shared is the number of shared errors itself; it should be what independent "
                        "errors would share: (errors of one) x (errors of the other) / (test texts).")
        raise Wrong(f"independent errors would share {len(model_wrong)} x {len(baseline)} / {len(test)} = "
                    f"{chance:.2f} texts; you have {expected_shared:.4g}.")
    return f"{len(expected)} errors shared; independent errors would share {chance:.1f}."


# Raise when a question changes what it asks, its variables or its check: notebooks record the
# version they were made for, and the grader warns about a submission made for another one.
VERSION = 2

QUESTIONS = QuestionSet("ex03", "Exercise 03 · Reading a classifier's mistakes", [
    Question(
        "q1", "Set `predicted_labels` (test id -> predicted label name) and `wrong_ids` (the ids the "
              "model got wrong).",
        ("predicted_labels", "wrong_ids"), check_errors,
        hints=("`predictions` has one row per test text with `id`, `predicted` and `correct`.",)),
    Question(
        "q2", "Set `confusion` (a DataFrame of counts, rows = true class, columns = predicted, in LABELS "
              "order) and `accuracy` computed from it.",
        ("confusion", "accuracy"), check_confusion,
        hints=("`confusion_matrix(true, predicted, labels=LABELS)` from scikit-learn.",
               "Accuracy is the diagonal's total over all texts: `np.trace(m) / m.sum()`.")),
    Question(
        "q3", "From `confusion`, which class has the lowest recall, and what is it? Set `weakest_class` "
              "and `weakest_recall`.",
        ("confusion", "weakest_class", "weakest_recall"), check_weakest,
        hints=("Recall of a class: its diagonal count over its row's total.",)),
    Question(
        "q4", "Are the hard cross-domain cases harder? Set `acc_hard` and `acc_other`, the 95 % bootstrap "
              "interval of acc_hard - acc_other as `hard_gap_low` and `hard_gap_high`, and `add_cross_domain`: "
              "True only if the interval lies below zero.",
        ("predicted_labels", "acc_hard", "acc_other", "hard_gap_low", "hard_gap_high", "add_cross_domain"),
        check_hard,
        hints=("`predictions['hard']` marks the hard cases; average `correct` in each group.",
               "`accuracy_difference(predictions['correct'], predictions['hard'])` from course_utils.advice "
               "returns the difference with its interval (`low`, `high`).",
               "An interval that includes zero does not show the hard cases to be harder.")),
    Question(
        "q5", "Set `confidence` (test id -> confidence of the predicted class) and `ece`, the expected "
              "calibration error over 10 bins.",
        ("predicted_labels", "confidence", "ece"), check_calibration,
        hints=("`expected_calibration_error(confidence, correct, n_bins=10)` from course_utils.evaluation.",)),
    Question(
        "q6", "Train the lesson's TF-IDF baseline on splits['train'] (C chosen on validation); set "
              "`baseline_wrong_ids` (test ids it gets wrong), `shared_wrong_ids` (wrong for both models) and "
              "`expected_shared` (how many independent errors would share).",
        ("predicted_labels", "baseline_wrong_ids", "shared_wrong_ids", "expected_shared"), check_shared,
        hints=("`choose_c(tfidf_model, train_texts, train_labels, val_texts, val_labels).model` from "
               "course_utils.baselines, with label names.",
               "Shared errors: the intersection of two sets of ids.",
               "If the two models erred independently, the shared count would be about "
               "(errors of one) x (errors of the other) / (test texts).")),
], version=VERSION)

bind = QUESTIONS.bind
