"""Lesson 07's measurements: the practical settings the cheat sheet's rules are about, measured.

- :func:`accumulation_difference`: one ``Trainer`` step of batch 16 against batch 4 with 4
  accumulation steps, dropout off, SGD: the largest difference between the updated weights;
- :func:`saved_for_backward` / :func:`checkpointing_cost`: the bytes autograd keeps for the
  backward pass, with and without gradient checkpointing, and the time a training step takes;
- :func:`train_recording_epochs`: a run of fixed length that records, after every epoch, the
  training loss, the validation loss and macro-F1, and its predictions on a test set, to compare
  stopping signals.

>>> import torch
>>> layer = torch.nn.Linear(4, 4)
>>> saved_for_backward(lambda: layer(torch.randn(2, 4)).sum()) > 0
True
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn


def disable_dropout(model) -> int:
    """Set every dropout layer of ``model`` to p=0 (training then gives the same result each run);
    returns how many layers were changed."""
    changed = 0
    for module in model.modules():
        if isinstance(module, nn.Dropout) and module.p:
            module.p = 0.0
            changed += 1
    return changed


def _one_step(cfg, make_model, dataset, tokenizer, *, batch: int, accumulation: int, learning_rate: float, seed: int,
              divide: bool):
    import tempfile

    from transformers import DataCollatorWithPadding, Trainer
    from transformers.trainer_callback import PrinterCallback

    from course_utils.training import base_args

    from course_utils.training import divide_loss_for_accumulation

    model = make_model()
    disable_dropout(model)
    if divide:
        divide_loss_for_accumulation(model)
    with tempfile.TemporaryDirectory() as tmp:
        # SGD: the update is the gradient itself. Adam's first step is close to the gradient's sign
        # and would hide a difference between two gradients.
        args = base_args(cfg, tmp, total_steps=0, max_steps=1, per_device_train_batch_size=batch,
                         gradient_accumulation_steps=accumulation, learning_rate=learning_rate, optim="sgd",
                         lr_scheduler_type="constant", weight_decay=0.0, save_strategy="no", logging_strategy="no",
                         seed=seed)
        trainer = Trainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                          data_collator=DataCollatorWithPadding(tokenizer))
        trainer.remove_callback(PrinterCallback)
        trainer.train()
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def accumulation_difference(cfg, make_model, dataset, tokenizer, *, batch: int = 16, accumulation: int = 4,
                            learning_rate: float = 0.1, seed: int = 0, divide: bool = True) -> dict:
    """One optimizer step with ``batch`` examples against ``batch // accumulation`` examples times
    ``accumulation`` steps, on the same examples: ``{"max_abs_diff": ..., "moved": ...}`` (the
    largest difference between the two updated models' weights, and the largest change of a weight
    in the step, which shows the step did something). ``divide=False`` leaves ``Trainer`` as it is
    (see :func:`course_utils.training.divide_loss_for_accumulation`)."""
    if batch % accumulation:
        raise ValueError(f"batch ({batch}) must be a multiple of accumulation ({accumulation}).")
    if len(dataset) < batch:
        raise ValueError(f"The dataset has {len(dataset)} examples; one step of batch {batch} needs at least that many.")
    # Exactly one batch of examples: both runs then see the same ones, whatever order the sampler draws.
    dataset = dataset.select(range(batch))
    before = {name: p.detach().clone() for name, p in make_model().named_parameters()}
    whole = _one_step(cfg, make_model, dataset, tokenizer, batch=batch, accumulation=1,
                      learning_rate=learning_rate, seed=seed, divide=divide)
    pieces = _one_step(cfg, make_model, dataset, tokenizer, batch=batch // accumulation, accumulation=accumulation,
                       learning_rate=learning_rate, seed=seed, divide=divide)
    return {"max_abs_diff": max(float((whole[n] - pieces[n]).abs().max()) for n in whole),
            "moved": max(float((whole[n] - before[n]).abs().max()) for n in whole)}


def saved_for_backward(forward) -> int:
    """Bytes of the tensors autograd saves for the backward pass while ``forward()`` runs (each
    storage counted once), counted with ``torch.autograd.graph.saved_tensors_hooks``."""
    storages: dict[int, int] = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss = forward()
    loss.backward()
    return sum(storages.values())


@dataclass
class CheckpointingCost:
    """Gradient checkpointing measured on one batch: bytes saved for backward and seconds per
    training step (forward and backward), without and with it."""

    saved_bytes_without: int
    saved_bytes_with: int
    seconds_without: float
    seconds_with: float

    @property
    def saved_mb(self) -> float:
        return (self.saved_bytes_without - self.saved_bytes_with) / 1e6

    @property
    def time_added(self) -> float:
        """Extra time per step, as a share of the step without checkpointing."""
        return self.seconds_with / self.seconds_without - 1


def checkpointing_cost(model, batch: dict, *, repeats: int = 5) -> CheckpointingCost:
    """:class:`CheckpointingCost` of ``model`` (a transformers model, with ``labels`` in ``batch``):
    checkpointing keeps only each layer's input and recomputes the rest during backward.
    transformers 5.x calls it activation checkpointing (``model.activation_checkpointing_enable()``,
    ``TrainingArguments(activation_checkpointing=True)``); the ``gradient_checkpointing`` names warn."""
    if "labels" not in batch:
        raise ValueError("batch needs labels, so that the model returns a loss to backpropagate.")
    model.train()

    def step():
        return model(**batch).loss

    def timed():
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            step().backward()
            best = min(best, time.perf_counter() - start)
        model.zero_grad(set_to_none=True)
        return best

    from transformers.utils import logging as hf_logging

    if getattr(model.config, "use_cache", None):
        model.config.use_cache = False  # a generation cache is of no use in training, and checkpointing refuses it
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # one-off notices about the loss type
    model.activation_checkpointing_disable()
    without, seconds_without = saved_for_backward(step), timed()
    model.activation_checkpointing_enable()
    try:
        with_, seconds_with = saved_for_backward(step), timed()
    finally:
        model.activation_checkpointing_disable()
        hf_logging.set_verbosity(verbosity)
    model.zero_grad(set_to_none=True)
    return CheckpointingCost(without, with_, seconds_without, seconds_with)


def _epoch_predictions_callback(dataset, collator, batch_size: int, store: list):
    """After every epoch, the model's predicted labels on ``dataset`` (eval mode, no gradients)."""
    from transformers import TrainerCallback

    from course_utils.models import device_of, eval_mode

    class Predict(TrainerCallback):
        def on_epoch_end(self, args, state, control, model=None, **kwargs):
            columns = [c for c in dataset.column_names if c in ("input_ids", "attention_mask")]
            rows = dataset.select_columns(columns)
            labels = []
            with eval_mode(model), torch.no_grad():
                for start in range(0, len(rows), batch_size):
                    batch = collator([rows[i] for i in range(start, min(start + batch_size, len(rows)))])
                    batch = {k: v.to(device_of(model)) for k, v in batch.items()}
                    labels += model(**batch).logits.argmax(-1).tolist()
            store.append(labels)

    return Predict()


