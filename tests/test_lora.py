"""course_utils.lora on small random models of each architecture the course supports."""

import pytest
import torch
from transformers import (BertConfig, BertForSequenceClassification, DistilBertConfig,
                          DistilBertForSequenceClassification, GPT2Config, GPT2ForSequenceClassification,
                          GPT2LMHeadModel, RobertaConfig, RobertaForSequenceClassification)

from course_utils import lora


def small(kind: str):
    """A randomly initialised model of ``kind``, small enough to build in milliseconds."""
    torch.manual_seed(0)
    if kind == "distilbert":
        return DistilBertForSequenceClassification(DistilBertConfig(
            vocab_size=64, dim=16, n_layers=2, n_heads=2, hidden_dim=32, num_labels=3))
    if kind == "bert":
        return BertForSequenceClassification(BertConfig(
            vocab_size=64, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
            num_labels=3))
    if kind == "roberta":
        return RobertaForSequenceClassification(RobertaConfig(
            vocab_size=64, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
            num_labels=3, max_position_embeddings=40, pad_token_id=1))
    gpt2 = GPT2Config(vocab_size=64, n_embd=16, n_layer=2, n_head=2, n_positions=32, pad_token_id=0)
    if kind == "gpt2-classifier":
        return GPT2ForSequenceClassification(GPT2Config(**{**gpt2.to_dict(), "num_labels": 3}))
    return GPT2LMHeadModel(gpt2)


CLASSIFIERS = {"distilbert": ["classifier", "pre_classifier"], "bert": ["classifier"],
               "roberta": ["classifier"], "gpt2-classifier": ["score"]}
IDS = torch.tensor([[2, 5, 7, 9, 11, 3], [2, 6, 8, 10, 3, 0]])


@pytest.mark.parametrize("kind", list(CLASSIFIERS))
def test_every_new_head_module_is_trained_and_saved_with_the_adapter(kind, tmp_path):
    model = small(kind)
    assert lora.new_head_modules(model) == CLASSIFIERS[kind]
    peft_model = lora.add_lora(model, r=2)
    # peft adds its task type's defaults ("classifier", "score"); every new module is also named explicitly
    assert set(CLASSIFIERS[kind]) <= set(peft_model.peft_config["default"].modules_to_save)
    trainable = {n for n, p in peft_model.named_parameters() if p.requires_grad}
    assert all("lora_" in n or any(h in n for h in CLASSIFIERS[kind]) for n in trainable)
    assert any("lora_A" in n for n in trainable) and any("lora_B" in n for n in trainable)
    for head in CLASSIFIERS[kind]:
        assert any(f"{head}.modules_to_save" in n for n in trainable), head
    peft_model.save_pretrained(tmp_path)
    from safetensors.torch import load_file

    saved = load_file(tmp_path / "adapter_model.safetensors")
    for head in CLASSIFIERS[kind]:
        assert any(head in key for key in saved), f"{head} is not saved with the adapter"


@pytest.mark.parametrize("kind", [*CLASSIFIERS, "gpt2"])
def test_an_untrained_adapter_leaves_the_model_unchanged_and_merges_exactly(kind):
    model = small(kind).eval()
    with torch.no_grad():
        before = model(input_ids=IDS).logits.clone()
    task = "causal_lm" if kind == "gpt2" else "classification"
    peft_model = lora.add_lora(model, r=2, dropout=0.0, task=task).eval()
    with torch.no_grad():
        assert torch.allclose(peft_model(input_ids=IDS).logits, before, atol=1e-6)  # B starts at zero
        for name, p in peft_model.named_parameters():  # give B a value, as training would
            if "lora_B" in name:
                p.fill_(1.0)
        adapted = peft_model(input_ids=IDS).logits
        assert (adapted - before).abs().max() > 1e-4
        merged = peft_model.merge_and_unload()
        assert torch.allclose(merged(input_ids=IDS).logits, adapted, atol=1e-5)


