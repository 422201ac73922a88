"""Claims the lessons make, checked on the results of the one execution of each notebook in
this test run (make test runs the notebooks first, then these tests)."""

import json
import os
from pathlib import Path

import pytest
from sklearn.metrics import precision_recall_fscore_support

from course_utils import models
from course_utils.classifier import new_classifier
from course_utils.training import freeze_layers

RESULTS = Path(os.environ.get("COURSE_RESULTS_DIR", Path(__file__).resolve().parents[2] / "build" / "test-results"))


def recorded(lesson: str) -> dict:
    path = RESULTS / f"{lesson}.json"
    if not path.exists():
        pytest.fail(f"{path} is missing: run the notebooks first (make test does, before these tests).")
    data = json.loads(path.read_text())
    assert data["profile"] == "smoke", "the claims are about the smoke profile's tiny models"
    return {k: v["value"] for k, v in data["values"].items()}


def test_00_pretrained_lm_far_better_than_random_weights():
    v = recorded("00_setup_check")
    assert v["general_perplexity"] < v["random_weights_perplexity"] / 10 and v["ready"]


@pytest.mark.parametrize("method", ["full", "features"])
def test_02_pretrained_methods_beat_majority_and_random_weights(method):
    v = recorded("02_classification_finetuning")
    assert v[f"{method}_macro_f1"] > v["majority_macro_f1"]
    assert v[f"{method}_accuracy"] > v["majority_accuracy"]
    assert v[f"{method}_macro_f1"] > v[f"{method}_random_macro_f1"]


def test_02_freezing_leaves_the_printed_number_of_trainable_parameters():
    v = recorded("02_classification_finetuning")
    report = freeze_layers(new_classifier(models.TINY_ENCODER), v["freeze_n"])
    assert report.trainable == v["freeze_trainable"] and report.total == v["freeze_total"]


def test_03_error_table_is_exactly_the_misclassified_examples():
    v = recorded("03_evaluation")
    wrong = [i for i, true, pred in v["predictions"] if true != pred]
    assert sorted(v["error_ids"]) == sorted(wrong) and v["n_errors"] == len(wrong)


def test_03_report_agrees_with_scikit_learn():
    v = recorded("03_evaluation")
    labels = list(v["report"])
    true = [t for _, t, _ in v["predictions"]]
    pred = [p for _, _, p in v["predictions"]]
    precision, recall, f1, _ = precision_recall_fscore_support(true, pred, labels=labels, zero_division=0)
    for k, label in enumerate(labels):
        assert v["report"][label]["precision"] == pytest.approx(precision[k])
        assert v["report"][label]["recall"] == pytest.approx(recall[k])
        assert v["report"][label]["f1-score"] == pytest.approx(f1[k])
    assert v["accuracy"] == pytest.approx(sum(t == p for t, p in zip(true, pred)) / len(true))
