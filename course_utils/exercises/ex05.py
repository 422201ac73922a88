"""Exercise 05: the prompt, the labels, what is dropped, exact match against a baseline, padding
and the splits (lesson 05).

Everything here is recomputed from the bundled instruction records with ``course_utils.instruct``
and the tokenizer the learner used (the bundled tiny GPT-2's always; ``gpt2``'s when it is
already on this machine). Generated answers come from a model, so they are checked for
consistency: the exact-match rate must be the one the answers score.
"""

from __future__ import annotations

import re
from functools import lru_cache

from course_utils.exercises import checks, lm_checks
from course_utils.exercises.core import Question, QuestionSet, Wrong

PROMPT_IDS = {"prompt_with_input": "note_type-002", "prompt_without_input": "definition-001"}
ENCODE_ID, ENCODE_MAX_LENGTH = "definition-002", 128
DROP_MAX_LENGTH = 128


@lru_cache(maxsize=None)
def _records():
    from course_utils import data

    return data.load_instructions()


def record(record_id: str) -> dict:
    frame = _records()
    return frame[frame["id"] == record_id].iloc[0].to_dict()


def train_records():
    frame = _records()
    return frame[frame["split"] == "train"]


def note_type_heldout():
    frame = _records()
    return frame[(frame["split"] == "heldout") & (frame["task"] == "note_type")]


# ----------------------------------------------------------------------------- q1


def prompt_problem(given, expected: str, name: str, *, has_input: bool, response: str) -> None:
    """Nothing when ``given`` is ``expected``; otherwise :class:`Wrong` naming the first mistake.

    >>> try:
    ...     prompt_problem("### Instruction:\\nDo it.\\n### Response:\\n",
    ...                    "### Instruction:\\nDo it.\\n\\n### Response:\\n", "p", has_input=False, response="Done.")
    ... except Wrong as wrong:
    ...     print(wrong)
    `p`: a blank line is missing (or one too many) between the sections: each section ends with an empty line before the next '###' header.
    """
    if not isinstance(given, str):
        raise Wrong(f"`{name}` should be the prompt as one string.")
    if given == expected:
        return
    if "### Response:" not in given:
        raise Wrong(f"`{name}` lacks the '### Response:' header, the line the model learns to continue from.")
    if response.strip() and response.strip() in given.split("### Response:", 1)[1]:
        raise Wrong(f"`{name}` contains the response: the prompt ends with '### Response:' and a newline; "
                    "the model writes the response after it.")
    if "### Instruction:" not in given:
        raise Wrong(f"`{name}` lacks the '### Instruction:' header before the instruction.")
    if has_input and "### Input:" not in given:
        raise Wrong(f"this record has an input: `{name}` needs an '### Input:' section between the "
                    "instruction and the response.")
    if not has_input and "### Input:" in given:
        raise Wrong(f"this record has no input: leave the '### Input:' section out of `{name}` entirely "
                    "(not an empty one).")
    if given.rstrip("\n") == expected.rstrip("\n"):
        raise Wrong(f"`{name}` should end with a newline right after '### Response:' (the response starts "
                    "on the next line), and nothing after it.")
    if re.sub(r"\n+", "\n", given) == re.sub(r"\n+", "\n", expected):
        raise Wrong(f"`{name}`: a blank line is missing (or one too many) between the sections: each section "
                    "ends with an empty line before the next '###' header.")
    if " ".join(given.split()) == " ".join(expected.split()):
        raise Wrong(f"`{name}` has the right words but different spacing: compare print(repr({name})) with "
                    "the format in the lesson.")
    first = next((i for i, (a, b) in enumerate(zip(given, expected)) if a != b), min(len(given), len(expected)))
    raise Wrong(f"`{name}` differs from the lesson's format from character {first} on: you have "
                f"{given[first:first + 30]!r}, the format has {expected[first:first + 30]!r}.")


