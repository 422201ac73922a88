"""Lessons 02, 03 and 05's code paths on models a learner may bring: small random BERT, RoBERTa,
DistilBERT and GPT-2 models built from their configs, with tokenizers trained here, saved to a
folder and passed to ``setup`` as the lessons pass ``ENCODER`` / ``CAUSAL_LM`` (``tests/any_model.py``).

Nothing here is about quality (the weights are random): each test checks that the helpers find
what they need from the model (layers, attention projections, heads, pad tokens, context length)
and never from its name.
"""

import json

import numpy as np
import pytest
import torch
from any_model import CONTEXT, ENCODERS, build
from transformers import AutoModelForCausalLM, AutoTokenizer

import course_utils
from course_utils import data, evaluation, lora, models, recipes, training
from course_utils.classifier import (fine_tune, mean_pooled_features, new_classifier, tokenize_splits,
                                     train_or_load_classifier)


@pytest.fixture(scope="session")
def folders(tmp_path_factory):
    """Every kind's folder, built once per test process."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("any-model")
    return {kind: build(kind, root) for kind in (*ENCODERS, "gpt2")}


def encoder_setup(folder):
    cfg = course_utils.setup(profile="smoke", encoder=folder, verbose=False, max_train_examples=24,
                             max_eval_examples=12)
    tokenizer = models.load_pretrained(AutoTokenizer, cfg.encoder)
    splits = data.load_domain_splits(max_train=cfg.sizes.max_train_examples, max_eval=cfg.sizes.max_eval_examples)
    return cfg, tokenizer, splits, tokenize_splits(splits, tokenizer, cfg.sizes.max_length)


def one_epoch(cfg, method="full"):
    return recipes.classifier_recipe(cfg, method).capped(1)


@pytest.mark.parametrize("kind", ENCODERS)
def test_lesson_02_runs_on_the_encoder(kind, folders, tmp_path):
    cfg, tokenizer, splits, encoded = encoder_setup(folders[kind])
    assert cfg.own_models == ("encoder",) and recipes.uses_tiny_recipe(cfg) is False
    assert recipes.classifier_recipe(cfg, "full") == recipes.REAL["full"]  # the real-model recipe, not the tiny one
    context = models.context_length(new_classifier(cfg.encoder))
    assert context == CONTEXT  # RoBERTa's two offset rows are not context
    assert max(len(ids) for ids in encoded["train"]["input_ids"]) == min(cfg.sizes.max_length, context)

    partial = new_classifier(cfg.encoder)
    report = training.freeze_layers(partial, partial.config.num_hidden_layers // 2)
    assert (report.frozen_layers, report.total_layers) == (1, 2) and 0 < report.trainable < report.total
    backbone = new_classifier(cfg.encoder)
    head = training.freeze_backbone(backbone)
    assert 0 < head.trainable < head.total and not any(p.requires_grad for p in backbone.base_model.parameters())
    adapted = lora.add_lora(new_classifier(cfg.encoder), r=2)
    assert any("lora_A" in name for name, _ in adapted.named_parameters())
    features = mean_pooled_features(backbone, tokenizer, splits["validation"]["text"], cfg.sizes.max_length)
    assert features.shape == (len(splits["validation"]), backbone.config.hidden_size)
    random = new_classifier(cfg.encoder, pretrained=False)  # lesson 02's control: same architecture, new weights
    assert not torch.equal(random.get_input_embeddings().weight, backbone.get_input_embeddings().weight)

    run = fine_tune(cfg, new_classifier(cfg.encoder), tokenizer, encoded, output_dir=str(tmp_path / "full"),
                    recipe=one_epoch(cfg))
    assert [row["epoch"] for row in run.history if "eval_macro_f1" in row] == [1.0]
    run = fine_tune(cfg, adapted, tokenizer, encoded, output_dir=str(tmp_path / "lora"), recipe=one_epoch(cfg))
    logits = run.trainer.predict(encoded["test"]).predictions
    assert logits.shape == (len(splits["test"]), len(data.LABELS)) and np.isfinite(logits).all()


def lesson_03(model, tokenizer, cfg, splits, encoded, tmp_path):
    """Lesson 03's cells after the classifier is loaded: predictions by id, the report, the
    confusion matrix, the error analysis and calibration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import classification_report
    from transformers import DataCollatorWithPadding, Trainer

    from course_utils import advice

    labels = list(data.LABELS)
    predictor = Trainer(model=model, processing_class=tokenizer, data_collator=DataCollatorWithPadding(tokenizer),
                        args=training.prediction_args(cfg, str(tmp_path / "predict")))
    output = predictor.predict(encoded["test"])
    predictions = evaluation.prediction_frame(output.predictions, splits["test"], labels, ids=encoded["test"]["id"])
    assert len(predictions) == len(splits["test"])
    report = classification_report(predictions["true"], predictions["predicted"], labels=labels, output_dict=True,
                                   zero_division=0)
    scores = advice.class_scores(predictions["true"], predictions["predicted"], labels)
    advice.scores_table(scores)
    evaluation.plot_confusion(predictions["true"], predictions["predicted"], labels)
    plt.close("all")
    pairs = advice.confusion_pairs(predictions["true"], predictions["predicted"], labels)
    errors = evaluation.error_table(predictions)
    hard = advice.accuracy_difference(predictions["correct"], predictions["hard"])
    markers = advice.class_markers(splits["train"]["text"], [labels[i] for i in splits["train"]["label"]])
    cues = advice.cue_evidence(predictions["text"], predictions["true"], predictions["predicted"], markers)
    baseline_wrong = predictions["true"] != "medical"  # always "medical": a second model's errors
    overlap = advice.error_overlap(~predictions["correct"], baseline_wrong)
    ece = evaluation.expected_calibration_error(predictions["confidence"], predictions["correct"])
    gap = advice.confidence_gap(predictions["confidence"], predictions["correct"])
    temperature = evaluation.fit_temperature(predictor.predict(encoded["validation"]).predictions,
                                             encoded["validation"]["label"])
    scaled = evaluation.prediction_frame(output.predictions / temperature, splits["test"], labels,
                                         ids=encoded["test"]["id"])
    advice.next_steps({"class_scores": scores, "confusions": pairs, "cues": cues, "hard": hard, "gap": gap,
                       "ece": ece, "overlap": overlap, "scaled": {
                           "temperature": temperature,
                           "ece_after": evaluation.expected_calibration_error(scaled["confidence"], scaled["correct"])}})
    return report, errors


