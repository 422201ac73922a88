"""Each method's recipe: the tiny models' rates are the ones the committed validation sweep chose."""

import json
from pathlib import Path

import pytest

import course_utils
from course_utils import recipes

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def smoke():
    return course_utils.setup(profile="smoke", verbose=False)


def test_tiny_rates_are_the_ones_chosen_on_validation():
    log = json.loads((ROOT / "tools" / "logs" / "sweep_classifier_smoke.json").read_text())
    assert {m: recipes.TINY[m].learning_rate for m in log["chosen"]} == log["chosen"]
    for method, rate in log["chosen"].items():
        run = next(r for r in log["runs"] if r["method"] == method and r["learning_rate"] == rate)
        assert run["converged"], f"the chosen {method} run stopped at its epoch cap"
        assert run["max_epochs"] == recipes.TINY[method].max_epochs


def test_a_real_model_gets_the_real_recipe(smoke):
    from dataclasses import replace

    real = replace(smoke, sizes=replace(smoke.sizes, encoder="/some/local/distilbert"))
    assert recipes.classifier_recipe(real, "full").learning_rate == recipes.REAL["full"].learning_rate == 5e-5
    assert 1e-4 <= recipes.classifier_recipe(real, "head").learning_rate <= 1e-3


def test_quick_pass_caps_the_epochs(smoke):
    assert recipes.classifier_recipe(smoke, "head", quick=True).max_epochs == recipes.QUICK_EPOCHS


def test_bad_inputs_say_what_to_do(smoke):
    with pytest.raises(ValueError, match="Unknown method 'lora'"):
        recipes.classifier_recipe(smoke, "lora")
    with pytest.raises(ValueError, match="positive"):
        recipes.TINY["full"].with_rate(0)
    with pytest.raises(ValueError, match="rows of"):
        recipes.settings_box(smoke, [("learning rate", 1)])


def test_method_run_reads_convergence_from_the_history():
    history = [{"eval_macro_f1": f, "eval_loss": l, "epoch": i + 1}
               for i, (f, l) in enumerate([(0.5, 1.0), (0.8, 0.7), (0.7, 0.6), (0.75, 0.65), (0.7, 0.7), (0.6, 0.8)])]
    run = recipes.MethodRun("full", recipes.Recipe(1e-3, max_epochs=10), None, 1.0, history)
    assert (run.epochs_run, run.best_epoch, run.converged) == (6, 2, True)
    by_loss = recipes.MethodRun("head", recipes.Recipe(1e-3, max_epochs=6, metric="loss"), None, 1.0, history)
    assert (by_loss.best_epoch, by_loss.converged, by_loss.summary()["best_val_macro_f1"]) == (3, False, 0.7)
