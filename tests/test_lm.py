import dataclasses

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer

import course_utils
from course_utils import models
from course_utils.forgetting import masked_lm_from_classifier, masked_lm_loss
from course_utils.lm import continue_pretraining, lm_blocks
from course_utils.training import optimizer_steps


@pytest.fixture(scope="module")
def tok():
    return AutoTokenizer.from_pretrained(models.TINY_GPT2)


def test_blocks_are_full_and_keep_eos_labels(tok):
    texts = ["The court ruled for the tenant.", "Fever for two days."] * 10
    blocks = lm_blocks(tok, texts, block_size=16)
    stream = sum((tok(t)["input_ids"] + [tok.eos_token_id] for t in texts), [])
    assert len(blocks) == len(stream) // 16
    assert all(len(b) == 16 for b in blocks["input_ids"])
    assert blocks["labels"] == blocks["input_ids"]
    assert sum(b.count(tok.eos_token_id) for b in blocks["labels"]) >= 10  # EOS is trained, never masked


def test_blocks_bad_input(tok):
    with pytest.raises(ValueError, match="fewer than one block"):
        lm_blocks(tok, ["short"], block_size=64)
    with pytest.raises(ValueError, match="block_size"):
        lm_blocks(tok, ["short"], block_size=1)
    with pytest.raises(ValueError):
        lm_blocks(tok, [], block_size=8)


def test_continue_pretraining_moves_only_trainable_weights(tok, tmp_path):
    cfg = course_utils.setup(profile="smoke", verbose=False)
    model = AutoModelForCausalLM.from_pretrained(models.TINY_GPT2)
    for p in model.transformer.h[0].parameters():
        p.requires_grad = False
    frozen = model.transformer.h[0].mlp.c_fc.weight.detach().clone()
    moved = model.transformer.h[3].mlp.c_fc.weight.detach().clone()
    texts = ["The tenant won the appeal."] * 30
    run = continue_pretraining(cfg, model, tok, texts, name="t", learning_rate=1e-3, epochs=3,
                               output_dir=str(tmp_path), block_size=32)
    # (3 epochs: the first step is warmup from a learning rate of 0)
    blocks = len(lm_blocks(tok, texts, block_size=32))
    assert run.steps == optimizer_steps(blocks, cfg.sizes.train_batch_size, 3)
    assert run.settings["learning_rate"] == 1e-3 and run.seconds > 0  # Trainer's train_runtime
    assert run.history and all("loss" in log or "train_runtime" in log for log in run.history)
    assert torch.equal(model.transformer.h[0].mlp.c_fc.weight, frozen)
    assert not torch.equal(model.transformer.h[3].mlp.c_fc.weight, moved)
    with pytest.raises(ValueError, match="learning_rate"):
        continue_pretraining(cfg, model, tok, ["x y z"] * 30, name="t", learning_rate=0, epochs=1,
                             output_dir=str(tmp_path))


def test_masked_lm_from_classifier_reuses_the_encoder_and_the_pretrained_head():
    from course_utils.classifier import new_classifier

    enc_tok = AutoTokenizer.from_pretrained(models.TINY_ENCODER)
    texts = ["The court ruled for the tenant after a long hearing about the lease."] * 4
    classifier = new_classifier(models.TINY_ENCODER)
    pretrained = AutoModelForMaskedLM.from_pretrained(models.TINY_ENCODER)
    same = masked_lm_from_classifier(classifier, models.TINY_ENCODER)
    assert masked_lm_loss(same, enc_tok, texts) == pytest.approx(masked_lm_loss(pretrained, enc_tok, texts))
    with torch.no_grad():
        for p in classifier.base_model.transformer.layer[-1].parameters():
            p.add_(0.5)
    changed = masked_lm_from_classifier(classifier, models.TINY_ENCODER)
    assert masked_lm_loss(changed, enc_tok, texts) != pytest.approx(masked_lm_loss(pretrained, enc_tok, texts))
    with pytest.raises(ValueError, match="does not match"):
        masked_lm_from_classifier(AutoModelForCausalLM.from_pretrained(models.TINY_GPT2), models.TINY_ENCODER)


def test_max_steps_holds_the_training_equal_whatever_the_texts(tok, tmp_path):
    cfg = course_utils.setup(profile="smoke", verbose=False)
    texts = ["The tenant won the appeal."] * 30
    points = []

    def measure(model):
        points.append(model.training)  # measured between steps, in training mode
        return {"n": len(points)}

    short = continue_pretraining(cfg, AutoModelForCausalLM.from_pretrained(models.TINY_GPT2), tok, texts, name="a",
                                 learning_rate=1e-3, max_steps=5, output_dir=str(tmp_path), block_size=16,
                                 batch_size=4, measure=measure, measure_every=2)
    longer = continue_pretraining(cfg, AutoModelForCausalLM.from_pretrained(models.TINY_GPT2), tok, texts * 3,
                                  name="b", learning_rate=1e-3, max_steps=5, output_dir=str(tmp_path), block_size=16,
                                  batch_size=4)
    assert short.steps == longer.steps == 5 and short.settings["max_steps"] == 5
    assert [p["step"] for p in short.trajectory] == [2, 4, 5]  # every 2 steps, and after the last
    assert [p["n"] for p in short.trajectory] == [1, 2, 3] and longer.trajectory == []


