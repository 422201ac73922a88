"""The bundled tiny models: shaped like the real ones, really pretrained, rebuilt identically."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import (AutoModelForCausalLM, AutoModelForMaskedLM,
                          AutoModelForSequenceClassification, AutoTokenizer)

from course_utils import models, tiny_models


def card(path):
    return json.loads((Path(path) / "model_card.json").read_text())


def test_bundled_models_fit_the_size_budget():
    total = sum(f.stat().st_size for f in Path(models.TINY_MODELS_DIR).rglob("*") if f.is_file())
    assert total <= 15 * 2**20


def test_tiny_gpt2_is_shaped_like_gpt2(tiny_gpt2):
    from transformers import AutoTokenizer

    model, _ = tiny_gpt2
    tok = AutoTokenizer.from_pretrained(models.TINY_GPT2)  # its own: other tests give the shared one a pad token
    assert model.config.model_type == "gpt2"
    assert tok.pad_token is None and tok.eos_token == "<|endoftext|>"
    text = "Dosage: 5 mg/kg — naïve patients, “quoted”, 日本"
    assert tok.decode(tok(text)["input_ids"]) == text  # byte-level: nothing is unknown
    assert model.get_input_embeddings().weight is model.get_output_embeddings().weight  # tied


def test_tiny_encoder_is_shaped_like_distilbert(tiny_encoder):
    model, tok = tiny_encoder
    assert model.config.model_type == "distilbert" and model.config.n_layers == 6
    assert tok("The Court RULED")["input_ids"] == tok("the court ruled")["input_ids"]  # uncased
    ids = tok("The court adjourned")["input_ids"]
    assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
    assert any(t.startswith("##") for t in tok.tokenize("antidisestablishmentarianism"))
    assert tok.pad_token == "[PAD]" and tok.mask_token == "[MASK]"


def test_loaded_with_the_same_calls_as_hub_names():
    assert AutoTokenizer.from_pretrained(models.TINY_ENCODER).model_max_length == 512
    clf = AutoModelForSequenceClassification.from_pretrained(models.TINY_ENCODER, num_labels=3)
    assert clf.config.num_labels == 3
    assert AutoModelForCausalLM.from_pretrained(models.TINY_GPT2).config.n_layer >= 2
    assert AutoModelForMaskedLM.from_pretrained(models.TINY_ENCODER).config.dim >= 64


@pytest.fixture(scope="module")
def gpt2_metrics():
    return tiny_models.evaluate_gpt2(models.TINY_GPT2)


@pytest.fixture(scope="module")
def encoder_metrics():
    return tiny_models.evaluate_encoder(models.TINY_ENCODER)


def test_gpt2_gate_perplexity_far_below_random_weights(gpt2_metrics):
    m = gpt2_metrics
    assert m["heldout_general_perplexity"] < m["random_weights_general_perplexity"] / 20
    assert m["heldout_general_perplexity"] <= 100


def test_encoder_gate_masked_lm_loss_far_below_random_weights(encoder_metrics):
    m = encoder_metrics
    assert m["heldout_general_mlm_loss"] < m["random_weights_general_mlm_loss"] - 2.0


def test_encoder_gate_probe_beats_random_weights(encoder_metrics):
    m = encoder_metrics
    assert m["probe_accuracy"] > m["random_weights_probe_accuracy"] + 0.02


def test_model_cards_match_the_shipped_weights(gpt2_metrics, encoder_metrics):
    """The cards' metrics were measured on these very weights: re-measuring reproduces them."""
    for path, metrics in ((models.TINY_GPT2, gpt2_metrics), (models.TINY_ENCODER, encoder_metrics)):
        c = card(path)
        assert c["metrics"].keys() == metrics.keys()
        for key, value in metrics.items():
            if isinstance(value, float):  # thread counts may move the last digits, no more
                assert c["metrics"][key] == pytest.approx(value, abs=0.01), key
            else:
                assert c["metrics"][key] == value, key
        for key in ("architecture", "settings", "corpus", "build_seconds", "license", "stands_in_for"):
            assert key in c


def test_build_is_deterministic(tmp_path):
    torch.use_deterministic_algorithms(True)
    settings = tiny_models.BuildSettings(**{**tiny_models.asdict(tiny_models.GPT2_SETTINGS),
                                            "steps": 3, "warmup_steps": 1})
    try:
        for name in ("a", "b"):
            tiny_models.build_gpt2(tmp_path / name, settings, evaluate=False)
    finally:
        torch.use_deterministic_algorithms(False)
    a = load_file(tmp_path / "a" / "model.safetensors")
    b = load_file(tmp_path / "b" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (tmp_path / "a" / "tokenizer.json").read_text() == (tmp_path / "b" / "tokenizer.json").read_text()


def library_rates(make_schedule, s: tiny_models.BuildSettings) -> list[float]:
    """The learning rate of each optimizer step under a transformers schedule."""
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW([param], lr=s.peak_lr)
    schedule = make_schedule(optimizer)
    rates = []
    for _ in range(s.steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    return rates


@pytest.mark.parametrize("s", [tiny_models.GPT2_SETTINGS, tiny_models.ENCODER_SETTINGS], ids=["gpt2", "encoder"])
def test_build_schedule_stays_hand_written_because_no_transformers_schedule_matches_it(s):
    """The shipped weights were trained with ``_lr_at``; a library schedule may replace it only if it
    gives the same rate at every step of the real builds, or ``make models`` would rebuild other
    weights. Today none does: if this test fails because one now matches, switch to it."""
    from transformers.optimization import (get_cosine_schedule_with_warmup,
                                           get_cosine_with_min_lr_schedule_with_warmup_lr_rate)

    ours = [tiny_models._lr_at(step, s) for step in range(s.steps)]
    assert ours[0] == s.peak_lr / s.warmup_steps and ours[s.warmup_steps - 1] == s.peak_lr == max(ours)
    cosine = library_rates(lambda o: get_cosine_schedule_with_warmup(o, s.warmup_steps, s.steps), s)
    assert cosine[0] == 0.0  # its warmup starts at 0, one step behind ours
    ahead = library_rates(lambda o: get_cosine_with_min_lr_schedule_with_warmup_lr_rate(
        o, s.warmup_steps, s.steps, min_lr_rate=0.0), s)
    assert ahead[: s.warmup_steps] == pytest.approx(ours[: s.warmup_steps])  # its warmup is ours...
    assert ahead[s.warmup_steps] < ours[s.warmup_steps] == s.peak_lr  # ...but its cosine runs a step ahead


def test_encoder_rebuilds_reuse_the_shipped_vocabulary(tmp_path):
    """tokenizers' WordPiece trainer gives a slightly different vocabulary in each process
    (huggingface/tokenizers#1794), so `make models` reuses the shipped one, byte for byte."""
    tok = tiny_models.encoder_tokenizer([], tiny_models.ENCODER_SETTINGS.vocab_size)
    tok.save_pretrained(tmp_path)
    shipped = Path(models.TINY_ENCODER)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        assert (tmp_path / name).read_text() == (shipped / name).read_text(), name
    with pytest.raises(ValueError, match="--new-vocabulary"):
        tiny_models.encoder_tokenizer([], 1000)
