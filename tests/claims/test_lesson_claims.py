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


def test_01_leakage_inflates_the_leaked_texts_score():
    v = recorded("01_dataset_audit")
    assert v["inflation_low"] > 0, "copying test texts into training raises accuracy on them beyond chance"


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


def test_04_high_learning_rate_forgets_far_more_and_a_remedy_helps():
    v = recorded("04_catastrophic_forgetting")
    table = {row["setting"]: row for row in v["lm_table"]}
    high, low = table["high learning rate"], table["low learning rate"]
    assert high["forgotten"] > 5 * max(low["forgotten"], 1.0), "far more forgetting at the high rate"
    remedies = [row for name, row in table.items() if name not in ("high learning rate", "low learning rate")]
    best = min(remedies, key=lambda row: row["forgotten"])
    assert best["forgotten"] < 0.5 * high["forgotten"], "at least one remedy halves the rise at the high rate"
    assert high["learned"] > 0, "continued pretraining learned the domain"


def test_04_full_fine_tuning_raises_the_encoders_masked_lm_loss():
    v = recorded("04_catastrophic_forgetting")
    assert v["mlm_after"] > v["mlm_before"]


def test_04_recommendations_follow_the_table():
    v = recorded("04_catastrophic_forgetting")
    table = {row["setting"]: row for row in v["lm_table"]}
    first = next(r for n, r in table.items() if n.startswith("freeze first"))
    last = next(r for n, r in table.items() if n.startswith("freeze last"))
    line = next(a for a in v["advice"] if a.startswith("Freezing the"))
    assert ("did **not**" in line) == (first["forgotten"] >= last["forgotten"])


def test_05_every_bundled_record_that_fits_decodes_to_its_response_plus_eos():
    v = recorded("05_instruction_finetuning")
    assert v["n_labels_decode"] == v["n_encoded"] > 0


def test_05_instruction_tuning_beats_untuned_and_majority_label():
    v = recorded("05_instruction_finetuning")
    assert v["em_after"] >= v["em_before"] + 0.3, "well above the untuned model"
    assert v["em_after"] >= v["majority_rate"] + 0.05, "above always answering the most common label"
