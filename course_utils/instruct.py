"""Instruction tuning done right: prompt format, loss on the response only, EOS learned.

>>> from transformers import AutoTokenizer
>>> from course_utils import models
>>> tok = AutoTokenizer.from_pretrained(models.TINY_GPT2)
>>> ex = encode_example(format_prompt("Define tort in one sentence."), "A civil wrong.", tok, 64)
>>> tok.decode([t for t in ex["labels"] if t != -100])
'A civil wrong.<|endoftext|>'
"""

from __future__ import annotations

from dataclasses import dataclass, field

from course_utils.models import context_length, tokenizer_context
# Scoring lives in its own module; lesson 05 and the exercises import it from here too.
from course_utils.scoring import (OPEN_ANSWER_ROUGE, exact_match, first_word, judge, ratings_table,  # noqa: F401
                                  rouge_l)

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
NO_EOS = ("The tokenizer has no EOS token, so the model could not learn to stop: add one with "
          "tokenizer.add_special_tokens({'eos_token': '</s>'}) and model.resize_token_embeddings(len(tokenizer)), "
          "or use a causal LM whose tokenizer has one (GPT-2's is <|endoftext|>).")


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
    if not isinstance(instruction, str):
        raise TypeError(f"instruction must be text, got {type(instruction).__name__}: {instruction!r}.")
    if not instruction.strip():
        raise ValueError("instruction is empty: every record needs an instruction.")
    if input is None or (isinstance(input, float) and input != input):
        input = ""
    if not isinstance(input, str):
        raise TypeError(f"input must be text (or empty), got {type(input).__name__}: {input!r}.")
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


def _ids(tokenizer, text: str) -> list[int]:
    # verbose=False: a text longer than the context is handled by the callers (an error or a drop),
    # so the tokenizer's warning about indexing errors would only alarm a learner
    return tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]


def encode_example(prompt: str, response: str, tokenizer, max_length: int, *,
                   mask_prompt: bool = True) -> dict | None:
    """``input_ids``, ``attention_mask`` and ``labels`` for one instruction example.

    Prompt and response are tokenized **separately** and the ids concatenated, so a BPE merge
    across the boundary cannot shift where the response starts; EOS is appended and kept in the
    labels; every prompt position is labelled -100. Returns ``None`` when prompt, response and
    EOS do not fit in ``max_length``, or in the model's context (the tokenizer's
    ``model_max_length``) where that is shorter: a truncated response would teach the model to stop
    without EOS, or leave no label at all (a NaN loss). Callers count and report what was dropped.
    ``mask_prompt=False`` trains on the whole sequence instead (the ablation of lesson 05).
    """
    if not isinstance(response, str):
        raise TypeError(f"response must be text, got {type(response).__name__}: {response!r}.")
    if not response.strip():
        raise ValueError("response is empty: an example needs something to learn to write.")
    if not isinstance(prompt, str) or not prompt:
        raise ValueError("prompt is empty: build it with format_prompt(instruction, input).")
    if tokenizer.eos_token_id is None:
        raise ValueError(NO_EOS)
    if not isinstance(max_length, int) or max_length < 2:
        raise ValueError(f"max_length must be an integer of at least 2, got {max_length!r}.")
    prompt_ids = _ids(tokenizer, prompt)
    response_ids = _ids(tokenizer, response) + [tokenizer.eos_token_id]
    context = tokenizer_context(tokenizer)
    if context is not None and len(prompt_ids) >= context:
        raise ValueError(f"The prompt is {len(prompt_ids)} tokens, longer than the model's context of "
                         f"{context}: shorten the instruction or input.")
    if len(prompt_ids) + len(response_ids) > min(max_length, context or max_length):
        return None
    input_ids = prompt_ids + response_ids
    prompt_labels = [IGNORE_INDEX] * len(prompt_ids) if mask_prompt else list(prompt_ids)
    return {"input_ids": input_ids, "attention_mask": [1] * len(input_ids),
            "labels": prompt_labels + response_ids}


@dataclass
class EncodedRecords:
    examples: list[dict]
    dropped: list[str]  # ids of records whose response did not fit

    def __str__(self) -> str:
        return (f"{len(self.examples)} examples encoded; {len(self.dropped)} dropped because the "
                "response and EOS did not fit in max_length (or in the model's context)")


