"""Continued pretraining of a causal LM on new text, measured before and after (lesson 04).

>>> from transformers import AutoTokenizer
>>> from course_utils import models
>>> tok = AutoTokenizer.from_pretrained(models.TINY_GPT2)
>>> blocks = lm_blocks(tok, ["A short text."] * 40, block_size=32)
>>> len(blocks), len(blocks[0]["input_ids"]), blocks[0]["input_ids"] == blocks[0]["labels"]
(6, 32, True)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from course_utils.forgetting import token_stream
from course_utils.models import context_length
from course_utils.validation import check_texts


def lm_blocks(tokenizer, texts: Sequence[str], block_size: int):
    """Texts joined with EOS into one stream and cut into blocks of ``block_size`` tokens.

    Every block is full, so no padding is needed, and EOS keeps its label: the model learns
    where a text ends. (A collator that pads with EOS and masks pad positions would also mask
    every real EOS.) The last, partial block is dropped. Returns a ``datasets.Dataset`` with
    ``input_ids``, ``attention_mask`` and ``labels`` (a copy of the inputs: the model shifts them).
    """
    from datasets import Dataset

    check_texts(texts, "texts")
    if tokenizer.eos_token_id is None:
        raise ValueError("The tokenizer has no EOS token to separate texts with: add one with "
                         "tokenizer.add_special_tokens({'eos_token': '</s>'}) and model.resize_token_embeddings("
                         "len(tokenizer)), or use a causal LM whose tokenizer has one (GPT-2's is <|endoftext|>).")
    if not isinstance(block_size, int) or block_size < 2:
        raise ValueError(f"block_size must be an integer of at least 2, got {block_size!r}.")
    # EOS between texts and after the last one: every text ends as it does in use.
    stream = token_stream(tokenizer, texts, tokenizer.eos_token_id) + [tokenizer.eos_token_id]
    n_blocks = len(stream) // block_size
    if n_blocks == 0:
        raise ValueError(f"The texts give {len(stream)} tokens, fewer than one block of {block_size}: "
                         "pass more text or a smaller block_size.")
    blocks = [stream[i * block_size : (i + 1) * block_size] for i in range(n_blocks)]
    return Dataset.from_dict({"input_ids": blocks, "attention_mask": [[1] * block_size] * n_blocks,
                              "labels": [list(b) for b in blocks]})


@dataclass
class LMRun:
    """One continued-pretraining run: its settings, training time (``Trainer``'s
    ``train_runtime``, in seconds), optimizer steps, loss history and, when a ``measure`` was
    given, the measurements along training (``trajectory``: ``{"step": ..., **measure(model)}``
    every ``measure_every`` steps and after the last)."""

    name: str
    seconds: float
    steps: int
    settings: dict = field(default_factory=dict)
    history: list = field(default_factory=list)
    trajectory: list = field(default_factory=list)


def measuring_callback(measure: Callable, every: int, points: list):
    """A ``TrainerCallback`` that appends ``{"step": s, **measure(model)}`` every ``every``
    optimizer steps and after the last one. (Before training every run of a comparison starts
    from the same pretrained model: measure that once, not once per run.)"""
    from transformers import TrainerCallback

    class Measure(TrainerCallback):
        def _take(self, step, model):
            if not points or points[-1]["step"] != step:
                points.append({"step": step, **measure(model)})

        def on_step_end(self, args, state, control, model=None, **kwargs):
            if state.global_step % every == 0 or state.global_step == state.max_steps:
                self._take(state.global_step, model)

    return Measure()


def continue_pretraining(cfg, model, tokenizer, texts: Sequence[str], *, name: str, learning_rate: float,
                         epochs: int = 1, output_dir: str, max_steps: int | None = None, weight_decay: float = 0.0,
                         anchor=None, block_size: int | None = None, seed: int = 0, batch_size: int | None = None,
                         measure: Callable | None = None, measure_every: int = 1) -> LMRun:
    """Train ``model`` (in place) on ``texts`` as a language model with ``Trainer``.

    Blocks of ``block_size`` tokens (the profile's ``max_length`` by default, or the model's context
    where that is shorter; a ``block_size`` longer than the context is an error), AdamW with
    ``weight_decay``, the arguments of :func:`course_utils.training.lm_args` (linear warmup over
    10 % of the steps, then a cosine decay). ``epochs`` passes over the blocks, or exactly
    ``max_steps`` optimizer steps when given (cycling through the blocks as needed): what holds
    two runs on different texts, such as replay, to the same amount of training. ``anchor`` (a
    :class:`course_utils.forgetting.WeightAnchor`) adds its L2 pull toward the pretrained weights.
    ``measure(model) -> dict`` is called every ``measure_every`` steps and after the last one; the
    results are the run's ``trajectory``. ``seed`` orders the batches and seeds dropout. Nothing is
    saved to disk. Frozen parameters (``requires_grad=False``) stay as they are.
    """
    from transformers import Trainer, default_data_collator
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from course_utils.forgetting import anchored_trainer_class
    from course_utils.training import lm_args

    if not learning_rate > 0 or isinstance(epochs, bool) or not isinstance(epochs, (int, float)) or not epochs > 0:
        raise ValueError(f"learning_rate and epochs must be positive numbers, got {learning_rate!r}, {epochs!r}.")
    if max_steps is not None and (not isinstance(max_steps, int) or isinstance(max_steps, bool) or max_steps < 1):
        raise ValueError(f"max_steps must be a whole number of optimizer steps (at least 1) or None, got {max_steps!r}.")
    if measure is not None and not callable(measure):
        raise TypeError(f"measure must be a function of the model that returns a dict, got {type(measure).__name__}.")
    if not isinstance(measure_every, int) or measure_every < 1:
        raise ValueError(f"measure_every must be a whole number of steps (at least 1), got {measure_every!r}.")
    context = context_length(model)
    if block_size is not None and context is not None and block_size > context:
        raise ValueError(f"block_size={block_size} is longer than the model's context of {context} tokens: "
                         f"pass block_size={context} or less.")
    blocks = lm_blocks(tokenizer, texts, block_size or min(cfg.sizes.max_length, context or cfg.sizes.max_length))
    overrides = dict(num_train_epochs=epochs, learning_rate=learning_rate, weight_decay=weight_decay, seed=seed,
                     per_device_train_batch_size=batch_size or cfg.sizes.train_batch_size)
    if max_steps is not None:
        # lm_args sizes warmup and logging from the epochs; a fixed step count sets them instead.
        overrides.update(max_steps=max_steps, warmup_steps=max(1, round(0.1 * max_steps)),
                         logging_steps=max(1, max_steps // 10))
    args = lm_args(cfg, output_dir, train_examples=len(blocks), **overrides)
    trajectory: list = []
    callbacks = [measuring_callback(measure, measure_every, trajectory)] if measure is not None else None
    kwargs = dict(model=model, args=args, train_dataset=blocks, data_collator=default_data_collator,
                  callbacks=callbacks)
    trainer = anchored_trainer_class()(anchor=anchor, **kwargs) if anchor is not None else Trainer(**kwargs)
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    output = trainer.train()
    model.eval()
    settings = dict(learning_rate=learning_rate, epochs=epochs, max_steps=max_steps, weight_decay=weight_decay,
                    anchor=anchor.strength if anchor is not None else 0.0, texts=len(texts), blocks=len(blocks),
                    seed=seed)
    return LMRun(name, output.metrics["train_runtime"], output.global_step, settings,
                 trainer.state.log_history, trajectory)
