import pytest
from transformers import AutoTokenizer, DataCollatorForSeq2Seq

from course_utils import data, models
from course_utils.instruct import (CHAT_TEMPLATE, IGNORE_INDEX, encode_example, encode_records,
                                   ensure_pad_token, format_prompt, token_label_table)


@pytest.fixture
def tok():
    return AutoTokenizer.from_pretrained(models.TINY_GPT2)


def test_prompt_formats_with_and_without_input():
    with_input = format_prompt("Classify the note.", "Fever.")
    assert "### Input:\nFever." in with_input and with_input.endswith("### Response:\n")
    assert "### Input" not in format_prompt("Define tort.", "")
    assert format_prompt("Define tort.", None) == format_prompt("Define tort.")
    with pytest.raises(ValueError, match="instruction"):
        format_prompt("  ")


def test_labels_are_the_response_plus_eos_and_mask_only_the_prompt(tok):
    prompt = format_prompt("Summarize.", "The court ruled for the tenant.")
    ex = encode_example(prompt, "The tenant won.", tok, 128)
    n_prompt = len(tok(prompt, add_special_tokens=False)["input_ids"])
    assert ex["labels"][:n_prompt] == [IGNORE_INDEX] * n_prompt
    assert IGNORE_INDEX not in ex["labels"][n_prompt:]
    trained = [t for t in ex["labels"] if t != IGNORE_INDEX]
    assert tok.decode(trained) == "The tenant won." + tok.eos_token
    assert ex["input_ids"][-1] == tok.eos_token_id == ex["labels"][-1]
    assert len(ex["input_ids"]) == len(ex["labels"]) == len(ex["attention_mask"])


def test_separate_tokenization_keeps_the_boundary_where_it_belongs(tok):
    """Tokenizing prompt + response as one string can merge across the boundary; tokenizing them
    apart never shifts the mask: the trained ids are exactly the response's own ids."""
    prompt, response = "Answer:", "yes"  # no space: a merge across ":y" is possible
    ex = encode_example(prompt, response, tok, 32)
    assert [t for t in ex["labels"] if t != IGNORE_INDEX] == tok(response)["input_ids"] + [tok.eos_token_id]


def test_a_response_that_does_not_fit_is_dropped_not_truncated(tok):
    prompt = format_prompt("Summarize.", "word " * 20)
    n_prompt = len(tok(prompt, add_special_tokens=False)["input_ids"])
    assert encode_example(prompt, "A long answer " * 10, tok, n_prompt + 3) is None
    assert encode_example(prompt, "Yes", tok, n_prompt + 1 + len(tok("Yes")["input_ids"])) is not None


def test_bad_input(tok):
    with pytest.raises(ValueError, match="response is empty"):
        encode_example("p", " ", tok, 10)
    with pytest.raises(ValueError, match="longer than the model's context"):
        encode_example("word " * 600, "yes", tok, 10_000)
    with pytest.raises(ValueError, match="max_length"):
        encode_example("p", "r", tok, 1)


def test_pad_token_is_added_without_losing_the_eos_label(tok):
    assert tok.pad_token is None
    message = ensure_pad_token(tok)
    assert tok.pad_token == tok.eos_token and "-100" in message
    assert ensure_pad_token(tok) is None
    short = encode_example(format_prompt("Label it.", "Fever."), "symptom", tok, 64)
    long = encode_example(format_prompt("Summarize.", "A longer input " * 5), "A longer answer.", tok, 128)
    batch = DataCollatorForSeq2Seq(tok, label_pad_token_id=IGNORE_INDEX)([short, long])
    row = batch["labels"][0]
    n = len(short["labels"])
    assert row[n - 1].item() == tok.eos_token_id  # the EOS label survives padding with EOS
    assert (row[n:] == IGNORE_INDEX).all() and (batch["attention_mask"][0][n:] == 0).all()


def test_encode_records_counts_what_was_dropped(tok):
    records = data.load_instructions().head(20)
    result = encode_records(records, tok, 48)
    assert len(result.examples) + len(result.dropped) == 20 and "dropped" in str(result)
    assert all(any(t != IGNORE_INDEX for t in ex["labels"]) for ex in result.examples)
    with pytest.raises(ValueError, match="No records"):
        encode_records([], tok, 48)