def check_prompts(values, workdir):
    from course_utils.instruct import format_prompt

    for name, record_id in PROMPT_IDS.items():
        row = record(record_id)
        expected = format_prompt(row["instruction"], row["input"])
        prompt_problem(values[name], expected, name, has_input=bool(row["input"].strip()), response=row["output"])


# ----------------------------------------------------------------------------- q2


def _encode_parts(tokenizer) -> tuple[list[int], list[int]]:
    from course_utils.instruct import format_prompt

    row = record(ENCODE_ID)
    prompt = tokenizer(format_prompt(row["instruction"], row["input"]), add_special_tokens=False)["input_ids"]
    response = tokenizer(row["output"], add_special_tokens=False)["input_ids"]
    return prompt, response


def check_labels(values, workdir):
    from course_utils.instruct import IGNORE_INDEX

    given = checks.int_list(values["example_labels"], "example_labels")
    n_trained = checks.number(values["n_trained"], "n_trained", whole=True, low=0)
    tokenizers = lm_checks.causal_tokenizers()
    chosen = None
    for name, tokenizer in tokenizers.items():
        prompt, response = _encode_parts(tokenizer)
        if len(given) == len(prompt) + len(response) + 1 or tokenizer.eos_token_id in given:
            chosen = (tokenizer, prompt, response)
            break
    tokenizer, prompt, response = chosen or (tokenizers[lm_checks.CAUSAL_LMS[0]], *_encode_parts(
        tokenizers[lm_checks.CAUSAL_LMS[0]]))
    lm_checks.instruction_labels(given, "example_labels", prompt_ids=prompt, response_ids=response,
                              eos_id=tokenizer.eos_token_id)
    want = sum(v != IGNORE_INDEX for v in given)
    if n_trained == want:
        return None
    if n_trained == want - 1:
        raise Wrong("n_trained leaves out the EOS; it is trained too (its label is the EOS id, not -100).")
    if n_trained == len(prompt):
        raise Wrong("that is the number of masked positions (the prompt); count the positions the loss trains on.")
    raise Wrong(f"n_trained is {n_trained}; {want} of your labels are not -100.")


# ----------------------------------------------------------------------------- q3


@lru_cache(maxsize=None)
def drop_counts() -> dict:
    """Per tokenizer: records dropped at DROP_MAX_LENGTH, and the counts of plausible mistakes."""
    from course_utils.instruct import encode_records, format_prompt

    rows = train_records()
    out = {}
    for name, tokenizer in lm_checks.causal_tokenizers().items():
        prompts = [len(tokenizer(format_prompt(r.instruction, r.input), add_special_tokens=False)["input_ids"])
                   for r in rows.itertuples()]
        responses = [len(tokenizer(o, add_special_tokens=False)["input_ids"]) for o in rows["output"]]
        dropped = len(encode_records(rows, tokenizer, DROP_MAX_LENGTH).dropped)
        out[name] = {"dropped": dropped, "kept": len(rows) - dropped,
                     "no_eos": sum(p + r > DROP_MAX_LENGTH for p, r in zip(prompts, responses)),
                     "prompt_only": sum(p > DROP_MAX_LENGTH for p in prompts)}
    return out


def check_dropped(values, workdir):
    n = checks.number(values["n_dropped"], "n_dropped", whole=True, low=0)
    counts = drop_counts()
    for name, ref in counts.items():
        if n == ref["dropped"]:
            return f"with {name}'s tokenizer."
    for name, ref in counts.items():
        if n == ref["kept"] and ref["kept"] != ref["dropped"]:
            raise Wrong(f"{n} is the number of records kept; count those dropped.")
        if n == ref["no_eos"] and ref["no_eos"] != ref["dropped"]:
            raise Wrong("the EOS token counts too: a record is dropped when prompt + response + EOS exceed "
                        f"max_length={DROP_MAX_LENGTH}.")
        if n == ref["prompt_only"] and ref["prompt_only"] != ref["dropped"]:
            raise Wrong("that counts the prompts longer than max_length; a record is dropped when its prompt, "
                        "response and EOS together do not fit.")
    ref = counts[lm_checks.CAUSAL_LMS[0]]
    raise Wrong(f"n_dropped is {n}; encode_records(train_records, tokenizer, {DROP_MAX_LENGTH}) drops "
                f"{ref['dropped']} of the {len(train_records())} training records with the bundled tokenizer. "
                "Use len(encoded.dropped).")