def encode_records(records, tokenizer, max_length: int, *, mask_prompt: bool = True) -> EncodedRecords:
    """Encode a DataFrame (or list of dicts) of ``id, instruction, input, output`` records.

    A record whose response does not fit (in ``max_length`` or the model's context, which a long
    prompt may fill alone) is dropped and counted; a record missing a field, or with a field that
    is not text, raises an error naming the record.
    """
    rows = records.to_dict("records") if hasattr(records, "to_dict") else list(records)
    if not rows:
        raise ValueError("No records to encode.")
    context = tokenizer_context(tokenizer)
    examples, dropped = [], []
    for row in rows:
        name = row.get("id", len(examples) + len(dropped))
        missing = [k for k in ("instruction", "output") if k not in row]
        if missing:
            raise ValueError(f"Record {name} lacks {missing}; records need instruction, input and output.")
        try:
            prompt = format_prompt(row["instruction"], row.get("input", ""))
            if context is not None and len(_ids(tokenizer, prompt)) >= context:
                encoded = None  # the prompt alone fills a short context (a small model's): no room to answer
            else:
                encoded = encode_example(prompt, row["output"], tokenizer, max_length, mask_prompt=mask_prompt)
        except (TypeError, ValueError) as error:
            raise type(error)(f"Record {name}: {error}") from None
        if encoded is None:
            dropped.append(str(name))
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


def generate(model, tokenizer, prompts, *, max_new_tokens: int, do_sample: bool = False,
             temperature: float = 0.8, top_p: float = 0.9, batch_size: int = 16, seed: int = 0) -> list[str]:
    """The model's responses to ``prompts``: batched, left-padded, stopping at EOS.

    Decoder-only models continue from the last position, so prompts are padded on the **left**
    (right padding would put pad tokens between a prompt and its answer); the attention mask and
    the pad id go to ``generate``. Greedy by default; ``do_sample=True`` samples with
    ``temperature`` and ``top_p`` after seeding torch with ``seed``. The tokenizer's padding side is
    restored afterwards.
    """
    import torch

    from course_utils.models import device_of, eval_mode

    prompts = list(prompts)
    if not prompts:
        raise ValueError("No prompts to answer.")
    ensure_pad_token(tokenizer)
    context = context_length(model)
    longest = max(len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts)
    if context and longest + max_new_tokens > context:
        raise ValueError(f"The longest prompt is {longest} tokens; with max_new_tokens={max_new_tokens} it "
                         f"exceeds the model's context of {context}. Shorten the prompt or lower max_new_tokens.")
    device = device_of(model)
    side, tokenizer.padding_side = tokenizer.padding_side, "left"
    if do_sample:
        torch.manual_seed(seed)
    answers: list[str] = []
    try:
        with eval_mode(model), torch.no_grad():
            for start in range(0, len(prompts), batch_size):
                batch = tokenizer(prompts[start : start + batch_size], return_tensors="pt", padding=True,
                                  add_special_tokens=False).to(device)
                out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=do_sample,
                                     temperature=temperature if do_sample else None,
                                     top_p=top_p if do_sample else None,
                                     pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
                new = out[:, batch["input_ids"].shape[1]:]
                answers += [tokenizer.decode(row, skip_special_tokens=True).strip() for row in new]
    finally:
        tokenizer.padding_side = side
    return answers


def check_fits_context(model, examples) -> None:
    """A clear error when an encoded example is longer than ``model``'s context (which would fail
    inside torch, on a position the model does not have); nothing when every example fits.

    >>> from transformers import GPT2Config, GPT2LMHeadModel
    >>> check_fits_context(GPT2LMHeadModel(GPT2Config(n_positions=8, n_embd=8, n_layer=1, n_head=2)),
    ...                    [{"input_ids": [1] * 9}])
    Traceback (most recent call last):
    ...
    ValueError: An example is 9 tokens long, but GPT2LMHeadModel holds 8: encode with max_length=8 or less.
    """
    context = context_length(model)
    longest = max((len(e["input_ids"]) for e in examples), default=0)
    if context is not None and longest > context:
        name = type(model.get_base_model() if hasattr(model, "get_base_model") else model).__name__
        raise ValueError(f"An example is {longest} tokens long, but {name} holds {context}: encode with "
                         f"max_length={context} or less.")


def label_positions_loss(model, inputs) -> "torch.Tensor":  # noqa: F821 (torch is imported lazily)
    """The causal-LM loss, computing the output layer only where a label is trained.

    Equal to ``model(**inputs).loss`` (the mean cross-entropy over positions whose next-token
    label is not -100). The output layer scores every token of the vocabulary (50,257 for GPT-2)
    at each position it is applied to; with the loss on the response only, most positions are
    prompt or padding, and skipping them saves that work (a quarter of the training time of the
    tiny smoke model on a CPU).
    """
    import torch.nn.functional as F

    labels = inputs["labels"]
    # a peft model wraps the transformers one, whose layers it adapts in place: use that one's body
    model = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = model.base_model(input_ids=inputs["input_ids"],
                              attention_mask=inputs.get("attention_mask")).last_hidden_state
    targets = labels[:, 1:]  # position t predicts token t + 1
    keep = targets != IGNORE_INDEX
    if not keep.any():
        raise ValueError("No position in this batch has a label: every example needs a trained response.")
    logits = model.get_output_embeddings()(hidden[:, :-1][keep])
    return F.cross_entropy(logits.float(), targets[keep])