def test_token_label_table_and_chat_template(tok):
    ex = encode_example(format_prompt("Label it.", "Fever."), "symptom", tok, 64)
    table = token_label_table(ex, tok)
    assert table["trained"].sum() == sum(t != IGNORE_INDEX for t in ex["labels"])
    tok.chat_template = CHAT_TEMPLATE
    text = tok.apply_chat_template([{"role": "user", "content": "Define tort."}], tokenize=False,
                                   add_generation_prompt=True)
    assert text == "<|user|>\nDefine tort.\n<|assistant|>\n"


def test_records_with_bad_fields_name_the_record_and_the_problem(tok):
    good = {"id": "r1", "instruction": "Define tort.", "input": "", "output": "A civil wrong."}
    with pytest.raises(ValueError, match="r2 lacks \\['output'\\]"):
        encode_records([good, {"id": "r2", "instruction": "Define tort."}], tok, 64)
    with pytest.raises(ValueError, match="r3 lacks \\['instruction'\\]"):
        encode_records([{"id": "r3", "output": "x"}], tok, 64)
    with pytest.raises(ValueError, match="r4: response is empty"):
        encode_records([{**good, "id": "r4", "output": "  "}], tok, 64)
    with pytest.raises(TypeError, match="r5: response must be text, got int"):
        encode_records([{**good, "id": "r5", "output": 3}], tok, 64)
    with pytest.raises(TypeError, match="r6: instruction must be text"):
        encode_records([{**good, "id": "r6", "instruction": ["a"]}], tok, 64)
    with pytest.raises(TypeError, match="r7: input must be text"):
        encode_records([{**good, "id": "r7", "input": 12}], tok, 64)


def test_a_prompt_longer_than_the_context_is_an_error_not_a_crash(tok):
    with pytest.raises(ValueError, match="longer than the model's context"):
        encode_example("word " * 2000, "yes", tok, 4096)


def test_whole_sequence_labels_for_the_ablation(tok):
    prompt = format_prompt("Define tort.")
    ex = encode_example(prompt, "A civil wrong.", tok, 64, mask_prompt=False)
    assert ex["labels"] == ex["input_ids"]
    assert ex["labels"][-1] == tok.eos_token_id


def test_every_bundled_record_that_fits_decodes_to_its_response_plus_eos(tok):
    records = data.load_instructions()
    encoded = encode_records(records, tok, 256)
    kept = records[~records["id"].isin(encoded.dropped)]
    assert len(encoded.examples) == len(kept) > 0.9 * len(records)
    for ex, response in zip(encoded.examples, kept["output"]):
        assert tok.decode([t for t in ex["labels"] if t != IGNORE_INDEX]) == response + tok.eos_token


def test_generate_pads_left_restores_the_side_and_stops(tok):
    from transformers import AutoModelForCausalLM

    from course_utils.instruct import generate

    model = AutoModelForCausalLM.from_pretrained(models.TINY_GPT2)
    ensure_pad_token(tok)
    prompts = [format_prompt("Define tort."), format_prompt("Classify the note.", "Fever for two days and a cough.")]
    batched = generate(model, tok, prompts, max_new_tokens=5)
    one_by_one = [generate(model, tok, [p], max_new_tokens=5)[0] for p in prompts]
    assert batched == one_by_one  # left padding with the attention mask changes nothing
    assert tok.padding_side == "right"
    sampled = generate(model, tok, prompts, max_new_tokens=5, do_sample=True, seed=1)
    assert sampled == generate(model, tok, prompts, max_new_tokens=5, do_sample=True, seed=1)
    with pytest.raises(ValueError, match="context"):
        generate(model, tok, prompts, max_new_tokens=10_000)
    with pytest.raises(ValueError, match="No prompts"):
        generate(model, tok, [], max_new_tokens=5)


def test_exact_match_and_rouge_l():
    from course_utils.instruct import exact_match, rouge_l

    assert exact_match(["Diagnosis.", "treatment plan", ""], ["diagnosis", "symptom", "symptom"]) == [1, 0, 0]
    scores = rouge_l(["the tenant won", "nothing alike"], ["the tenant won", "the tenant won"])
    assert scores[0] == pytest.approx(1.0) and scores[1] == 0.0
    with pytest.raises(ValueError, match="2 predictions for 1"):
        exact_match(["a", "b"], ["a"])


