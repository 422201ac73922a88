"""Lesson 03's claims, on the results of this test run's one execution of the notebook: the
evidence agrees with the recorded predictions, and each recommendation of section 7 follows from
the recorded evidence by its rule, restated here independently of ``course_utils.advice`` (so
neither the prose nor the rules can drift from the numbers)."""


import pytest
from lesson_results import recorded
from scipy.stats import fisher_exact
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from course_utils import data
from course_utils.advice import accuracy_difference

RULES = ["weak_class", "confusion", "cue_words", "hard_cases", "calibration", "shared_errors"]


@pytest.fixture(scope="module")
def v() -> dict:
    return recorded("03_evaluation")


def advice(v, rule: str) -> dict:
    return next(a for a in v["advice"] if a["rule"] == rule)


def true_pred(v):
    return [t for _, t, _ in v["predictions"]], [p for _, _, p in v["predictions"]]


# ------------------------------------------------------------------------------------ the model and its errors


def test_the_cached_classifier_trained_to_convergence_with_lesson_02s_recipe(v):
    from course_utils.recipes import TINY

    assert v["clf_learning_rate"] == TINY["full"].learning_rate
    assert v["clf_converged"] and 1 <= v["clf_best_epoch"] <= v["clf_epochs_run"] < v["clf_max_epochs"]
    assert v["clf_validation_examples"] == len(data.load_domain_splits()["validation"]), "the whole validation split"


def test_error_table_is_exactly_the_misclassified_examples(v):
    wrong = [i for i, true, pred in v["predictions"] if true != pred]
    assert sorted(v["error_ids"]) == sorted(wrong) and v["n_errors"] == len(wrong)


def test_report_agrees_with_scikit_learn(v):
    labels = list(v["report"])
    true, pred = true_pred(v)
    precision, recall, f1, _ = precision_recall_fscore_support(true, pred, labels=labels, zero_division=0)
    for k, label in enumerate(labels):
        assert v["report"][label]["precision"] == pytest.approx(precision[k])
        assert v["report"][label]["recall"] == pytest.approx(recall[k])
        assert v["report"][label]["f1-score"] == pytest.approx(f1[k])
        assert v["class_scores"][label]["recall"] == pytest.approx(recall[k])
        assert v["class_scores"][label]["recall_low"] <= recall[k] <= v["class_scores"][label]["recall_high"]
    assert v["accuracy"] == pytest.approx(sum(t == p for t, p in zip(true, pred)) / len(true))


# ------------------------------------------------------------------------------------ evidence = predictions


def test_confusion_counts_are_the_confusion_matrix(v):
    labels = list(data.LABELS)
    matrix = confusion_matrix(*true_pred(v), labels=labels)
    assert len(v["confusions"]) == len(labels) * (len(labels) - 1)
    for pair in v["confusions"]:
        assert pair["count"] == matrix[labels.index(pair["true"]), labels.index(pair["predicted"])]
        assert pair["n_errors"] == v["n_errors"]


def test_hard_case_evidence_is_recomputed_from_the_predictions_and_the_bundled_flags(v):
    hard = data.load_domain_frame().set_index("id")["hard"]
    ids = [i for i, _, _ in v["predictions"]]
    correct = [t == p for _, t, p in v["predictions"]]
    again = accuracy_difference(correct, hard.loc[ids].to_numpy())
    for key in ("acc_hard", "acc_other", "n_hard", "n_other", "diff", "low", "high"):
        assert v["hard"][key] == pytest.approx(again[key]), key


def test_overlap_counts_and_p_value(v):
    o = v["overlap"]
    assert o["n_model"] == v["n_errors"] and o["n"] == len(v["predictions"])
    table = [[o["n_shared"], o["n_model"] - o["n_shared"]],
             [o["n_baseline"] - o["n_shared"], o["n"] - o["n_model"] - o["n_baseline"] + o["n_shared"]]]
    assert o["p_value"] == pytest.approx(fisher_exact(table, alternative="greater").pvalue)
    assert o["expected"] == pytest.approx(o["n_model"] * o["n_baseline"] / o["n"])
    assert set(v["shared_examples"]) <= set(v["error_ids"]) and len(v["shared_examples"]) == min(3, o["n_shared"])