def agreed_length_sampler(sampler, seed: int):
    """``sampler`` unchanged on one process; on several, a length-grouped sampler whose shuffle all
    processes agree on in every epoch.

    transformers 5.24 builds the training ``LengthGroupedSampler`` (``group_by_length``) without a
    generator, so it shuffles with each process's global random state. Those agree in the first
    epoch only (dropout and padding draw different amounts from them): from the second epoch on,
    the processes would split different orders, training some examples twice and missing others.
    Here the k-th pass over the data shuffles with ``seed + k`` on every process.
    """
    import torch
    from transformers.trainer_pt_utils import LengthGroupedSampler

    from course_utils.training import world_size

    if world_size() == 1 or not isinstance(sampler, LengthGroupedSampler) or sampler.generator is not None:
        return sampler

    class AgreedLengthGroupedSampler(LengthGroupedSampler):
        passes = 0

        def __iter__(self):
            self.generator = torch.Generator().manual_seed(seed + self.passes)
            self.passes += 1
            return super().__iter__()

    return AgreedLengthGroupedSampler(sampler.batch_size, lengths=sampler.lengths)


def label_positions_trainer_class():
    """A ``Trainer`` whose loss is :func:`label_positions_loss` (same loss, less work).

    It takes an optional ``anchor=`` (a :class:`course_utils.forgetting.WeightAnchor`): its L2 pull
    toward the pretrained weights is added to the loss, lesson 04's remedy for forgetting.
    """
    from transformers import Trainer

    class LabelPositionsTrainer(Trainer):
        def __init__(self, *args, anchor=None, **kwargs):
            if anchor is not None and not hasattr(anchor, "penalty"):
                raise TypeError(f"anchor must be a WeightAnchor (or None), got {type(anchor).__name__}.")
            super().__init__(*args, **kwargs)
            self.anchor = anchor

        def _get_train_sampler(self, train_dataset=None):
            sampler = super()._get_train_sampler(train_dataset)
            return agreed_length_sampler(sampler, self.args.seed)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            from torch.distributed.fsdp import FSDPModule
            from torch.nn.parallel import DataParallel, DistributedDataParallel

            inner = model
            if isinstance(model, (DistributedDataParallel, FSDPModule, DataParallel)):
                # Several processes (torchrun, accelerate), or one process on several GPUs: the wrapper's
                # own forward must run, or the copies never average their gradients (DDP, DataParallel)
                # or gather the sharded weights (FSDP); its loss is the same one, computed in full
                # (DataParallel returns one per GPU, which Trainer averages).
                inner = getattr(model, "module", model)
                loss = model(**inputs).loss
            else:
                loss = label_positions_loss(model, inputs)
            if self.anchor is not None:
                loss = loss + self.anchor.penalty(inner)
            return (loss, None) if return_outputs else loss

    return LabelPositionsTrainer


@dataclass
class TuningRun:
    """One instruction-tuning run: the trained model, its trainer, the optimizer steps, the
    training time (``Trainer``'s ``train_runtime``, seconds), the logged ``(step, loss)`` pairs and,
    when a ``measure`` was given, the measurements along training (``trajectory``)."""

    model: object
    trainer: object
    steps: int
    seconds: float
    losses: list
    trajectory: list = field(default_factory=list)

    @property
    def epochs(self) -> float:
        return self.trainer.args.num_train_epochs


