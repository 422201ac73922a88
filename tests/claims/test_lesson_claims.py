"""Claims the lessons make, checked on the results of the one execution of each notebook in
this test run (make test runs the notebooks first, then these tests)."""


import pytest

from course_utils import models
from course_utils.classifier import new_classifier
from course_utils.training import freeze_layers

from lesson_results import recorded


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