def test_gpt2_projections_are_conv1d_and_peft_is_told_so():
    peft_model = lora.add_lora(small("gpt2"), r=2, task="causal_lm")
    config = peft_model.peft_config["default"]
    assert config.fan_in_fan_out and list(config.target_modules) == ["c_attn"]


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="at least 1"):
        lora.add_lora(small("distilbert"), r=0)
    with pytest.raises(ValueError, match="at least 1"):
        lora.LowRankLinear(torch.nn.Linear(8, 4), r=True)
    with pytest.raises(ValueError, match="no low-rank update"):
        lora.LowRankLinear(torch.nn.Linear(8, 4), r=6)
    with pytest.raises(ValueError, match=r"Unknown LoRA target.*q_lin"):
        lora.add_lora(small("distilbert"), targets=["query"])
    with pytest.raises(ValueError, match="no classification head"):
        lora.add_lora(small("gpt2"))
    with pytest.raises(ValueError, match="task must be"):
        lora.add_lora(small("bert"), task="seq2seq")
    with pytest.raises(TypeError, match="nn.Linear"):
        lora.LowRankLinear(torch.nn.Conv2d(1, 1, 1), r=1)


def test_low_rank_layer_counts_and_update():
    base = torch.nn.Linear(16, 8)
    layer = lora.LowRankLinear(base, r=4, alpha=8)
    assert layer.trainable_parameters() == 4 * 16 + 8 * 4
    assert not any(p.requires_grad for p in base.parameters())
    with torch.no_grad():
        layer.B.fill_(1.0)
    x = torch.randn(2, 16)
    assert torch.allclose(layer(x), base(x) + x @ layer.delta_weight().T, atol=1e-5)
    assert layer.delta_weight().shape == base.weight.shape and torch.linalg.matrix_rank(layer.delta_weight()) <= 4


def test_trainable_fraction_counts_shared_weights_once():
    model = small("gpt2")  # tied input and output embeddings
    for p in model.parameters():
        p.requires_grad_(False)
    model.lm_head.weight.requires_grad_(True)
    unique = {id(p): p for p in model.parameters()}
    want = model.lm_head.weight.numel() / sum(p.numel() for p in unique.values())
    assert lora.trainable_fraction(model) == pytest.approx(want)


def test_a_saved_adapter_loads_back_onto_a_fresh_base_with_the_same_predictions(tmp_path):
    from peft import PeftModel

    peft_model = lora.add_lora(small("distilbert"), r=2, dropout=0.0).eval()
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name or "modules_to_save" in name:
                p.add_(0.5)  # as if trained: the adapter and the head both moved
        want = peft_model(input_ids=IDS).logits
    peft_model.save_pretrained(tmp_path)
    loaded = PeftModel.from_pretrained(small("distilbert"), tmp_path).eval()  # small() reseeds: the same base
    with torch.no_grad():
        assert torch.allclose(loaded(input_ids=IDS).logits, want, atol=1e-6)


def test_the_course_models_take_an_adapter():
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    from course_utils import models

    encoder = AutoModelForSequenceClassification.from_pretrained(models.TINY_ENCODER, num_labels=3)
    assert 0 < lora.trainable_fraction(lora.add_lora(encoder, r=4)) < 0.2
    gpt2 = AutoModelForCausalLM.from_pretrained(models.TINY_GPT2)
    assert 0 < lora.trainable_fraction(lora.add_lora(gpt2, r=4, task="causal_lm")) < 0.05


def test_the_instruction_loss_on_labelled_positions_works_through_an_adapter():
    from course_utils.instruct import IGNORE_INDEX, label_positions_loss

    peft_model = lora.add_lora(small("gpt2"), r=2, dropout=0.0, task="causal_lm").eval()
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.fill_(0.5)  # an adapter that changes the output, so the check can fail
        labels = IDS.clone()
        labels[:, :3] = IGNORE_INDEX  # the prompt
        batch = {"input_ids": IDS, "attention_mask": torch.ones_like(IDS), "labels": labels}
        assert torch.allclose(label_positions_loss(peft_model, batch), peft_model(**batch).loss, atol=1e-5)