@pytest.mark.parametrize("kind", ENCODERS)
def test_lesson_03_runs_on_the_encoder(kind, folders, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    cfg, _, splits, _ = encoder_setup(folders[kind])
    model, tokenizer, info = train_or_load_classifier(cfg, quick=True)
    assert info["encoder"] == folders[kind] and info["learning_rate"] == recipes.REAL["full"].learning_rate
    assert 1 <= info["epochs_run"] <= recipes.QUICK_EPOCHS
    encoded = tokenize_splits(splits, tokenizer, cfg.sizes.max_length)  # the reloaded tokenizer, as lesson 03 uses
    report, errors = lesson_03(model, tokenizer, cfg, splits, encoded, tmp_path)
    assert 0 <= report["accuracy"] <= 1 and len(errors) == round((1 - report["accuracy"]) * len(splits["test"]))


def test_a_longer_max_length_than_the_context_is_clipped_or_named(folders, tmp_path):
    """A profile's max_length above the model's context: tokenizing clips to the tokenizer's
    context, and training on longer inputs is stopped with a message before torch fails on them."""
    cfg = course_utils.setup(profile="smoke", encoder=folders["roberta"], verbose=False, max_length=4 * CONTEXT,
                             max_train_examples=12, max_eval_examples=12)
    tokenizer = AutoTokenizer.from_pretrained(cfg.encoder)
    splits = data.load_domain_splits(max_train=12, max_eval=12)
    with pytest.warns(UserWarning, match=f"context of {CONTEXT}"):
        encoded = tokenize_splits(splits, tokenizer, cfg.sizes.max_length)
    assert max(len(ids) for ids in encoded["test"]["input_ids"]) == CONTEXT
    tokenizer.model_max_length = int(1e30)  # a tokenizer that does not know its model's context
    too_long = tokenize_splits(splits, tokenizer, cfg.sizes.max_length)
    model = new_classifier(cfg.encoder)
    with pytest.raises(ValueError, match=f"holds {CONTEXT} tokens: tokenize with max_length={CONTEXT} or less"):
        fine_tune(cfg, model, tokenizer, too_long, output_dir=str(tmp_path), recipe=one_epoch(cfg))
    features = mean_pooled_features(model, tokenizer, splits["test"]["text"][:4], cfg.sizes.max_length)
    assert features.shape == (4, model.config.hidden_size)  # clipped to the model's context, not an index error


def test_lesson_05_runs_on_gpt2(folders, tmp_path):
    from course_utils import corpus
    from course_utils.forgetting import perplexity
    from course_utils.instruct import (CHAT_TEMPLATE, encode_example, encode_records, ensure_pad_token,
                                       exact_match_scores, format_prompt, generate, instruction_tune,
                                       label_positions_loss, response_loss, token_label_table)

    cfg = course_utils.setup(profile="smoke", causal_lm=folders["gpt2"], verbose=False)
    assert cfg.own_models == ("causal_lm",) and recipes.instruction_recipe(cfg) == recipes.INSTRUCTION_REAL
    tokenizer = models.load_pretrained(AutoTokenizer, cfg.causal_lm)
    tokenizer.chat_template = CHAT_TEMPLATE
    assert tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False,
                                         add_generation_prompt=True).endswith("<|assistant|>\n")
    assert tokenizer.pad_token is None and "no pad token" in ensure_pad_token(tokenizer)
    table = token_label_table(encode_example(format_prompt("Classify the note.", "Fever."), "symptom", tokenizer, 64),
                              tokenizer)
    assert table["trained"].sum() == len(tokenizer("symptom")["input_ids"]) + 1  # the response and its EOS

    model = models.load_pretrained(AutoModelForCausalLM, cfg.causal_lm)
    assert models.context_length(model) == CONTEXT
    train = data.load_instructions("train")
    encoded = encode_records(train, tokenizer, cfg.sizes.max_length * 2)  # lesson 05's MAX_LENGTH
    assert encoded.dropped and max(len(e["input_ids"]) for e in encoded.examples) <= CONTEXT
    examples = encoded.examples[:8]
    before = response_loss(model, tokenizer, examples)
    run = instruction_tune(cfg, model, tokenizer, examples, learning_rate=1e-3, epochs=2,  # the first step warms up
                           output_dir=str(tmp_path / "tune"))
    assert run.steps == 2 and response_loss(model, tokenizer, examples) != before

    heldout = data.load_instructions("heldout")
    notes = heldout[heldout["task"] == "note_type"].head(4)
    assert generate(model, tokenizer, [format_prompt(r.instruction, r.input) for r in notes.itertuples()],
                    max_new_tokens=4, do_sample=True, seed=0)
    assert set(exact_match_scores(model, tokenizer, notes)) <= {0, 1}
    assert perplexity(model, tokenizer, corpus.general_text("heldout")[:10]) > 1

    adapted = lora.add_lora(models.load_pretrained(AutoModelForCausalLM, cfg.causal_lm), r=2, task="causal_lm")
    assert adapted.peft_config["default"].fan_in_fan_out  # GPT-2's Conv1D projections, found from the layers
    from transformers import DataCollatorForSeq2Seq

    batch = DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=-100)(examples[:2])
    assert torch.isclose(label_positions_loss(adapted, batch), adapted(**batch).loss, atol=1e-5)