def test_calibration_evidence_agrees_with_the_report(v):
    assert v["gap"]["accuracy"] == pytest.approx(v["accuracy"])
    assert v["gap"]["diff"] == pytest.approx(v["gap"]["mean_confidence"] - v["gap"]["accuracy"])
    assert v["gap"]["low"] <= v["gap"]["diff"] <= v["gap"]["high"]


# ------------------------------------------------------------------------------------ advice = evidence


def test_every_rule_speaks_once_in_order_and_the_count_of_actions_is_right(v):
    assert [a["rule"] for a in v["advice"]] == RULES
    assert v["n_actions"] == sum(a["action"] is not None for a in v["advice"])
    assert all(a["finding"] for a in v["advice"])


def test_a_class_is_named_weak_iff_its_recall_gap_interval_lies_below_zero(v):
    weak = [label for label, s in v["class_scores"].items() if s["gap_high"] < 0]
    line = advice(v, "weak_class")
    assert (line["action"] is not None) == bool(weak)
    if weak:
        assert all(label in line["action"] for label in weak)
        assert not any(label in line["action"] for label in set(data.LABELS) - set(weak))


def test_a_confusion_is_acted_on_iff_its_share_lies_above_an_even_spread(v):
    dominant = [p for p in v["confusions"] if p["share_low"] > 1 / len(v["confusions"])]
    line = advice(v, "confusion")
    assert (line["action"] is not None) == bool(dominant)
    for p in dominant:
        assert f"{p['count']} {p['true']} texts read as {p['predicted']}" in line["action"]


def test_cue_words_are_named_iff_errors_carry_more_foreign_words_and_a_word_recurs(v):
    cues, line = v["cues"], advice(v, "cue_words")
    supported = cues["low"] is not None and cues["low"] > 0 and bool(cues["words"])
    assert (line["action"] is not None) == supported
    assert all(w["count"] >= cues["min_count"] for w in cues["words"])
    if supported:
        assert all(f"'{w['word']}'" in line["action"] for w in cues["words"])


def test_cross_domain_examples_are_recommended_iff_hard_cases_are_measurably_harder(v):
    line = advice(v, "hard_cases")
    assert (line["action"] is not None) == (v["hard"]["high"] < 0)
    assert ("cross-domain" in (line["action"] or "")) == (v["hard"]["high"] < 0)
    assert f"{v['hard']['acc_hard']:.3f}" in line["finding"] and f"{v['hard']['high']:.3f}" in line["finding"]


def test_temperature_scaling_is_recommended_iff_the_gap_excludes_zero_and_scaling_lowers_the_test_ece(v):
    gap, scaled, line = v["gap"], v["scaled"], advice(v, "calibration")
    miscalibrated = gap["low"] > 0 or gap["high"] < 0
    assert (line["action"] is not None) == (miscalibrated and scaled["ece_after"] < v["ece"])
    if line["action"]:
        assert f"T = {scaled['temperature']:.2f}" in line["action"]
        # The temperature moves confidence the way the gap asks: T < 1 sharpens an underconfident model.
        assert (scaled["temperature"] < 1) == (gap["high"] < 0)
    assert ("overconfident" in line["finding"]) == (gap["low"] > 0)
    assert ("underconfident" in line["finding"]) == (gap["high"] < 0)
    assert f"ECE {v['ece']:.3f}" in line["finding"]


def test_a_label_audit_is_recommended_iff_the_models_share_more_errors_than_chance(v):
    o, line = v["overlap"], advice(v, "shared_errors")
    assert (line["action"] is not None) == (o["p_value"] < 0.05 and o["n_shared"] >= 2)
    assert f"share {o['n_shared']} errors" in line["finding"]


def test_no_advice_mentions_cross_domain_data_unless_hard_cases_are_harder(v):
    """The fault this lesson once had: recommending cross-domain texts the errors did not call for."""
    if not v["hard"]["high"] < 0:
        assert not any("cross-domain" in (a["action"] or "") for a in v["advice"])
