import ast
import json
from pathlib import Path

import pytest
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value
from transformers import (AutoModelForCausalLM, AutoTokenizer,
                          BertConfig, BertForSequenceClassification, RobertaConfig,
                          RobertaForSequenceClassification)

import course_utils
from course_utils import data, models
from course_utils.classifier import new_classifier
from course_utils.recipes import classifier_recipe
from course_utils.models import parameter_count
from course_utils.training import (base_args, check_classifier_setup, check_labels, freeze_backbone,
                                   freeze_layers, lm_args, optimizer_steps, prediction_args, training_args)

LESSON_02 = Path(__file__).resolve().parents[1] / "notebooks" / "02_classification_finetuning.ipynb"


@pytest.fixture(scope="module")
def cfg():
    return course_utils.setup(profile="smoke", verbose=False)


def test_training_args_use_the_current_api(cfg, tmp_path):
    args = training_args(cfg, str(tmp_path), train_examples=200)
    assert args.eval_strategy == args.save_strategy == "epoch"
    assert args.load_best_model_at_end and args.metric_for_best_model == "macro_f1"
    assert args.report_to == [] or args.report_to == "none" or args.report_to == ["none"]
    assert args.lr_scheduler_type == "cosine" and args.save_total_limit == 1
    full = classifier_recipe(cfg, "full")
    assert args.warmup_steps == round(full.warmup_epochs * -(-200 // full.batch_size))  # one epoch
    assert args.learning_rate == full.learning_rate and args.num_train_epochs == full.max_epochs
    assert not args.fp16 and not args.bf16
    head = training_args(cfg, str(tmp_path), train_examples=200, recipe=classifier_recipe(cfg, "head"))
    assert head.metric_for_best_model == "loss" and not head.greater_is_better


def test_training_args_overrides_and_precision(cfg, tmp_path):
    args = training_args(cfg, str(tmp_path), train_examples=10, num_train_epochs=7, learning_rate=1e-5)
    assert args.num_train_epochs == 7 and args.learning_rate == 1e-5
    with pytest.raises(ValueError, match="train_examples"):
        training_args(cfg, str(tmp_path), train_examples=0)


def lesson_02_arguments(cfg, train_examples: int):
    """The ``TrainingArguments`` lesson 02 spells out, built by running its cell up to ``args = ...``
    (the imports, the step count and the arguments; not the training)."""
    nb = json.loads(LESSON_02.read_text(encoding="utf-8"))
    cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    (source,) = [c for c in cells if "TrainingArguments(" in c]
    body = ast.parse(source).body
    last = next(i for i, node in enumerate(body) if isinstance(node, ast.Assign)
                and [getattr(t, "id", None) for t in node.targets] == ["args"])
    recipes = {m: classifier_recipe(cfg, m) for m in ("full", "partial", "head")}
    namespace = {"cfg": cfg, "encoded": {"train": [None] * train_examples}, "recipes": recipes}
    exec(compile(ast.Module(body=body[: last + 1], type_ignores=[]), str(LESSON_02), "exec"), namespace)
    return namespace["args"]


def test_lesson_02_spells_out_what_training_args_builds(cfg, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the cell's relative output_dir lands here, if anything is written
    n = 157  # not a multiple of the batch size: the last batch of each epoch is short
    shown = lesson_02_arguments(cfg, n).to_dict()
    helper = training_args(cfg, str(tmp_path / "helper"), train_examples=n,
                           recipe=classifier_recipe(cfg, "full")).to_dict()
    shown.pop("output_dir"), helper.pop("output_dir")
    assert shown == helper


def test_every_preset_starts_from_base_args(cfg, tmp_path):
    base = base_args(cfg, str(tmp_path), total_steps=50)
    presets = [training_args(cfg, str(tmp_path), train_examples=200), prediction_args(cfg, str(tmp_path)),
               lm_args(cfg, str(tmp_path), train_examples=200, learning_rate=1e-3)]
    shared = ("report_to", "use_cpu", "dataloader_pin_memory", "seed", "lr_scheduler_type", "bf16", "fp16")
    for args in presets:
        assert {k: getattr(args, k) for k in shared} == {k: getattr(base, k) for k in shared}
    assert base.use_cpu and not base.dataloader_pin_memory and base.seed == cfg.seed
    assert base.warmup_steps == 5 and base_args(cfg, str(tmp_path), total_steps=3).warmup_steps == 1


def test_lm_args_count_the_steps_for_warmup_and_logging(cfg, tmp_path):
    args = lm_args(cfg, str(tmp_path), train_examples=400, learning_rate=1e-3)
    steps = optimizer_steps(400, cfg.sizes.train_batch_size, cfg.sizes.lm_epochs)
    assert args.num_train_epochs == cfg.sizes.lm_epochs and args.learning_rate == 1e-3
    assert args.warmup_steps == round(0.1 * steps) and args.logging_steps == steps // 10
    assert args.save_strategy == "no" and args.disable_tqdm
    fixed = lm_args(cfg, str(tmp_path), train_examples=400, warmup_steps=5, num_train_epochs=8)
    assert fixed.warmup_steps == 5 and fixed.num_train_epochs == 8


def test_prediction_args_do_not_train(cfg, tmp_path):
    args = prediction_args(cfg, str(tmp_path))
    assert args.warmup_steps == 0 and args.per_device_eval_batch_size == cfg.sizes.eval_batch_size


def test_step_counts_and_bad_input(cfg, tmp_path):
    assert optimizer_steps(240, 16, 3) == 45 and optimizer_steps(241, 16, 3) == 48
    assert optimizer_steps(240, 16, 1.5) == 23  # Trainer rounds a fractional last epoch up
    with pytest.raises(ValueError, match="batch_size"):
        optimizer_steps(10, 0, 1)
    with pytest.raises(ValueError, match="epochs"):
        optimizer_steps(10, 4, 0)
    with pytest.raises(ValueError, match="total_steps"):
        base_args(cfg, str(tmp_path), total_steps=-1)
    with pytest.raises(ValueError, match="train_examples"):
        lm_args(cfg, str(tmp_path), train_examples=0)


def count_trainable(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_freeze_layers_on_distilbert():
    model = new_classifier(models.TINY_ENCODER)
    report = freeze_layers(model, 3)
    layers = model.base_model.transformer.layer
    assert all(not p.requires_grad for layer in layers[:3] for p in layer.parameters())
    assert all(p.requires_grad for layer in layers[3:] for p in layer.parameters())
    assert all(not p.requires_grad for p in model.base_model.embeddings.parameters())
    assert all(p.requires_grad for p in model.classifier.parameters())
    assert report.trainable == count_trainable(model) and report.total == parameter_count(model)
    assert "3 of 6 layers" in str(report) and not report.tied_output_frozen


def test_freeze_zero_layers_freezes_only_embeddings():
    model = new_classifier(models.TINY_ENCODER)
    report = freeze_layers(model, 0)
    emb = sum(p.numel() for p in model.base_model.embeddings.parameters())
    assert report.trainable == parameter_count(model) - emb


@pytest.mark.parametrize("make", [
    lambda: BertForSequenceClassification(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=4,
                                                     num_attention_heads=2, intermediate_size=32)),
    lambda: RobertaForSequenceClassification(RobertaConfig(vocab_size=50, hidden_size=16, num_hidden_layers=4,
                                                           num_attention_heads=2, intermediate_size=32)),
], ids=["bert", "roberta"])
def test_freeze_layers_finds_bert_and_roberta_layers(make):
    model = make()
    report = freeze_layers(model, 2)
    layers = model.base_model.encoder.layer
    assert all(not p.requires_grad for p in layers[1].parameters())
    assert all(p.requires_grad for p in layers[2].parameters())
    assert all(not p.requires_grad for p in model.base_model.embeddings.parameters())
    assert report.trainable == count_trainable(model) and report.total_layers == 4


def test_freeze_layers_on_gpt2_reports_the_tied_output_layer():
    lm = AutoModelForCausalLM.from_pretrained(models.TINY_GPT2)
    report = freeze_layers(lm, 2)
    assert report.tied_output_frozen and "tied" in str(report)
    assert not lm.lm_head.weight.requires_grad  # the same tensor as the input embeddings
    assert all(not p.requires_grad for p in lm.transformer.h[1].parameters())
    assert all(p.requires_grad for p in lm.transformer.h[2].parameters())
    assert lm.transformer.ln_f.weight.requires_grad


def test_freeze_layers_bad_n():
    model = new_classifier(models.TINY_ENCODER)
    with pytest.raises(ValueError, match="has 6"):
        freeze_layers(model, 7)
    with pytest.raises(ValueError, match="0 or more"):
        freeze_layers(model, -1)


def test_freeze_backbone_leaves_only_the_head():
    model = new_classifier(models.TINY_ENCODER)
    report = freeze_backbone(model)
    head = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("distilbert."))
    assert report.trainable == head == count_trainable(model)


@pytest.mark.parametrize("labels, error, message", [
    ([0, 1, 3], ValueError, "0..2"), ([0, -1], ValueError, "0..2"), (["a", "b"], TypeError, "label2id"),
    ([0, float("nan")], ValueError, "missing"), ([], ValueError, "empty"), ([0, 1.5], ValueError, "whole"),
])
def test_check_labels(labels, error, message):
    with pytest.raises(error, match=message):
        check_labels(labels, 3)


def small_split(labels=(0, 1, 2), names=data.LABELS):
    features = Features({"text": Value("string"), "label": ClassLabel(names=list(names))})
    part = Dataset.from_dict({"text": ["a b", "c d", "e f"][: len(labels)], "label": list(labels)},
                             features=features)
    return DatasetDict({"train": part, "validation": part})


def test_check_classifier_setup_catches_mismatches():
    tok = AutoTokenizer.from_pretrained(models.TINY_ENCODER)
    model = new_classifier(models.TINY_ENCODER)
    check_classifier_setup(model, tok, small_split())
    with pytest.raises(ValueError, match="disagrees"):
        check_classifier_setup(model, tok, small_split(names=("finance", "medical", "legal")))
    no_text = small_split().rename_column("text", "body")
    with pytest.raises(ValueError, match="no column 'text'"):
        check_classifier_setup(model, tok, no_text)
    empty = DatasetDict({"train": small_split()["train"].select([]), "validation": small_split()["train"]})
    with pytest.raises(ValueError, match="train split is empty"):
        check_classifier_setup(model, tok, empty)
    tiny_vocab = BertForSequenceClassification(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1,
                                                          num_attention_heads=2, intermediate_size=32, num_labels=3,
                                                          id2label=data.id2label(), label2id=data.label2id()))
    with pytest.raises(ValueError, match="tokenizer that belongs"):
        check_classifier_setup(tiny_vocab, tok, small_split())


def test_freeze_the_last_layers_instead_keeps_embeddings_trainable_when_asked():
    lm = AutoModelForCausalLM.from_pretrained(models.TINY_GPT2)
    report = freeze_layers(lm, 2, embeddings=False, which="last")
    assert all(p.requires_grad for p in lm.transformer.h[1].parameters())
    assert all(not p.requires_grad for p in lm.transformer.h[2].parameters())
    assert all(not p.requires_grad for p in lm.transformer.h[3].parameters())
    assert lm.lm_head.weight.requires_grad and not report.tied_output_frozen
    assert str(report).startswith("froze the last 2 of 4 layers")
    with pytest.raises(ValueError, match="'first' or 'last'"):
        freeze_layers(lm, 1, which="middle")