ALL_LINEAR = {"distilbert": {"q_lin", "k_lin", "v_lin", "out_lin", "lin1", "lin2"},
              "bert": {"query", "key", "value", "dense"}, "roberta": {"query", "key", "value", "dense"},
              "gpt2": {"c_attn", "c_proj", "c_fc"}}


@pytest.mark.parametrize("kind", list(ALL_LINEAR))
def test_all_linear_adapts_every_body_layer_and_never_a_head(kind):
    model = small(kind)
    assert set(lora.target_modules(model, "all-linear")) == ALL_LINEAR[kind]
    peft_model = lora.add_lora(model, r=2, targets="all-linear", task="causal_lm" if kind == "gpt2" else "classification")
    adapted = {n.rsplit(".lora_A", 1)[0] for n, _ in peft_model.named_parameters() if ".lora_A." in n}
    assert adapted and not any(head in n for n in adapted for head in ("classifier", "lm_head", "score"))


def test_the_tiny_recipes_are_what_the_sweep_chose_on_validation():
    import json
    from pathlib import Path

    log = json.loads((Path(__file__).resolve().parents[1] / "tools" / "logs" / "sweep_lora_smoke.json").read_text())
    chosen, recipe = log["instruct"]["chosen"], lora.LEARN_FORGET_TINY
    full, primary, second = recipe.arms[:3]
    assert (full.learning_rate, recipe.epochs) == (log["instruct"]["full_fine_tuning"]["learning_rate"],
                                                    log["instruct"]["full_fine_tuning"]["epochs"])
    assert (primary.lora.r, primary.lora.targets, primary.learning_rate) == (
        chosen["lora_rank"], chosen["lora_targets"], chosen["lora_learning_rate"])
    assert (second.lora.r, second.lora.targets, second.learning_rate) == (
        chosen["second_rank"], chosen["second_targets"], chosen["second_learning_rate"])
    assert recipe.lora_rank == chosen["lora_rank"]
    classify = log["classify"]["chosen"]
    assert lora.CLASSIFIER_TINY.learning_rate == classify["learning_rate"]
    assert lora.CLASSIFIER_TINY.targets is None and classify["targets"] == "attention"
    assert lora.CLASSIFIER_TINY.r == log["classify"]["rank"]


def test_bad_settings_and_arms_are_named():
    with pytest.raises(ValueError, match="rank"):
        lora.LoraSettings(0, None, 1e-3)
    with pytest.raises(ValueError, match="learning_rate"):
        lora.LoraSettings(4, None, 0.0)
    with pytest.raises(TypeError, match="Arm"):
        lora.tune_arm(None, "full", None, [], epochs=1, output_dir="/tmp/x")
    with pytest.raises(FileNotFoundError, match="adapter_config.json"):
        lora.load_adapter(small("gpt2"), "/nonexistent-adapter")
    with pytest.raises(ValueError, match="No weight file"):
        import tempfile

        with tempfile.TemporaryDirectory() as empty:
            lora.adapter_megabytes(empty)


@pytest.mark.parametrize("kind", list(CLASSIFIERS))
def test_saved_modules_lists_only_modules_the_model_has(kind):
    assert lora.saved_modules(lora.add_lora(small(kind), r=2)) == CLASSIFIERS[kind]


def test_the_remedy_arm_is_lesson_04s_best_at_matched_learning():
    import json
    from pathlib import Path

    from course_utils.comparisons import FORGETS_LESS

    values = json.loads((Path(__file__).resolve().parents[1] / "course_utils" / "snapshot" / "04_catastrophic_forgetting.json")
                        .read_text())["values"]
    rows = [r for r in values["lm_table"]["value"] if r["verdict"] == FORGETS_LESS]
    best = min(rows, key=lambda r: r["matched"])["setting"]
    assert best.startswith("freeze first"), best
    remedy = lora.LEARN_FORGET_TINY.arms[-1]
    assert remedy.name == lora.REMEDY and remedy.freeze_first_half and remedy.lora is None
