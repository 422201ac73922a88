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