# ----------------------------------------------------------------------------- q4


def check_exact_match(values, workdir):
    from course_utils.instruct import exact_match

    answers = values["untuned_answers"]
    references = note_type_heldout()["output"].tolist()
    if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        raise Wrong("untuned_answers should be the list of generated answers (strings), one per prompt.")
    if len(answers) != len(references):
        raise Wrong(f"untuned_answers has {len(answers)} answers; there are {len(references)} held-out "
                    "note-type prompts.")
    rate = checks.fraction(values["untuned_exact_match"], "untuned_exact_match")
    majority = checks.fraction(values["majority_rate"], "majority_rate")
    scores = exact_match(answers, references)
    want = sum(scores) / len(scores)
    if abs(rate - want) > 1e-6:
        strict = sum(a == r for a, r in zip(answers, references)) / len(answers)
        if abs(rate - strict) <= 1e-6:
            raise Wrong("that compares the whole answers character by character; exact match here compares "
                        "the answer's first word, lowercased and without punctuation, with the label.")
        if abs(rate - sum(scores)) <= 1e-6 and len(scores) > 1:
            raise Wrong("that is a count of matches; give the rate (matches / prompts).")
        raise Wrong(f"untuned_exact_match is {rate:.3f}, but your answers score {want:.3f} with exact_match.")
    counts = note_type_heldout()["output"].value_counts()
    want_majority = float(counts.max() / counts.sum())
    if abs(majority - want_majority) > 1e-6:
        raise Wrong(f"majority_rate is {majority:.3f}; always answering {counts.idxmax()!r}, the most common "
                    f"held-out label, is right for {want_majority:.3f} of the held-out prompts.")
    return (f"the untuned model scores {want:.3f}; no constant answer scores more than {want_majority:.3f} "
            f"(always {counts.idxmax()!r}).")


# ----------------------------------------------------------------------------- q5


def check_padding(values, workdir):
    side = values["generation_padding_side"]
    if not isinstance(side, str):
        raise Wrong("generation_padding_side should be text: 'left' or 'right'.")
    side = side.strip().strip("'\"").lower()
    if side == "right":
        raise Wrong("with right padding the pad tokens sit between a short prompt and the tokens the model "
                    "writes next; a decoder-only model continues from the last position, so pad on the other side.")
    if side != "left":
        raise Wrong(f"generation_padding_side is {side!r}; answer 'left' or 'right'.")
    reason = checks.text(values["padding_reason"], "padding_reason", min_words=8).lower()
    if not re.search(r"last|end|continu|next|after|right after|follow", reason):
        raise Wrong("padding_reason should say why: where does the model start writing, and what would stand "
                    "between a short prompt and its answer with the other side?")
    return None


# ----------------------------------------------------------------------------- q6


def check_splits(values, workdir):
    from course_utils import data

    n = checks.number(values["n_validation"], "n_validation", whole=True, low=0)
    want = len(data.load_instructions("validation"))
    if n != want:
        if n == len(data.load_instructions("heldout")):
            raise Wrong("that is the number of held-out records; count the validation split.")
        if n == len(train_records()):
            raise Wrong("that is the number of training records; count the validation split.")
        raise Wrong(f"n_validation is {n}; data.load_instructions('validation') holds {want} records.")
    split = checks.text(values["choose_on"], "choose_on").strip("'\"").lower()
    if split in ("heldout", "held-out", "test"):
        raise Wrong("a held-out score is only an honest estimate while the held-out prompts chose nothing: pick the "
                    "recipe with the best held-out score and that score flatters it. Which split is set aside for "
                    "choosing?")
    if split == "train":
        raise Wrong("the training loss keeps falling as the model memorises its training records, so it cannot tell "
                    "when more epochs stop helping on new prompts. Choose on records it does not train on.")
    if split != "validation":
        raise Wrong(f"choose_on is {split!r}; answer 'train', 'validation' or 'heldout'.")
    return None