def test_ratings_table():
    import pandas as pd

    from course_utils.instruct import ratings_table

    sheet = pd.DataFrame({"id": ["a", "b", "c"], "response": ["x", "y", "z"]})
    table, summary = ratings_table(sheet, {"a": 5, "c": 2})
    assert list(table["rating"]) == [5, "", 2] and "2 of 3" in summary and "3.50" in summary
    assert "0 of 3" in ratings_table(sheet, {})[1]
    with pytest.raises(ValueError, match="whole number from 1 to 5"):
        ratings_table(sheet, {"a": 6})
    with pytest.raises(ValueError, match="not an id"):
        ratings_table(sheet, {"zz": 3})


def test_judge_applies_each_tasks_rule():
    from course_utils.instruct import OPEN_ANSWER_ROUGE, judge

    assert judge("note_type", " Symptom. The patient", "symptom") == (True, "right")
    assert judge("note_type", "diagnosis", "symptom") == (False, "wrong")
    assert judge("extraction", "$41.2 million.", "$41.2 million")[0]
    assert not judge("extraction", "$41.2", "$41.2 million")[0]
    right, verdict = judge("summary", "The tenant won the case.", "The tenant won the case.")
    assert right and verdict == "right (ROUGE-L 1.00)" and OPEN_ANSWER_ROUGE == 0.5
    right, verdict = judge("definition", "A contract.", "A civil wrong that causes harm or loss.")
    assert not right and verdict.startswith("wrong (ROUGE-L")
    with pytest.raises(ValueError, match="Unknown task 'poem'"):
        judge("poem", "x", "y")


def test_instruction_tune_rejects_what_it_cannot_train_on(tok):
    import course_utils
    from course_utils.instruct import instruction_tune, label_positions_trainer_class

    cfg = course_utils.setup(profile="smoke", verbose=False)
    with pytest.raises(ValueError, match="No examples"):
        instruction_tune(cfg, None, tok, [], learning_rate=1e-3, epochs=1, output_dir="/tmp/x")
    with pytest.raises(TypeError, match="encoded examples"):
        instruction_tune(cfg, None, tok, ["a prompt"], learning_rate=1e-3, epochs=1, output_dir="/tmp/x")
    example = encode_example(format_prompt("Define tort."), "A civil wrong.", tok, 64)
    with pytest.raises(ValueError, match="epochs a whole number"):
        instruction_tune(cfg, None, tok, [example], learning_rate=1e-3, epochs=0, output_dir="/tmp/x")
    with pytest.raises(TypeError, match="WeightAnchor"):
        label_positions_trainer_class()(model=None, anchor=0.1)


def test_response_loss_is_the_loss_on_the_trained_tokens(tiny_gpt2):
    import torch

    from course_utils.instruct import response_loss

    model, tok = tiny_gpt2
    ensure_pad_token(tok)
    short = encode_example(format_prompt("Label it.", "Fever."), "symptom", tok, 64)
    long = encode_example(format_prompt("Summarize.", "A longer input " * 5), "A longer answer.", tok, 128)
    with torch.no_grad():
        losses = [model(**{k: torch.tensor([v]) for k, v in ex.items()}).loss.item() for ex in (short, long)]
    counts = [sum(t != IGNORE_INDEX for t in ex["labels"][1:]) for ex in (short, long)]
    expected = sum(l * n for l, n in zip(losses, counts)) / sum(counts)  # token-weighted, padding ignored
    assert response_loss(model, tok, [short, long], batch_size=2) == pytest.approx(expected, rel=1e-4)
    assert response_loss(model, tok, [short, long], batch_size=1) == pytest.approx(expected, rel=1e-4)
    with pytest.raises(ValueError, match="No examples"):
        response_loss(model, tok, [])


