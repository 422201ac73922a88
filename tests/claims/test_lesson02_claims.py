"""Lesson 02's comparative claims, asserted on the results of this test run's one execution of
the notebook: each with its interval, so a non-result fails."""

from lesson_results import recorded as recorded_lesson


def recorded() -> dict:
    return recorded_lesson("02_classification_finetuning")

def test_full_fine_tuning_beats_tfidf_with_a_paired_interval_above_zero():
    v = recorded()
    assert v["full_vs_tfidf_low"] > 0, (v["full_macro_f1"], v["tfidf_macro_f1"])

def test_full_fine_tuning_is_at_or_above_tfidf():
    v = recorded()
    assert v["full_vs_tfidf_low"] <= v["full_vs_tfidf"] <= v["full_vs_tfidf_high"]
    assert v["full_vs_tfidf"] >= 0 and v["full_vs_tfidf_high"] > 0, (v["full_macro_f1"], v["tfidf_macro_f1"])

def test_the_head_only_recipe_is_far_above_the_majority_floor():
    v = recorded()
    assert v["head_macro_f1"] >= v["majority_macro_f1"] + 0.3

def test_every_trained_method_converged_before_its_cap():
    v = recorded()
    assert v["full_converged"] is True
    for key in ("full_recipe", "head_recipe", "partial_recipe"):
        run = v[key]
        assert run["converged_all"] and run["epochs_run"] < run["max_epochs"], key
        assert run["epochs_run"] - run["best_epoch"] >= run["patience"], key

def test_the_recipes_are_the_ones_chosen_on_validation():
    from course_utils.recipes import TINY

    v = recorded()
    for key in ("full", "head", "partial"):
        assert v[f"{key}_recipe"]["learning_rate"] == TINY[key].learning_rate

def test_pretraining_is_worth_something_under_the_same_recipe():
    v = recorded()
    assert v["full_random_recipe"]["learning_rate"] == v["full_recipe"]["learning_rate"]
    assert v["full_macro_f1"] > v["full_random_macro_f1"]
    assert v["features_macro_f1"] > v["features_random_macro_f1"]