# Raise when a question changes what it asks, its variables or its check: notebooks record the
# version they were made for, and the grader warns about a submission made for another one.
# Version 2: q6 asks about the splits. Version 3: the held-out note types hold the same number of each
# label, and the majority baseline is the best constant answer on them.
VERSION = 3

QUESTIONS = QuestionSet("ex05", "Exercise 05 · Instruction data, done right", [
    Question(
        "q1", f"Write the prompts of records {PROMPT_IDS['prompt_with_input']!r} (with an input) and "
              f"{PROMPT_IDS['prompt_without_input']!r} (without) by hand, in the lesson's format. Set "
              "`prompt_with_input` and `prompt_without_input`.",
        ("prompt_with_input", "prompt_without_input"), check_prompts,
        hints=("print(format_prompt('Do it.', 'Some input.')) shows the format: compare with repr().",
               "Headers '### Instruction:', '### Input:', '### Response:', each section followed by a blank "
               "line, and the prompt ends with a newline after '### Response:'.")),
    Question(
        "q2", f"Encode record {ENCODE_ID!r} with `encode_example` (max_length {ENCODE_MAX_LENGTH}). Set "
              "`example_labels` (its labels) and `n_trained` (positions the loss trains on).",
        ("example_labels", "n_trained"), check_labels,
        hints=("`encode_example(format_prompt(instruction, input), output, tokenizer, 128)` returns a dict.",
               "The loss skips positions labelled -100; count the others.")),
    Question(
        "q3", f"How many training records does `encode_records` drop at max_length {DROP_MAX_LENGTH}? Set "
              "`n_dropped`.",
        ("n_dropped",), check_dropped,
        hints=("`encode_records` does not drop silently: print its result, and look for the attribute that "
               "lists what it dropped.",
               "`len(encode_records(train_records, tokenizer, 128).dropped)`.")),
    Question(
        "q4", "Generate answers to the held-out note-type prompts with the untuned model (greedy, 4 new tokens) "
              "and score them; then score the majority baseline, the best any constant answer can do: always the "
              "label most common among those prompts. Set `untuned_answers`, `untuned_exact_match` and "
              "`majority_rate`.",
        ("untuned_answers", "untuned_exact_match", "majority_rate"), check_exact_match,
        hints=("Lesson 05, section 7, scores the tuned model the same way: `generate`, then `exact_match`.",
               "`note_type[\"output\"].value_counts()` counts the labels; the baseline is right whenever the "
               "prompt has the label it always answers.")),
    Question(
        "q5", "On which side is a batch of prompts padded for generation, and why? Set "
              "`generation_padding_side` ('left' or 'right') and `padding_reason` (a sentence).",
        ("generation_padding_side", "padding_reason"), check_padding,
        hints=("Where does a decoder-only model write its first new token? What sits there with each side?",)),
    Question(
        "q6", "The records come in three splits. Set `n_validation` (the number of validation records) and "
              "`choose_on` ('train', 'validation' or 'heldout': the split on which the learning rate and epochs "
              "are chosen).",
        ("n_validation", "choose_on"), check_splits,
        hints=("`data.load_instructions(split)` gives one split. Which split did nothing but choose, in lesson 05?",
               "The held-out prompts are scored once, for the reported numbers; the training records are learned.")),
], version=VERSION)

bind = QUESTIONS.bind
