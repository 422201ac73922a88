"""Lesson 04's claims, on the results of this test run's one execution of the notebook.

The notebook records every run (setting, seed, learned, forgotten) and the reference run's
learned-vs-forgotten curve per seed. Here the paired differences, the readings at matched learning
and their t-intervals are recomputed from those values with SciPy, independently of
``course_utils.forgetting``; the lesson's table, its verdicts and its advice must follow from them.
"""


import numpy as np
import pytest
from lesson_results import recorded
from scipy import stats

LOW = "low learning rate"


@pytest.fixture(scope="module")
def v() -> dict:
    return recorded("04_catastrophic_forgetting")


def per_seed(v, setting: str, column: str = "forgotten") -> dict:
    return {r["seed"]: r[column] for r in v["lm_runs"] if r["setting"] == setting}


def t_interval(values) -> tuple[float, float, float]:
    values = np.asarray(values, dtype=float)
    low, high = stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=stats.sem(values))
    return values.mean(), low, high


def paired(v, a: str, b: str, column: str = "forgotten") -> tuple[float, float, float]:
    first, second = per_seed(v, a, column), per_seed(v, b, column)
    assert sorted(first) == sorted(second), f"{a} and {b} ran different seeds"
    return t_interval([first[s] - second[s] for s in sorted(first)])


def reference_at(v, seed: int, learned: float) -> float:
    """The reference run's forgetting when it had learned ``learned`` (first crossing, linear)."""
    points = sorted((p["step"], p["learned"], p["forgotten"]) for p in v["lm_curves"] if p["seed"] == seed)
    if learned <= points[0][1]:
        return points[0][2]
    for (_, l0, f0), (_, l1, f1) in zip(points, points[1:]):
        if l0 < learned <= l1:
            return f0 + (f1 - f0) * (learned - l0) / (l1 - l0)
    return points[-1][2]


def matched(v, setting: str) -> tuple[float, float, float]:
    learned, forgotten = per_seed(v, setting, "learned"), per_seed(v, setting, "forgotten")
    return t_interval([forgotten[s] - reference_at(v, s, learned[s]) for s in sorted(learned)])


def table(v) -> dict:
    return {row["setting"]: row for row in v["lm_table"]}


def line_about(v, setting: str) -> str:
    return next(a for a in v["advice"] if a.startswith(f"**{setting}**"))


# ----------------------------------------------------------------------------- the design holds


def test_every_setting_ran_the_same_seeds_and_the_same_number_of_steps(v):
    assert v["n_seeds"] >= 3
    settings = v["lm_settings"]
    for setting in settings:
        assert sorted(per_seed(v, setting)) == list(range(v["n_seeds"])), setting
    assert len({r["steps"] for r in v["lm_runs"]}) == 1, "replay and the anchor train as many steps as the rest"
    assert {p["seed"] for p in v["lm_curves"]} == set(range(v["n_seeds"]))


def test_the_spelled_out_trainer_run_is_what_the_helper_runs(v):
    assert v["helper_matches_trainer"]


def test_the_reference_run_learned_the_domain_and_forgot_general_text(v):
    for column in ("learned", "forgotten"):
        _, low, _ = t_interval(list(per_seed(v, v["lm_reference"], column).values()))
        assert low > 0, column


# ----------------------------------------------------------------------------- the primary comparison


def test_the_high_rate_forgets_more_than_the_low_one_with_a_paired_interval_above_zero(v):
    estimate, low, high = paired(v, v["lm_reference"], LOW)
    assert low > 0
    assert (v["lm_primary"], v["lm_primary_low"], v["lm_primary_high"]) == (
        pytest.approx(estimate), pytest.approx(low), pytest.approx(high))


def test_the_low_rate_is_labelled_by_what_it_learned(v):
    row = table(v)[LOW]
    kept = np.mean(list(per_seed(v, LOW, "learned").values())) / np.mean(
        list(per_seed(v, v["lm_reference"], "learned").values()))
    assert row["learning_kept"] == pytest.approx(kept)
    called_remedy = row["verdict"] != "learned too little to count as a remedy"
    assert called_remedy == (kept >= v["learning_floor"])


# ----------------------------------------------------------------------------- remedies at matched learning


def expected_verdict(kept: float, low: float, high: float, floor: float) -> str:
    if kept < floor:
        return "learned too little to count as a remedy"
    if high < 0:
        return "forgets less at matched learning"
    if low > 0:
        return "forgets more at matched learning"
    return "no clear difference at matched learning"