def instruction_tune(cfg, model, tokenizer, examples, *, learning_rate: float, epochs: int, output_dir: str,
                     anchor=None, seed: int | None = None, measure=None, measure_every: int = 1,
                     data_collator=None) -> TuningRun:
    """Instruction-tune ``model`` in place on encoded ``examples`` (from :func:`encode_records`):
    lesson 05's training cell as one call.

    Per-batch padding (``DataCollatorForSeq2Seq``, labels padded with -100), batches of similar
    lengths, the loss on labelled positions only (:func:`label_positions_trainer_class`, with
    ``anchor`` added when given), :func:`course_utils.training.lm_args` (warmup over 10 % of the
    steps, then a cosine decay; nothing saved to disk). The tokenizer gets a pad token if it has none.
    ``measure(model) -> dict`` is called every ``measure_every`` optimizer steps and after the last
    (the run's ``trajectory``: ``{"step": ..., **measure(model)}``), as lesson 04's runs do.
    ``data_collator`` replaces the padding collator, for one that wraps it (``course_utils.train``).

    >>> import course_utils
    >>> from transformers import AutoModelForCausalLM, AutoTokenizer
    >>> from course_utils import data, models
    >>> cfg = course_utils.setup(profile="smoke", verbose=False)
    >>> tok = AutoTokenizer.from_pretrained(models.TINY_GPT2)
    >>> ensure_pad_token(tok) is not None
    True
    >>> examples = encode_records(data.load_instructions("train").head(32), tok, 256).examples
    >>> run = instruction_tune(cfg, AutoModelForCausalLM.from_pretrained(models.TINY_GPT2), tok, examples,
    ...                        learning_rate=1e-3, epochs=1, output_dir="/tmp/tune")
    >>> run.steps, run.losses[-1][1] > 0
    (2, True)
    """
    from datasets import Dataset
    from transformers import DataCollatorForSeq2Seq
    from transformers.trainer_callback import PrinterCallback

    from course_utils.lm import measuring_callback
    from course_utils.training import lm_args

    examples = list(examples)
    if not examples:
        raise ValueError("No examples to train on: encode the records with encode_records(...).examples.")
    if not all(isinstance(e, dict) and "labels" in e for e in examples):
        raise TypeError("examples must be encoded examples (dicts with input_ids, attention_mask and labels), "
                        "as in encode_records(records, tokenizer, max_length).examples.")
    if not learning_rate > 0 or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"learning_rate must be positive and epochs a whole number of at least 1, "
                         f"got {learning_rate!r} and {epochs!r}.")
    if measure is not None and not callable(measure):
        raise TypeError(f"measure must be a function of the model that returns a dict, got {type(measure).__name__}.")
    if isinstance(measure_every, bool) or not isinstance(measure_every, int) or measure_every < 1:
        raise ValueError(f"measure_every must be a whole number of steps (at least 1), got {measure_every!r}.")
    check_fits_context(model, examples)
    ensure_pad_token(tokenizer)
    overrides = {} if seed is None else {"seed": seed}
    args = lm_args(cfg, output_dir, train_examples=len(examples), num_train_epochs=epochs,
                   learning_rate=learning_rate, train_sampling_strategy="group_by_length", **overrides)
    trajectory: list = []
    callbacks = [measuring_callback(measure, measure_every, trajectory)] if measure is not None else None
    trainer = label_positions_trainer_class()(
        model=model, args=args, train_dataset=Dataset.from_list(examples), anchor=anchor, callbacks=callbacks,
        data_collator=data_collator or DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=IGNORE_INDEX))
    trainer.remove_callback(PrinterCallback)  # the losses are returned, not printed
    output = trainer.train()
    model.eval()
    losses = [(log["step"], log["loss"]) for log in trainer.state.log_history if "loss" in log]
    return TuningRun(model, trainer, output.global_step, output.metrics["train_runtime"], losses, trajectory)


def response_loss(model, tokenizer, examples, *, batch_size: int = 16) -> float:
    """Mean cross-entropy per trained token (the response and its EOS) over encoded ``examples``:
    the validation loss of instruction tuning, in eval mode (no dropout).

    >>> from transformers import AutoModelForCausalLM, AutoTokenizer
    >>> from course_utils import models
    >>> tok = AutoTokenizer.from_pretrained(models.TINY_GPT2)
    >>> lm = AutoModelForCausalLM.from_pretrained(models.TINY_GPT2)
    >>> ex = encode_example(format_prompt("Define tort."), "A civil wrong.", tok, 64)
    >>> 0 < response_loss(lm, tok, [ex]) < 20
    True
    """
    import torch
    from transformers import DataCollatorForSeq2Seq

    from course_utils.models import device_of, eval_mode

    examples = list(examples)
    if not examples:
        raise ValueError("No examples to score: encode the records with encode_records(...).examples.")
    check_fits_context(model, examples)
    ensure_pad_token(tokenizer)
    collator = DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=IGNORE_INDEX)
    device = device_of(model)
    total, count = 0.0, 0
    with eval_mode(model), torch.no_grad():
        for start in range(0, len(examples), batch_size):
            batch = {k: v.to(device) for k, v in collator(examples[start : start + batch_size]).items()}
            n = int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())  # positions label_positions_loss averages
            total += label_positions_loss(model, batch).item() * n
            count += n
    return total / count


def exact_match_scores(model, tokenizer, records, *, max_new_tokens: int = 4) -> list[int]:
    """1 or 0 per record (a DataFrame with ``instruction``, ``input``, ``output``): whether the model's
    greedy answer to its prompt starts with the reference label (:func:`exact_match`)."""
    rows = records.to_dict("records") if hasattr(records, "to_dict") else list(records)
    if not rows:
        raise ValueError("No records to score.")
    prompts = [format_prompt(r["instruction"], r.get("input", "")) for r in rows]
    answers = generate(model, tokenizer, prompts, max_new_tokens=max_new_tokens)
    return exact_match(answers, [r["output"] for r in rows])
