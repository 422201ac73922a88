"""Instruction tuning done right: prompt format, loss on the response only, EOS learned.

>>> from transformers import AutoTokenizer
>>> from course_utils import models
>>> tok = AutoTokenizer.from_pretrained(models.TINY_GPT2)
>>> ex = encode_example(format_prompt("Define tort in one sentence."), "A civil wrong.", tok, 64)
>>> tok.decode([t for t in ex["labels"] if t != -100])
'A civil wrong.<|endoftext|>'
"""

from __future__ import annotations

from dataclasses import dataclass

# The course's own prompt format, in the Alpaca style: a header per part, the response last.
PROMPT_WITH_INPUT = "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
PROMPT_WITHOUT_INPUT = "### Instruction:\n{instruction}\n\n### Response:\n"

# GPT-2 ships no chat template, so the course supplies one (Jinja, as transformers expects):
# each message under a role header, and after the last user message the assistant header that
# the model continues from when add_generation_prompt=True.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>\n{{ message['content'] }}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)

IGNORE_INDEX = -100  # the label value the loss skips


def format_prompt(instruction: str, input: str = "") -> str:
    """The prompt the model sees; the response is what it learns to write after it.

    >>> print(format_prompt("Classify the note.", "Fever for two days."))
    ### Instruction:
    Classify the note.
    <BLANKLINE>
    ### Input:
    Fever for two days.
    <BLANKLINE>
    ### Response:
    <BLANKLINE>
    """
    if not isinstance(instruction, str) or not instruction.strip():
        raise ValueError("instruction is empty: every record needs an instruction.")
    if input is None or (isinstance(input, float) and input != input):
        input = ""
    if input.strip():
        return PROMPT_WITH_INPUT.format(instruction=instruction.strip(), input=input.strip())
    return PROMPT_WITHOUT_INPUT.format(instruction=instruction.strip())


def ensure_pad_token(tokenizer) -> str | None:
    """Give a tokenizer without a pad token (GPT-2) one, and say why it is safe.

    Padding reuses the EOS token, but padded positions are masked with -100 in the labels (and
    0 in the attention mask), so the EOS that ends each response is still learned. Returns the
    explanation, or None when the tokenizer already had a pad token.
    """
    if tokenizer.pad_token is not None:
        return None
    if tokenizer.eos_token is None:
        raise ValueError("The tokenizer has neither a pad token nor an EOS token: add one with "
                         "tokenizer.add_special_tokens({'pad_token': '<pad>'}) and resize the model's embeddings.")
    tokenizer.pad_token = tokenizer.eos_token
    return (f"The tokenizer had no pad token, so padding now uses EOS ({tokenizer.eos_token!r}). "
            "Padded positions get label -100 and attention 0, so the EOS that ends each response "
            "keeps its label and is still learned.")


def encode_example(prompt: str, response: str, tokenizer, max_length: int) -> dict | None:
    """``input_ids``, ``attention_mask`` and ``labels`` for one instruction example.

    Prompt and response are tokenized **separately** and the ids concatenated, so a BPE merge
    across the boundary cannot shift where the response starts; EOS is appended and kept in the
    labels; every prompt position is labelled -100. Returns ``None`` when prompt, response and
    EOS do not fit in ``max_length``: a truncated response would teach the model to stop without
    EOS, or leave no label at all (a NaN loss). Callers count and report what was dropped.
    """
    if not isinstance(response, str) or not response.strip():
        raise ValueError("response is empty: an example needs something to learn to write.")
    if not isinstance(prompt, str) or not prompt:
        raise ValueError("prompt is empty: build it with format_prompt(instruction, input).")
    if tokenizer.eos_token_id is None:
        raise ValueError("The tokenizer has no EOS token, so the model could not learn to stop.")
    if not isinstance(max_length, int) or max_length < 2:
        raise ValueError(f"max_length must be an integer of at least 2, got {max_length!r}.")
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    response_ids = tokenizer(response, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    context = getattr(tokenizer, "model_max_length", None)
    if context is not None and context < 1_000_000 and len(prompt_ids) >= context:
        raise ValueError(f"The prompt is {len(prompt_ids)} tokens, longer than the model's context of "
                         f"{context}: shorten the instruction or input.")
    if len(prompt_ids) + len(response_ids) > max_length:
        return None
    input_ids = prompt_ids + response_ids
    return {"input_ids": input_ids, "attention_mask": [1] * len(input_ids),
            "labels": [IGNORE_INDEX] * len(prompt_ids) + response_ids}


@dataclass
class EncodedRecords:
    examples: list[dict]
    dropped: list[str]  # ids of records whose response did not fit

    def __str__(self) -> str:
        return (f"{len(self.examples)} examples encoded; {len(self.dropped)} dropped because the "
                "response and EOS did not fit in max_length")


def encode_records(records, tokenizer, max_length: int) -> EncodedRecords:
    """Encode a DataFrame (or list of dicts) of ``id, instruction, input, output`` records."""
    rows = records.to_dict("records") if hasattr(records, "to_dict") else list(records)
    if not rows:
        raise ValueError("No records to encode.")
    examples, dropped = [], []
    for row in rows:
        missing = [k for k in ("instruction", "output") if k not in row]
        if missing:
            raise ValueError(f"A record lacks {missing}; records need instruction, input and output.")
        encoded = encode_example(format_prompt(row["instruction"], row.get("input", "")), row["output"],
                                 tokenizer, max_length)
        if encoded is None:
            dropped.append(str(row.get("id", len(examples) + len(dropped))))
        else:
            examples.append(encoded)
    return EncodedRecords(examples, dropped)


def token_label_table(example: dict, tokenizer):
    """One row per token: its position, text, id, label and whether the loss trains on it."""
    import pandas as pd

    ids, labels = example["input_ids"], example["labels"]
    return pd.DataFrame({
        "position": range(len(ids)),
        "token": [repr(tokenizer.decode([i])) for i in ids],
        "input_id": ids,
        "label": labels,
        "trained": [label != IGNORE_INDEX for label in labels],
    })