def test_each_setting_is_compared_at_matched_learning_as_recorded(v):
    rows = table(v)
    reference_learned = np.mean(list(per_seed(v, v["lm_reference"], "learned").values()))
    for setting in v["lm_settings"]:
        if setting == v["lm_reference"]:
            continue
        estimate, low, high = matched(v, setting)
        row = rows[setting]
        assert (row["matched"], row["matched_low"], row["matched_high"]) == (
            pytest.approx(estimate), pytest.approx(low), pytest.approx(high)), setting
        kept = np.mean(list(per_seed(v, setting, "learned").values())) / reference_learned
        assert row["verdict"] == expected_verdict(kept, low, high, v["learning_floor"]), setting


def test_the_anchor_forgets_less_at_matched_learning(v):
    anchor = next(s for s in v["lm_settings"] if s.startswith("anchor"))
    _, _, high = matched(v, anchor)
    assert high < 0 and table(v)[anchor]["learning_kept"] >= v["learning_floor"]


def test_weight_decay_moved_the_weights_and_is_not_a_remedy(v):
    decay = next(s for s in v["lm_settings"] if s.startswith("weight decay"))
    estimate, low, high = paired(v, decay, v["lm_reference"], "norm_change")
    assert high < 0 and estimate == pytest.approx(-0.01, rel=0.2), "decay shrank the weights by about 1 %"
    assert (v["decay_norm_shift_low"], v["decay_norm_shift_high"]) == (pytest.approx(low), pytest.approx(high))
    assert table(v)[decay]["verdict"] != "forgets less at matched learning"


def test_the_freezing_hypothesis_is_reported_with_its_interval(v):
    first = next(s for s in v["lm_settings"] if s.startswith("freeze first"))
    last = next(s for s in v["lm_settings"] if s.startswith("freeze last"))
    estimate, low, high = paired(v, first, last)
    assert (v["lm_freeze_diff"], v["lm_freeze_diff_low"], v["lm_freeze_diff_high"]) == (
        pytest.approx(estimate), pytest.approx(low), pytest.approx(high))
    line = line_about(v, f"{first} vs {last}")
    said = "supported" if "hypothesis is supported" in line else "contradicted" if "contradicted" in line else "neither"
    assert said == ("supported" if high < 0 else "contradicted" if low > 0 else "neither")


# ----------------------------------------------------------------------------- the advice follows the table


def test_recommendations_follow_the_table(v):
    reference = v["lm_reference"]
    primary = line_about(v, f"{reference} vs {LOW}")
    _, low, high = paired(v, reference, LOW)
    assert (f"the {LOW} forgets less." in primary) == (low > 0)
    assert "the primary comparison" in primary
    for setting, row in table(v).items():
        if setting in (reference, LOW):
            continue
        line = line_about(v, setting)
        if row["verdict"] == "learned too little to count as a remedy":
            assert "not a remedy" in line and "forgets less" not in line, setting
        else:
            assert row["verdict"] in line and "secondary comparison" in line, setting
    assert sum(line.count("primary comparison") for line in v["advice"]) == 1, "one primary comparison"


# ----------------------------------------------------------------------------- the encoder


def test_the_encoders_masked_lm_loss_rises_after_full_fine_tuning_while_validation_f1_is_high(v):
    full = next(r for r in v["cls_table"] if r["setting"] == "full fine-tuning")
    assert v["mlm_after"] > v["mlm_before"] and v["mlm_rise_low"] > 0
    assert full["rise"] == pytest.approx(v["mlm_after"] - v["mlm_before"])
    assert full["validation_macro_f1"] >= 0.85 and full["validation_macro_f1"] > v["cls_majority_f1"] + 0.5
    assert full["converged"], "trained until validation stopped improving"


def test_classifier_variants_are_compared_only_at_matched_learning(v):
    full, other = v["cls_table"]
    close = abs(full["validation_macro_f1"] - other["validation_macro_f1"]) <= v["cls_f1_tolerance"]
    assert v["cls_matched"] == close and other["converged"]
    line = line_about(v, "Classifier")
    if not close:
        assert "not compared" in line
        return
    said = "forgot more" if "it forgot more" in line else "forgot less" if "it forgot less" in line else "neither"
    assert said == ("forgot more" if v["cls_gap_low"] > 0 else "forgot less" if v["cls_gap_high"] < 0 else "neither")
    assert other["rise"] - full["rise"] == pytest.approx(v["cls_gap"])
