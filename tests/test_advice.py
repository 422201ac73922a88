"""The next-step rules of lesson 03, on hand-made evidence: each acts when its evidence shows
something and says nothing (``action is None``) when it does not; the measuring functions agree
with direct counts and reject bad inputs with a message that names the problem."""

import numpy as np
import pytest
from scipy.stats import fisher_exact

from course_utils.evaluation import fit_temperature
from course_utils.advice import (Advice, accuracy_difference, calibration_advice, class_markers, class_scores,
                                 confidence_gap, confusion_advice, confusion_pairs, cue_evidence, cue_word_advice,
                                 error_overlap, hard_case_advice, next_steps, scores_table,
                                 shared_error_advice, weak_class_advice, words)

LABELS = ["medical", "finance", "legal"]


def predictions(misses: dict[tuple[str, str], int], per_class: int = 60):
    """True and predicted labels: ``per_class`` texts of each class, ``misses[(t, p)]`` of the t
    texts predicted as p, the rest right."""
    true, pred = [], []
    for t in LABELS:
        wrong = [p for (tt, p), n in misses.items() if tt == t for _ in range(n)]
        true += [t] * per_class
        pred += wrong + [t] * (per_class - len(wrong))
    return np.array(true), np.array(pred)


# ------------------------------------------------------------------------------------ classes


def test_class_scores_match_direct_counts_and_their_intervals_hold_them():
    true, pred = predictions({("finance", "medical"): 12, ("legal", "finance"): 3})
    scores = class_scores(true, pred, LABELS, n_boot=500)
    assert scores["finance"]["recall"] == pytest.approx(48 / 60)
    assert scores["medical"]["precision"] == pytest.approx(60 / 72)
    assert scores["finance"]["gap"] == pytest.approx(48 / 60 - 117 / 120)
    for s in scores.values():
        assert s["recall_low"] <= s["recall"] <= s["recall_high"] and s["gap_low"] <= s["gap"] <= s["gap_high"]
    assert list(scores_table(scores).index) == LABELS


def test_a_class_that_misses_far_more_is_named_and_an_even_spread_names_none():
    true, pred = predictions({("finance", "medical"): 15, ("legal", "medical"): 1})
    advice = weak_class_advice(class_scores(true, pred, LABELS, n_boot=500))
    assert advice.action == "Add training examples of finance, like the finance texts it missed."

    even = predictions({("medical", "legal"): 3, ("finance", "legal"): 3, ("legal", "finance"): 3})
    advice = weak_class_advice(class_scores(*even, LABELS, n_boot=500))
    assert advice.action is None and "nothing class-specific" in advice.finding


def test_class_scores_bad_inputs():
    with pytest.raises(ValueError, match="equally long"):
        class_scores(["medical"], ["medical", "legal"], LABELS)
    with pytest.raises(ValueError, match="'sports'"):
        class_scores(["sports", "legal"], ["legal", "legal"], LABELS)
    with pytest.raises(ValueError, match="No test text is labelled 'finance'"):
        class_scores(["medical", "legal"], ["legal", "legal"], LABELS)
    with pytest.raises(ValueError, match="No class scores"):
        weak_class_advice({})


def test_a_never_predicted_class_has_no_precision_rather_than_nan():
    scores = class_scores(["a", "a", "b", "b"], ["a", "a", "a", "a"], ["a", "b"], n_boot=200)
    assert scores["b"]["precision"] is None and scores["b"]["recall"] == 0


# ------------------------------------------------------------------------------------ confusions


def test_confusion_pairs_count_every_off_diagonal_cell():
    true, pred = predictions({("finance", "medical"): 12, ("legal", "finance"): 3})
    pairs = confusion_pairs(true, pred, LABELS)
    assert len(pairs) == 6 and sum(p["count"] for p in pairs) == 15
    assert (pairs[0]["true"], pairs[0]["predicted"], pairs[0]["count"]) == ("finance", "medical", 12)
    assert all(p["share_low"] <= p["share"] <= p["share_high"] for p in pairs)


def test_a_dominant_confusion_is_acted_on_and_a_spread_one_is_not():
    dominant = confusion_pairs(*predictions({("finance", "medical"): 12, ("legal", "finance"): 3}), LABELS)
    advice = confusion_advice(dominant)
    assert advice.action.startswith("Add finance training texts like the 12 finance texts read as medical")
    assert "legal" not in advice.action

    spread = confusion_pairs(*predictions({(t, p): 2 for t in LABELS for p in LABELS if t != p}), LABELS)
    assert confusion_advice(spread).action is None
    # A top cell of 3 among 6 errors is the most frequent, yet too few to stand out.
    few = confusion_pairs(*predictions({("finance", "medical"): 3, ("legal", "finance"): 2,
                                        ("medical", "legal"): 1}), LABELS)
    assert confusion_advice(few).action is None and "no pair stands out" in confusion_advice(few).finding


