"""Lesson 05's claims, asserted on the results of this test run's one execution of the notebook
(make test runs the notebooks first, then these tests; COURSE_RESULTS_DIR points at their results):
each comparison with its interval, so a non-result fails."""

import pytest
from lesson_results import recorded as recorded_lesson


def recorded() -> dict:
    return recorded_lesson("05_instruction_finetuning")


def test_05_every_bundled_record_that_fits_decodes_to_its_response_plus_eos():
    v = recorded()
    assert v["n_labels_decode"] == v["n_encoded"] > 0


def test_05_instruction_tuning_beats_the_majority_baseline_with_its_interval():
    v = recorded()
    assert v["em_after_low"] > v["majority_rate"], "the whole interval lies above always answering the majority label"
    assert v["em_after_low"] > v["em_before"], "and above the untuned model"


def test_05_the_remedy_forgets_less_and_keeps_the_task():
    v = recorded()
    assert v["ppl_after"] > v["ppl_before"], "instruction tuning costs general-text perplexity"
    assert v["ppl_after_remedy"] < v["ppl_after"], "the anchor reduces that cost"
    assert v["em_after_remedy_low"] > v["majority_rate"], "while its exact-match interval stays above the baseline"


def test_05_the_ablation_reports_a_paired_interval_around_its_difference():
    v = recorded()
    assert v["em_diff_low"] <= v["em_diff"] <= v["em_diff_high"]
    assert v["em_diff"] == pytest.approx(v["em_response_arm"] - v["em_whole"])