def test_gpt2_freezing_reports_the_tied_output_layer(folders):
    model = models.load_pretrained(AutoModelForCausalLM, folders["gpt2"])
    report = training.freeze_layers(model, 1)
    assert report.tied_output_frozen and (report.frozen_layers, report.total_layers) == (1, 2)


def test_a_tokenizer_without_what_a_helper_needs_is_named(folders):
    from course_utils.forgetting import masked_lm_loss
    from course_utils.instruct import encode_example, ensure_pad_token
    from course_utils.lm import lm_blocks

    tokenizer = AutoTokenizer.from_pretrained(folders["gpt2"])
    with pytest.raises(ValueError, match="has no pad token.*pad_token = tokenizer.eos_token"):
        tokenize_splits(data.load_domain_splits(max_train=3, max_eval=3), tokenizer, 32)
    with pytest.raises(ValueError, match="no mask_token: masked-LM loss needs a BERT-style tokenizer"):
        masked_lm_loss(models.load_pretrained(AutoModelForCausalLM, folders["gpt2"]), tokenizer, ["Some text."])
    tokenizer.eos_token = None
    with pytest.raises(ValueError, match="neither a pad token nor an EOS token: add one"):
        ensure_pad_token(tokenizer)
    with pytest.raises(ValueError, match="no EOS token, so the model could not learn to stop: add one"):
        encode_example("### Instruction:\nDefine tort.\n\n### Response:\n", "A civil wrong.", tokenizer, 64)
    with pytest.raises(ValueError, match="no EOS token to separate texts with: add one"):
        lm_blocks(tokenizer, ["Some text."] * 4, 8)