def test_no_errors_no_confusion():
    pairs = confusion_pairs(*predictions({}), LABELS)
    advice = confusion_advice(pairs)
    assert advice.action is None and "no errors" in advice.finding
    with pytest.raises(ValueError, match="No confusion cells"):
        confusion_advice([])


# ------------------------------------------------------------------------------------ cue words


def test_words_and_markers():
    assert words("The Court's ruling, the COURT.") == {"court", "ruling"}
    markers = class_markers(["court ruling", "court appeal", "court fee", "fee paid", "fee waived", "fee due"],
                            ["legal", "legal", "legal", "finance", "finance", "finance"], min_texts=3, purity=0.75)
    assert markers == {"court": "legal", "fee": "finance"}  # 'fee' is 3 of 4 finance
    assert class_markers(["court"] * 2, ["legal"] * 2, min_texts=3) == {}  # too rare to call a marker
    with pytest.raises(ValueError, match="equally long"):
        class_markers(["a"], ["legal", "legal"])


MARKERS = {"tumour": "medical", "dividend": "finance", "plaintiff": "legal"}


def test_errors_that_carry_the_predicted_class_words_are_named_cues():
    texts = (["plaintiff claims dividend"] * 6 + ["dividend paid"] * 54 + ["tumour scan"] * 60
             + ["plaintiff appeal"] * 60)
    true = ["finance"] * 60 + ["medical"] * 60 + ["legal"] * 60
    pred = ["legal"] * 6 + ["finance"] * 54 + ["medical"] * 60 + ["legal"] * 60
    evidence = cue_evidence(texts, true, pred, MARKERS, n_boot=500)
    assert evidence["rate_errors"] == 1.0 and evidence["rate_correct"] == 0.0 and evidence["low"] > 0
    assert evidence["words"] == [{"word": "plaintiff", "read_as": "legal", "count": 6}]
    assert "'plaintiff' (read as legal, 6 errors)" in cue_word_advice(evidence).action


def test_errors_no_richer_in_foreign_words_than_correct_texts_name_no_cue():
    # Every finance text mentions a plaintiff, right or wrong: the word does not explain the errors.
    texts = ["plaintiff dividend"] * 60 + ["tumour scan"] * 60 + ["plaintiff appeal"] * 60
    true = ["finance"] * 60 + ["medical"] * 60 + ["legal"] * 60
    pred = ["legal"] * 6 + ["finance"] * 54 + ["medical"] * 60 + ["legal"] * 60
    evidence = cue_evidence(texts, true, pred, MARKERS, n_boot=500)
    assert evidence["low"] <= 0
    assert cue_word_advice(evidence).action is None and "do not show a word cue" in cue_word_advice(evidence).finding


def test_a_cue_below_the_minimum_count_is_not_named():
    texts = ["plaintiff dividend"] * 2 + ["dividend"] * 58 + ["tumour"] * 60
    true = ["finance"] * 60 + ["medical"] * 60
    pred = ["legal"] * 2 + ["finance"] * 58 + ["medical"] * 60
    evidence = cue_evidence(texts, true, pred, MARKERS, n_boot=500)
    assert evidence["words"] == [] and cue_word_advice(evidence).action is None


def test_no_errors_no_cue():
    evidence = cue_evidence(["dividend"] * 3, ["finance"] * 3, ["finance"] * 3, MARKERS, n_boot=200)
    assert evidence["diff"] is None and cue_word_advice(evidence).action is None


# ------------------------------------------------------------------------------------ hard cases


def test_hard_cases_recommended_only_when_the_difference_interval_lies_below_zero():
    correct = np.array([True] * 150 + [False] * 10 + [True] * 15 + [False] * 15)
    hard = np.array([False] * 160 + [True] * 30)
    diff = accuracy_difference(correct, hard, n_boot=500)
    assert diff["acc_hard"] == 0.5 and diff["acc_other"] == 150 / 160 and diff["high"] < 0
    assert hard_case_advice(diff).action.startswith("Add labelled cross-domain examples")

    same = np.array([True] * 150 + [False] * 10 + [True] * 28 + [False] * 2)
    advice = hard_case_advice(accuracy_difference(same, hard, n_boot=500))
    assert advice.action is None and "includes zero" in advice.finding