def test_anchor_adds_its_penalty_to_the_label_positions_loss(tok):
    import torch
    from transformers import AutoModelForCausalLM

    from course_utils.forgetting import WeightAnchor
    from course_utils.instruct import label_positions_loss, label_positions_trainer_class

    model = AutoModelForCausalLM.from_pretrained(models.TINY_GPT2).eval()
    ensure_pad_token(tok)
    batch = DataCollatorForSeq2Seq(tok, label_pad_token_id=IGNORE_INDEX)(
        [encode_example(format_prompt("Label it.", "Fever."), "symptom", tok, 64)])
    anchor = WeightAnchor(model, strength=1.0)
    with torch.no_grad():
        model.transformer.h[0].mlp.c_fc.weight.add_(0.01)  # move one tensor away from the anchor
        trainer = object.__new__(label_positions_trainer_class())  # compute_loss needs no training state
        trainer.anchor = anchor
        loss = trainer.compute_loss(model, batch)
        penalty = anchor.penalty(model).item()
        assert penalty > 0
        assert loss.item() == pytest.approx(label_positions_loss(model, batch).item() + penalty, rel=1e-5)
        # One process on several GPUs: Trainer wraps the model in DataParallel, which has no
        # base_model; the loss goes through the wrapper's forward, the anchor reads the model inside.
        wrapped = trainer.compute_loss(torch.nn.DataParallel(model), batch)
        assert wrapped.item() == pytest.approx(loss.item(), rel=1e-5)


def test_the_tiny_recipe_is_the_one_chosen_on_validation():
    """lesson 05's smoke recipe is what tools/sweep_instruct.py chose on validation, and more epochs
    at the chosen rate did not score better there (the schedule was long enough)."""
    import json
    from pathlib import Path

    from course_utils import recipes

    root = Path(__file__).resolve().parents[1]
    log = json.loads((root / "tools" / "logs" / "sweep_instruct_smoke.json").read_text())
    tiny = recipes.INSTRUCTION_TINY
    assert (tiny.learning_rate, tiny.epochs, tiny.anchor_strength) == (
        log["chosen"]["learning_rate"], log["chosen"]["epochs"], log["chosen"]["anchor_strength"])
    at_rate = [r for r in log["recipes"] if r["learning_rate"] == tiny.learning_rate]
    chosen = next(r for r in at_rate if r["epochs"] == tiny.epochs)
    tolerance = log["tolerance"] + 1e-9
    # converged: at the chosen rate, fewer epochs had a higher note-type validation loss, and more
    # epochs (longer runs than the lesson can afford, in the log to show this) improved neither the
    # balanced exact match beyond one prompt nor the loss by more than 5%: validation had levelled off
    assert all(r["val_note_loss"] > chosen["val_note_loss"] for r in at_rate if r["epochs"] < tiny.epochs)
    longer = [r for r in at_rate if r["epochs"] > tiny.epochs]
    assert longer
    assert all(r["val_balanced_exact_match"] <= chosen["val_balanced_exact_match"] + tolerance for r in longer)
    assert all(r["val_note_loss"] >= 0.95 * chosen["val_note_loss"] for r in longer)
    anchored = next(r for r in log["anchors"] if r["strength"] == tiny.anchor_strength)
    assert anchored["val_general_ppl"] < chosen["val_general_ppl"], "the anchor forgets less on validation"
    assert anchored["val_balanced_exact_match"] >= chosen["val_balanced_exact_match"] - tolerance
    assert recipes.INSTRUCTION_REAL.learning_rate == 2e-5 and recipes.INSTRUCTION_REAL.epochs == 3
    # what the tiny recipe's `why` says: the real recipe's range taught the tiny model nothing
    at_real_rate = [r for r in log["recipes"] if r["learning_rate"] == 3e-5]
    assert max(r["epochs"] for r in at_real_rate) == 15 and all(r["val_exact_match"] == 0 for r in at_real_rate)
    # the log was made on the validation split the package ships (rebuilt data needs a new sweep)
    assert log["validation_records"] == len(data.load_instructions("validation"))


def test_instruction_recipe_per_model_and_quick_pass():
    from dataclasses import replace

    import course_utils
    from course_utils import recipes

    smoke = course_utils.setup(profile="smoke", verbose=False)
    assert recipes.instruction_recipe(smoke) == recipes.INSTRUCTION_TINY
    real = replace(smoke, sizes=replace(smoke.sizes, causal_lm="gpt2"))
    assert recipes.instruction_recipe(real) == recipes.INSTRUCTION_REAL
    assert recipes.instruction_recipe(smoke, quick=True).epochs == recipes.INSTRUCTION_QUICK_EPOCHS
    with pytest.raises(ValueError, match="at least one epoch"):
        recipes.InstructionRecipe(1e-3, 0, 0.1, "", "", "")
