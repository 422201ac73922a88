"""Lesson 07's measurements: gradient accumulation equal to the large batch once Trainer divides the
loss (and not before, in transformers 5.24), gradient checkpointing's memory counted, clear errors."""

import pytest
import torch
from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

import course_utils
from course_utils import data, models, practice
from course_utils.classifier import new_classifier, tokenize_splits


@pytest.fixture(scope="module")
def setup():
    cfg = course_utils.setup(profile="smoke", verbose=False)
    tokenizer = AutoTokenizer.from_pretrained(models.TINY_ENCODER)
    splits = data.load_domain_splits(max_train=32, max_eval=16)
    encoded = tokenize_splits(splits, tokenizer, 64)
    return cfg, tokenizer, encoded


def test_accumulation_is_the_same_update_once_the_loss_is_divided(setup):
    cfg, tokenizer, encoded = setup
    train = encoded["train"].select_columns(["input_ids", "attention_mask", "label"])

    def make():
        return new_classifier(cfg.encoder, seed=0)

    fixed = practice.accumulation_difference(cfg, make, train, tokenizer)
    assert fixed["max_abs_diff"] < 1e-5 < fixed["moved"]
    # transformers 5.24 leaves a classifier's loss undivided under accumulation (transformers#47688):
    # when this starts failing, the library has fixed it, and lesson 07's text should say so.
    as_is = practice.accumulation_difference(cfg, make, train, tokenizer, divide=False)
    assert as_is["max_abs_diff"] > 100 * fixed["max_abs_diff"]


def test_checkpointing_keeps_less_for_backward():
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=64, n_embd=32, n_layer=2, n_head=2, n_positions=64))
    ids = torch.randint(0, 64, (4, 48))
    cost = practice.checkpointing_cost(model, {"input_ids": ids, "labels": ids}, repeats=1)
    assert cost.saved_bytes_with < cost.saved_bytes_without and cost.saved_mb > 0
    with pytest.raises(ValueError, match="labels"):
        practice.checkpointing_cost(model, {"input_ids": ids})


def test_dropout_is_switched_off():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.1), torch.nn.Dropout(0.0))
    assert practice.disable_dropout(model) == 1 and model[1].p == 0


def test_bad_input_is_named(setup):
    cfg, tokenizer, encoded = setup
    with pytest.raises(ValueError, match="multiple"):
        practice.accumulation_difference(cfg, None, encoded["train"], tokenizer, batch=10, accumulation=4)
    with pytest.raises(ValueError, match="at least that many"):
        practice.accumulation_difference(cfg, None, encoded["train"].select(range(8)), tokenizer)
    with pytest.raises(ValueError, match="epochs"):
        practice.train_recording_epochs(cfg, None, tokenizer, encoded, epochs=0, learning_rate=1e-3, output_dir="/tmp/x")
    with pytest.raises(ValueError, match="'test' split"):
        practice.train_recording_epochs(cfg, None, tokenizer, {"train": 1, "validation": 1}, epochs=1,
                                        learning_rate=1e-3, output_dir="/tmp/x")
