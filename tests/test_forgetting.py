import math

import pytest
import torch

from course_utils.forgetting import causal_lm_nll, masked_lm_loss, perplexity

TEXTS = ["The court adjourned until Monday.", "Revenue rose four percent in the quarter.",
         "The patient was discharged with oral antibiotics."]


def direct_perplexity(model, tok, texts, window):
    """The definition, written out: one stream joined by EOS, cut into windows, every token
    after the first of its window scored by the model's log-softmax."""
    stream = []
    for i, text in enumerate(texts):
        if i:
            stream.append(tok.eos_token_id)
        stream += tok(text)["input_ids"]
    nll, count = 0.0, 0
    for start in range(0, len(stream), window):
        ids = stream[start : start + window]
        if len(ids) < 2:
            continue
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0]
        for t in range(1, len(ids)):
            nll -= torch.log_softmax(logits[t - 1], -1)[ids[t]].item()
            count += 1
    return math.exp(nll / count)


@pytest.mark.parametrize("window", [5, 8, 64])
def test_perplexity_matches_direct_computation(tiny_gpt2, window):
    model, tok = tiny_gpt2
    assert perplexity(model, tok, TEXTS, window=window) == pytest.approx(
        direct_perplexity(model, tok, TEXTS, window), rel=1e-5)


def test_single_window_equals_the_models_own_loss(tiny_gpt2):
    model, tok = tiny_gpt2
    ids = tok(TEXTS[0], return_tensors="pt")["input_ids"]
    with torch.no_grad():
        loss = model(ids, labels=ids).loss.item()
    assert perplexity(model, tok, TEXTS[:1], window=64) == pytest.approx(math.exp(loss), rel=1e-5)


def test_perplexity_is_token_weighted(tiny_gpt2):
    model, tok = tiny_gpt2
    nll, count = causal_lm_nll(model, tok, TEXTS, window=8)
    n_tokens = sum(len(tok(t)["input_ids"]) for t in TEXTS) + len(TEXTS) - 1
    windows = math.ceil(n_tokens / 8)
    assert count == n_tokens - windows  # every window's first token has no context
    assert nll > 0


def test_batching_does_not_change_the_result(tiny_gpt2):
    model, tok = tiny_gpt2
    a = perplexity(model, tok, TEXTS * 4, window=8, batch_size=1)
    b = perplexity(model, tok, TEXTS * 4, window=8, batch_size=7)
    assert a == pytest.approx(b, rel=1e-5)


def test_perplexity_restores_training_mode(tiny_gpt2):
    model, tok = tiny_gpt2
    model.train()
    perplexity(model, tok, TEXTS, window=16)
    assert model.training
    model.eval()


@pytest.mark.parametrize(
    "texts, kwargs, error, message",
    [
        ([], {}, ValueError, "empty"),
        ("one string", {}, TypeError, "list of strings"),
        (["fine", None], {}, ValueError, "missing"),
        (["fine", float("nan")], {}, ValueError, "missing"),
        (["fine", "  "], {}, ValueError, "empty"),
        (["fine", 3], {}, TypeError, "str"),
        (TEXTS, {"window": 1}, ValueError, "at least 2"),
        (TEXTS, {"window": 100_000}, ValueError, "context"),
        (TEXTS, {"batch_size": 0}, ValueError, "batch_size"),
    ],
)
def test_perplexity_bad_input(tiny_gpt2, texts, kwargs, error, message):
    model, tok = tiny_gpt2
    with pytest.raises(error, match=message):
        perplexity(model, tok, texts, **kwargs)


def test_masked_lm_loss_is_deterministic_and_sensible(tiny_encoder):
    model, tok = tiny_encoder
    a = masked_lm_loss(model, tok, TEXTS * 3, window=16, seed=1)
    b = masked_lm_loss(model, tok, TEXTS * 3, window=16, seed=1)
    assert a == b
    assert 0 < a < math.log(len(tok))  # better than a uniform guess over the vocabulary


def test_masked_lm_loss_needs_a_mask_token(tiny_gpt2):
    model, tok = tiny_gpt2
    with pytest.raises(ValueError, match="mask"):
        masked_lm_loss(model, tok, TEXTS)


def test_masked_lm_loss_bad_arguments(tiny_encoder):
    model, tok = tiny_encoder
    with pytest.raises(ValueError, match="mask_prob"):
        masked_lm_loss(model, tok, TEXTS, mask_prob=0)
    with pytest.raises(ValueError, match="window"):
        masked_lm_loss(model, tok, TEXTS, window=10_000)
    with pytest.raises(ValueError, match="empty"):
        masked_lm_loss(model, tok, [])


def test_window_losses_add_up_to_the_masked_lm_loss_and_pair_by_window(tiny_encoder):
    from course_utils.forgetting import masked_lm_window_losses

    model, tok = tiny_encoder
    sums, counts = masked_lm_window_losses(model, tok, TEXTS * 4, window=16, seed=3)
    assert len(sums) == len(counts) > 1 and (counts >= 1).all()  # every window asks at least one question
    assert sums.sum() / counts.sum() == pytest.approx(masked_lm_loss(model, tok, TEXTS * 4, window=16, seed=3))
    again = masked_lm_window_losses(model, tok, TEXTS * 4, window=16, seed=3)
    assert (again[0] == sums).all() and (again[1] == counts).all()  # the same questions every time


def test_loss_rise_interval_is_paired_over_windows(tiny_encoder):
    import numpy as np

    from course_utils.forgetting import loss_rise_interval, masked_lm_window_losses

    model, tok = tiny_encoder
    before = masked_lm_window_losses(model, tok, TEXTS * 4, window=16)
    same = loss_rise_interval(before, before)
    assert same.estimate == same.low == same.high == 0.0
    shifted = (before[0] + 0.5 * before[1], before[1])  # every masked token 0.5 nats worse
    rise = loss_rise_interval(before, shifted)
    assert rise.estimate == pytest.approx(0.5) and rise.low == pytest.approx(0.5) and rise.high == pytest.approx(0.5)
    with pytest.raises(ValueError, match="same windows"):
        loss_rise_interval(before, (before[0][:-1], before[1][:-1]))
    with pytest.raises(ValueError, match="same windows"):
        loss_rise_interval(before, (before[0], np.ones_like(before[1]) * 99))