@pytest.mark.parametrize("kind", ENCODERS)
def test_the_masked_lm_measure_runs_on_the_encoder(kind, folders):
    """Lessons 04 and 06 measure an encoder's forgetting as its masked-LM loss, with the pretrained
    head put back on a classifier's encoder: RoBERTa's tokens (``<s>``, ``</s>``, ``<mask>``) serve
    as well as BERT's, at the default window of 128 tokens; BERT's classifier has a pooler the
    masked-LM model lacks, which is left out."""
    from transformers import AutoModelForMaskedLM

    from course_utils.forgetting import masked_lm_from_classifier, masked_lm_loss

    tokenizer = AutoTokenizer.from_pretrained(folders[kind])
    texts = list(data.load_domain_frame()["text"][:6])
    pretrained = masked_lm_loss(AutoModelForMaskedLM.from_pretrained(folders[kind]), tokenizer, texts)
    rebuilt = masked_lm_from_classifier(new_classifier(folders[kind]), folders[kind])
    assert masked_lm_loss(rebuilt, tokenizer, texts) == pytest.approx(pretrained, rel=1e-5)  # the same encoder


def test_an_example_longer_than_the_context_is_named_before_training(folders, tmp_path):
    from course_utils.instruct import ensure_pad_token, instruction_tune, response_loss
    from course_utils.lm import continue_pretraining

    cfg = course_utils.setup(profile="smoke", causal_lm=folders["gpt2"], verbose=False)
    model = models.load_pretrained(AutoModelForCausalLM, cfg.causal_lm)
    tokenizer = AutoTokenizer.from_pretrained(cfg.causal_lm)
    ensure_pad_token(tokenizer)
    long = {"input_ids": [5] * (CONTEXT + 1), "attention_mask": [1] * (CONTEXT + 1), "labels": [5] * (CONTEXT + 1)}
    with pytest.raises(ValueError, match=f"holds {CONTEXT}: encode with max_length={CONTEXT} or less"):
        instruction_tune(cfg, model, tokenizer, [long], learning_rate=1e-3, epochs=1, output_dir=str(tmp_path))
    with pytest.raises(ValueError, match=f"holds {CONTEXT}"):
        response_loss(model, tokenizer, [long])
    with pytest.raises(ValueError, match=f"block_size={CONTEXT + 1} is longer than the model's context of {CONTEXT}"):
        continue_pretraining(cfg, model, tokenizer, ["Some text."] * 50, name="x", learning_rate=1e-3,
                             output_dir=str(tmp_path), block_size=CONTEXT + 1)