def test_a_measurement_along_training_changes_nothing(tok, tmp_path):
    from course_utils.forgetting import perplexity

    cfg = course_utils.setup(profile="smoke", verbose=False)
    texts = ["The court ruled for the tenant after a long hearing."] * 20
    heldout = ["The clinic opened on Monday."] * 3
    finals = []
    for measure in (None, lambda m: {"ppl": perplexity(m, tok, heldout, window=16)}):
        model = AutoModelForCausalLM.from_pretrained(models.TINY_GPT2)
        continue_pretraining(cfg, model, tok, texts, name="m", learning_rate=1e-3, max_steps=4, seed=1,
                             output_dir=str(tmp_path), block_size=16, batch_size=4, measure=measure)
        finals.append(perplexity(model, tok, heldout, window=16))
    assert finals[0] == pytest.approx(finals[1], rel=1e-6)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"max_steps": 0}, ValueError, "max_steps"),
    ({"max_steps": 2.5}, ValueError, "max_steps"),
    ({"epochs": 0}, ValueError, "epochs"),
    ({"measure": "perplexity"}, TypeError, "measure"),
    ({"measure": lambda m: {}, "measure_every": 0}, ValueError, "measure_every"),
])
def test_continue_pretraining_bad_arguments(tok, tmp_path, kwargs, error, message):
    cfg = course_utils.setup(profile="smoke", verbose=False)
    model = AutoModelForCausalLM.from_pretrained(models.TINY_GPT2)
    with pytest.raises(error, match=message):
        continue_pretraining(cfg, model, tok, ["x y z"] * 30, name="t", learning_rate=1e-3, output_dir=str(tmp_path),
                             **{"epochs": 1, **kwargs})


# ----------------------------------------------------------------------------- lesson 04's LM recipes


def test_lm_recipe_per_model_and_quick_pass():
    from course_utils import recipes

    smoke = course_utils.setup(profile="smoke", verbose=False)
    assert recipes.lm_recipe(smoke) == recipes.LM_TINY and recipes.LM_TINY.seeds >= 3
    assert recipes.LM_REAL.seeds >= 3 and recipes.LM_REAL.high_rate == 10 * recipes.LM_REAL.low_rate
    real = dataclasses.replace(smoke, sizes=dataclasses.replace(smoke.sizes, causal_lm="gpt2"))
    assert recipes.lm_recipe(real) == recipes.LM_REAL
    assert recipes.lm_recipe(real, quick=True).steps == recipes.LM_QUICK_STEPS < recipes.LM_REAL.steps


def test_schedule_rates_are_the_trainers(tok, tmp_path):
    """The rates schedule_rates computes are those Trainer steps with (logged once per step, each
    step's own rate)."""
    from course_utils import recipes

    cfg = course_utils.setup(profile="smoke", verbose=False)
    run = continue_pretraining(cfg, AutoModelForCausalLM.from_pretrained(models.TINY_GPT2), tok,
                               ["The tenant won the appeal."] * 30, name="s", learning_rate=1e-3, max_steps=10,
                               output_dir=str(tmp_path), block_size=16, batch_size=4)
    logged = [row["learning_rate"] for row in run.history if "learning_rate" in row]
    assert logged == pytest.approx(recipes.schedule_rates(1e-3, 10), abs=1e-12)
    with pytest.raises(ValueError, match="steps"):
        recipes.schedule_rates(1e-3, 0)


def test_decay_for_shrink_shrinks_the_weights_as_computed(tok, tmp_path):
    """Two runs of the same seed, with and without the computed decay: the weight norms differ by
    the share asked for (the gradient steps are nearly the same in both)."""
    from course_utils import recipes
    from course_utils.forgetting import weight_norm

    cfg = course_utils.setup(profile="smoke", verbose=False)
    decay = recipes.decay_for_shrink(1e-3, 6, 0.02)
    assert recipes.decay_shrink(1e-3, 6, decay) == pytest.approx(0.02)
    norms = []
    for weight_decay in (0.0, decay):
        model = AutoModelForCausalLM.from_pretrained(models.TINY_GPT2)
        continue_pretraining(cfg, model, tok, ["The tenant won the appeal."] * 30, name="d", learning_rate=1e-3,
                             max_steps=6, output_dir=str(tmp_path), block_size=16, batch_size=4,
                             weight_decay=weight_decay)
        norms.append(weight_norm(model))
    assert norms[1] / norms[0] - 1 == pytest.approx(-0.02, rel=0.1)
    for bad in (0.0, 1.0):
        with pytest.raises(ValueError, match="shrink"):
            recipes.decay_for_shrink(1e-3, 6, bad)
    with pytest.raises(ValueError, match="weight_decay"):
        recipes.decay_shrink(1e-3, 6, -1)


def test_lm_settings_box_shows_this_run_and_the_real_recipe():
    from course_utils import recipes

    cfg = course_utils.setup(profile="smoke", verbose=False)
    recipe = recipes.lm_recipe(cfg)
    decay = recipes.decay_for_shrink(recipe.high_rate, recipe.steps, recipe.decay_shrink)
    text = recipes.settings_box(cfg, recipes.lm_settings_rows(cfg, recipe, decay)).data
    assert "| high learning rate | 0.001 | 0.0002 |" in text
    assert f"need {decay:.2g} to shrink the weights by 1%" in text
    assert "| classifier: full fine-tuning rate |" in text