def train_recording_epochs(cfg, model, tokenizer, encoded, *, epochs: int, learning_rate: float, output_dir: str,
                           seed: int = 0, every_epoch: bool = True) -> list[dict]:
    """Train ``model`` for exactly ``epochs`` epochs with the classification arguments of
    :func:`course_utils.training.training_args` (no early stopping) and return one row per epoch:
    ``train_loss`` (the mean over the epoch), ``val_loss``, ``val_macro_f1`` and
    ``test_predictions`` (labels on ``encoded["test"]``; after the last epoch only, when
    ``every_epoch=False``, and None before it)."""
    from transformers import DataCollatorWithPadding, Trainer
    from transformers.trainer_callback import PrinterCallback

    from course_utils.evaluation import compute_metrics
    from course_utils.training import training_args

    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a whole number of at least 1, got {epochs!r}.")
    for split in ("train", "validation", "test"):
        if split not in encoded:
            raise ValueError(f"encoded needs a {split!r} split; it has {list(encoded)}.")
    collator = DataCollatorWithPadding(tokenizer)
    predictions: list = []
    predict = _epoch_predictions_callback(encoded["test"], collator, cfg.sizes.eval_batch_size, predictions)
    args = training_args(cfg, output_dir, train_examples=len(encoded["train"]), num_train_epochs=epochs,
                         learning_rate=learning_rate, save_strategy="no", load_best_model_at_end=False, seed=seed)
    trainer = Trainer(model=model, args=args, train_dataset=encoded["train"], eval_dataset=encoded["validation"],
                      processing_class=tokenizer, data_collator=collator, compute_metrics=compute_metrics,
                      callbacks=[predict] if every_epoch else None)
    trainer.remove_callback(PrinterCallback)
    trainer.train()
    if not every_epoch:  # the test set predicted once, at the end
        predict.on_epoch_end(args, trainer.state, trainer.control, model=model)
        predictions[:0] = [None] * (epochs - 1)
    train_losses = [row["loss"] for row in trainer.state.log_history if "loss" in row]
    evals = [row for row in trainer.state.log_history if "eval_loss" in row]
    return [{"epoch": i + 1, "train_loss": train_losses[i], "val_loss": evals[i]["eval_loss"],
             "val_macro_f1": evals[i]["eval_macro_f1"], "test_predictions": predictions[i]} for i in range(epochs)]