@pytest.mark.parametrize("kind", [*ENCODERS, "gpt2"])
def test_the_attention_projections_are_found_from_the_layers(kind, folders):
    """What lora.TARGETS names for each architecture the course names is what the model's own
    layers give, and GPT-2's Conv1D projections are recognised as such."""
    from transformers import AutoModel

    model = AutoModel.from_pretrained(folders[kind])
    names = lora.query_value_modules(model)
    assert names == list(lora.TARGETS[model.config.model_type])
    assert lora.is_fan_in_fan_out(model, names) is (model.config.model_type in lora.FAN_IN_FAN_OUT)


def test_default_lora_targets_are_found_in_an_unknown_architecture():
    """A model type the course has no entry for: its attention queries and values are found from
    the layers, and a model without them is told which layers it has."""
    from transformers import ElectraConfig, ElectraForSequenceClassification

    model = ElectraForSequenceClassification(ElectraConfig(
        vocab_size=64, embedding_size=16, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, num_labels=3))
    assert model.config.model_type not in lora.TARGETS
    assert lora.target_modules(model) == ["query", "value"]
    mlp = torch.nn.Sequential(torch.nn.Linear(4, 4))
    mlp.config = type("Config", (), {"model_type": "mlp"})()
    with pytest.raises(ValueError, match="pass targets="):
        lora.target_modules(mlp)


def test_an_encoder_without_its_masked_lm_head_is_refused(folders, tmp_path):
    """Lesson 04 measures forgetting with the encoder's word-prediction head; a checkpoint saved without
    it (a bare encoder) would load with a random head, so the course says so instead."""
    from transformers import AutoModel

    from course_utils.forgetting import load_masked_lm

    AutoModel.from_pretrained(folders["bert"]).save_pretrained(tmp_path / "bare")
    AutoTokenizer.from_pretrained(folders["bert"]).save_pretrained(tmp_path / "bare")
    with pytest.raises(ValueError, match="no trained masked-LM head"):
        load_masked_lm(str(tmp_path / "bare"))
    with pytest.raises(ValueError, match="has no masked-LM form"):
        load_masked_lm(folders["gpt2"])
    assert type(load_masked_lm(folders["roberta"])).__name__ == "RobertaForMaskedLM"


def test_setup_names_the_learners_model_and_records_elsewhere(folders, tmp_path, monkeypatch):
    """ENCODER / COURSE_ENCODER choose the model; the summary names it, the real-model recipes apply, and
    its results go to their own folder, never over the profile's."""
    monkeypatch.setenv("COURSE_ENCODER", folders["roberta"])
    cfg = course_utils.setup(profile="cpu", verbose=False)
    assert cfg.encoder == folders["roberta"] and cfg.own_models == ("encoder",)
    assert f"{folders['roberta']} (local folder)  <- yours" in cfg.summary()
    assert not recipes.uses_tiny_recipe(cfg)
    res = course_utils.Results("02_classification_finetuning", config=cfg, folder=tmp_path)
    res.record("x", 1)
    assert res.path.parent.parent == tmp_path / "own-models"
    saved = json.loads(res.path.read_text())
    assert saved["models"]["encoder"] == f"{folders['roberta']} (local folder)"
    assert saved["own_models"] == ["encoder"]
    assert not (tmp_path / "02_classification_finetuning.json").exists()
    # the argument wins over the environment, and None means the profile's
    cfg = course_utils.setup(profile="smoke", encoder=models.TINY_ENCODER, verbose=False)
    assert cfg.own_models == ()