def test_easier_hard_cases_get_no_action():
    advice = hard_case_advice({"acc_hard": 1.0, "acc_other": 0.7, "diff": 0.3, "low": 0.2, "high": 0.4})
    assert advice.action is None and "easier" in advice.finding


def test_accuracy_difference_needs_both_groups():
    with pytest.raises(ValueError, match="some test texts"):
        accuracy_difference([True, False], [True, True])
    with pytest.raises(ValueError, match="equally long"):
        accuracy_difference([True, False], [True])


# ------------------------------------------------------------------------------------ calibration


def test_calibration_acts_on_a_gap_either_way_and_not_on_none():
    correct = np.array([True] * 90 + [False] * 10)
    under = confidence_gap(np.full(100, 0.5), correct, n_boot=500)
    assert "underconfident" in calibration_advice(under, 0.4).finding
    assert "below 1 sharpens" in calibration_advice(under, 0.4).action
    over = confidence_gap(np.full(100, 0.99), np.array([True] * 70 + [False] * 30), n_boot=500)
    assert "overconfident" in calibration_advice(over, 0.29).finding
    matched = confidence_gap(np.where(correct, 0.95, 0.5), correct, n_boot=500)  # mean 0.905 vs 0.9
    assert matched["low"] < 0 < matched["high"] and calibration_advice(matched, 0.05).action is None


def test_temperature_scaling_is_recommended_only_if_it_lowers_the_test_ece():
    under = {"mean_confidence": 0.6, "accuracy": 0.9, "diff": -0.3, "low": -0.35, "high": -0.25}
    helps = calibration_advice(under, 0.3, {"temperature": 0.3, "ece_after": 0.04})
    assert "T = 0.30" in helps.action and "0.300 to 0.040" in helps.action
    fails = calibration_advice(under, 0.3, {"temperature": 0.9, "ece_after": 0.31})
    assert fails.action is None and "does not lower the test ECE" in fails.finding


def test_fit_temperature_recovers_a_known_temperature():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(size=(4000, 3)) * 3
    labels = np.array([rng.choice(3, p=np.exp(z) / np.exp(z).sum()) for z in true_logits])
    # The model's logits are the true ones shrunk by 2.5: T = 1 / 2.5 restores them.
    assert fit_temperature(true_logits / 2.5, labels) == pytest.approx(0.4, rel=0.1)
    assert fit_temperature(true_logits, labels) == pytest.approx(1.0, rel=0.1)
    with pytest.raises(ValueError, match="shape"):
        fit_temperature([1.0, 2.0], [0, 1])


# ------------------------------------------------------------------------------------ shared errors


def test_overlap_counts_agree_with_scipy_and_chance_overlap_gets_no_action():
    model = np.array([True] * 10 + [False] * 90)
    baseline = np.array([True] * 8 + [False] * 92)
    overlap = error_overlap(model, baseline)
    assert overlap["p_value"] == pytest.approx(fisher_exact([[8, 2], [0, 90]], alternative="greater").pvalue)
    assert shared_error_advice(overlap).action is not None

    chance = error_overlap(model, np.array([True, False] * 50))  # 5 shared of 10 x 50 / 100 = 5 expected
    assert chance["n_shared"] == 5 and chance["expected"] == 5.0
    assert shared_error_advice(chance).action is None
    one = {**error_overlap(model, np.array([True] + [False] * 99)), "p_value": 0.01}  # significant, yet one text
    assert shared_error_advice(one).action is None


# ------------------------------------------------------------------------------------ together


def test_next_steps_runs_every_rule_in_order_and_names_missing_evidence():
    true, pred = predictions({("finance", "medical"): 12})
    evidence = {"class_scores": class_scores(true, pred, LABELS, n_boot=200),
                "confusions": confusion_pairs(true, pred, LABELS),
                "cues": cue_evidence(["x"] * len(true), true, pred, {}, n_boot=200),
                "hard": accuracy_difference(true == pred, np.arange(len(true)) % 5 == 0, n_boot=200),
                "gap": confidence_gap(np.full(len(true), 0.9), true == pred, n_boot=200), "ece": 0.1,
                "overlap": error_overlap(true != pred, true != pred)}
    advice = next_steps(evidence)
    assert [a.rule for a in advice] == ["weak_class", "confusion", "cue_words", "hard_cases", "calibration",
                                        "shared_errors"]
    assert all(isinstance(a, Advice) and a.finding for a in advice)
    assert advice[0].to_dict()["rule"] == "weak_class" and advice[0].markdown().startswith("- **Add")
    with pytest.raises(ValueError, match="'cues'"):
        next_steps({k: v for k, v in evidence.items() if k != "cues"})
