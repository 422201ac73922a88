"""Training helpers: ``TrainingArguments`` presets from the profile, freezing, label checks.

Every ``TrainingArguments`` of the course comes from :func:`base_args` (device, precision, no
external loggers, warmup then cosine, seed): :func:`training_args` adds the classification
recipe, :func:`lm_args` the language-model and instruction-tuning one, :func:`prediction_args`
what a ``Trainer`` that only predicts needs.

>>> import course_utils
>>> cfg = course_utils.setup(profile="smoke", verbose=False)
>>> args = training_args(cfg, "/tmp/run", train_examples=240)
>>> args.eval_strategy.value, args.load_best_model_at_end, args.metric_for_best_model
('epoch', True, 'macro_f1')
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from torch import nn

from course_utils.models import context_length, parameter_count


def optimizer_steps(train_examples: int, batch_size: int, epochs: float) -> int:
    """How many optimizer steps ``Trainer`` takes (one per batch; an epoch's last batch may be
    short, and a fractional last epoch is rounded up, as ``Trainer`` does).

    >>> optimizer_steps(240, batch_size=16, epochs=3), optimizer_steps(241, batch_size=16, epochs=3)
    (45, 48)
    """
    for name, value in (("train_examples", train_examples), ("batch_size", batch_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}.")
    if not isinstance(epochs, (int, float)) or isinstance(epochs, bool) or not epochs > 0:
        raise ValueError(f"epochs (num_train_epochs) must be a positive number, got {epochs!r}.")
    return math.ceil(math.ceil(train_examples / batch_size) * epochs)


def base_args(cfg, output_dir: str, *, total_steps: int, **overrides):
    """The ``TrainingArguments`` every preset starts from; ``overrides`` replace any of them.

    Train on the profile's device (``use_cpu`` on a CPU, pinned memory only for copies to a
    GPU) at its precision (bf16 or fp16 on a GPU, fp32 on a CPU); no external loggers
    (``report_to="none"``, a string: ``None`` is not "none"); warm up for 10 % of the
    ``total_steps`` optimizer steps (at least one; in steps, since ``warmup_ratio`` is gone in
    transformers 5.15+), then decay with a cosine; the profile's seed; no progress bar in the
    smoke profile. ``total_steps=0`` is for a ``Trainer`` that only predicts (no warmup).

    >>> import course_utils
    >>> cfg = course_utils.setup(profile="smoke", verbose=False)
    >>> args = base_args(cfg, "/tmp/run", total_steps=45, learning_rate=1e-4)
    >>> args.warmup_steps, args.lr_scheduler_type.value, args.use_cpu, args.seed, args.learning_rate
    (4, 'cosine', True, 0, 0.0001)
    """
    from transformers import TrainingArguments

    if not isinstance(total_steps, int) or isinstance(total_steps, bool) or total_steps < 0:
        raise ValueError(f"total_steps must be a whole number of optimizer steps (0 to only predict), "
                         f"got {total_steps!r}; count them with optimizer_steps().")
    defaults = dict(
        output_dir=output_dir,
        warmup_steps=max(1, round(0.1 * total_steps)) if total_steps else 0,
        lr_scheduler_type="cosine",
        report_to="none",
        disable_tqdm=cfg.profile == "smoke",
        seed=cfg.seed,
        use_cpu=cfg.device == "cpu",  # the device setup() chose, even where torch also sees a GPU
        dataloader_pin_memory=cfg.device == "cuda",  # pinned memory only speeds copies to a GPU
        **cfg.precision_args,
    )
    return TrainingArguments(**{**defaults, **overrides})


def world_size(env=None) -> int:
    """How many processes train together: ``WORLD_SIZE``, which ``torchrun`` and ``accelerate launch``
    set for each process they start; 1 in a notebook or a plain ``python`` run.

    >>> world_size({}), world_size({"WORLD_SIZE": "4"})
    (1, 4)
    """
    value = (os.environ if env is None else env).get("WORLD_SIZE", "").strip() or "1"
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"WORLD_SIZE={value!r} must be a whole number of at least 1 (the launcher sets it).")
    return int(value)


def rank(env=None) -> int:
    """This process's rank among those a launcher started (``RANK``); 0 without a launcher.

    >>> rank({}), rank({"RANK": "1"})
    (0, 1)
    """
    value = (os.environ if env is None else env).get("RANK", "").strip() or "0"
    if not value.isdigit():
        raise ValueError(f"RANK={value!r} must be a whole number (the launcher sets it).")
    return int(value)


def replicas(cfg, env=None, gpus: int | None = None) -> int:
    """How many copies of the model train side by side, each on its own batch of every optimizer
    step: the :func:`world_size` processes a launcher started or, in a single process on a machine
    with several GPUs, every GPU (``Trainer`` then wraps the model in ``DataParallel``).

    >>> from types import SimpleNamespace
    >>> gpu, cpu = SimpleNamespace(device="cuda"), SimpleNamespace(device="cpu")
    >>> replicas(gpu, env={}, gpus=2), replicas(gpu, env={"WORLD_SIZE": "4"}, gpus=4), replicas(cpu, env={}, gpus=2)
    (2, 4, 1)
    """
    processes = world_size(env)
    if processes > 1 or cfg.device != "cuda":
        return processes
    if gpus is None:
        import torch

        gpus = torch.cuda.device_count()
    return max(1, gpus)


def _steps(cfg, train_examples: int, overrides: dict, epochs: float) -> tuple[float, int, int]:
    """``(epochs, global batch size, optimizer steps)`` of a preset, as ``overrides`` leave them.
    Each of the :func:`replicas` takes its own batch per step, so a step consumes their sum: the
    same number of steps as one process whose batch is that sum."""
    epochs = overrides.get("num_train_epochs", epochs)
    batch = overrides.get("per_device_train_batch_size", cfg.sizes.train_batch_size) * replicas(cfg)
    return epochs, batch, optimizer_steps(train_examples, batch, epochs)


def training_args(cfg, output_dir: str, *, train_examples: int, recipe=None, **overrides):
    """``TrainingArguments`` for classification fine-tuning: :func:`base_args` plus a method's
    recipe (:func:`course_utils.recipes.classifier_recipe`; full fine-tuning's by default).

    Evaluate and save every epoch (they must match for ``load_best_model_at_end``), keep the
    best epoch by the recipe's validation metric (macro-F1, or the loss for a head on a frozen
    backbone), log once per epoch, the recipe's learning rate, epoch cap and warmup (in epochs),
    weight decay 0.01, at most one checkpoint on disk besides the best, without optimizer
    state. ``overrides`` replace any of these. Lesson 02 spells the same arguments out once; a
    test keeps the two equal.
    """
    from course_utils.recipes import classifier_recipe

    recipe = recipe or classifier_recipe(cfg, "full")
    s = cfg.sizes
    overrides.setdefault("per_device_train_batch_size", recipe.batch_size)
    epochs, batch, total_steps = _steps(cfg, train_examples, overrides, recipe.max_epochs)
    by_loss = recipe.metric == "loss"
    preset = dict(
        eval_strategy="epoch",
        save_strategy="epoch",
        logging_strategy="epoch",
        load_best_model_at_end=True,
        metric_for_best_model=recipe.metric,
        greater_is_better=not by_loss,
        num_train_epochs=epochs,
        learning_rate=recipe.learning_rate,
        warmup_steps=max(1, round(recipe.warmup_epochs * optimizer_steps(train_examples, batch, 1))),
        weight_decay=0.01,
        per_device_eval_batch_size=s.eval_batch_size,
        save_total_limit=1,
        save_only_model=True,  # no optimizer state on disk: the best model is what we reload
    )
    return base_args(cfg, output_dir, total_steps=total_steps, **{**preset, **overrides})


def lm_args(cfg, output_dir: str, *, train_examples: int, **overrides):
    """``TrainingArguments`` for language-model and instruction tuning: :func:`base_args` plus
    the profile's LM epochs and batch size, ten loss logs per run, nothing saved to disk and no
    progress bar. ``train_examples`` counts the blocks or examples of one epoch.

    >>> import course_utils
    >>> cfg = course_utils.setup(profile="smoke", verbose=False)
    >>> args = lm_args(cfg, "/tmp/run", train_examples=37, learning_rate=1e-3)
    >>> args.num_train_epochs, args.warmup_steps, args.logging_steps, args.save_strategy.value
    (2, 1, 1, 'no')
    """
    epochs, _, total_steps = _steps(cfg, train_examples, overrides, cfg.sizes.lm_epochs)
    preset = dict(
        num_train_epochs=epochs,
        per_device_train_batch_size=cfg.sizes.train_batch_size,
        logging_strategy="steps",
        logging_steps=max(1, total_steps // 10),
        save_strategy="no",
        disable_tqdm=True,
    )
    return base_args(cfg, output_dir, total_steps=total_steps, **{**preset, **overrides})


def prediction_args(cfg, output_dir: str, **overrides):
    """``TrainingArguments`` for a ``Trainer`` that only predicts: :func:`base_args` with no
    training steps, the profile's evaluation batch size and no progress bar.

    >>> import course_utils
    >>> cfg = course_utils.setup(profile="smoke", verbose=False)
    >>> prediction_args(cfg, "/tmp/run").per_device_eval_batch_size
    128
    """
    recipe = dict(per_device_eval_batch_size=cfg.sizes.eval_batch_size, disable_tqdm=True)
    return base_args(cfg, output_dir, total_steps=0, **{**recipe, **overrides})


def _layer_list(model) -> nn.ModuleList:
    """The stack of transformer blocks, found by shape rather than by attribute name."""
    config = model.config
    n_layers = getattr(config, "num_hidden_layers", None)
    candidates = [m for m in model.modules() if isinstance(m, nn.ModuleList) and len(m) > 0]
    if n_layers is not None:
        candidates = [m for m in candidates if len(m) == n_layers] or candidates
    if not candidates:
        raise ValueError(f"Found no stack of transformer layers in {type(model).__name__}.")
    return max(candidates, key=parameter_count)


def _embedding_modules(model, layers: nn.ModuleList) -> list[nn.Module]:
    """Embedding modules of the backbone: its ``embeddings`` block (BERT, DistilBERT, RoBERTa)
    or, failing that, every ``nn.Embedding`` outside the layers (GPT-2's ``wte`` and ``wpe``)."""
    base = getattr(model, "base_model", model)
    block = getattr(base, "embeddings", None)
    if isinstance(block, nn.Module):
        return [block]
    inside = {id(m) for m in layers.modules()}
    found = [m for m in base.modules() if isinstance(m, nn.Embedding) and id(m) not in inside]
    if not found:
        raise ValueError(f"Found no embedding layers in {type(model).__name__}.")
    return found


def ties_input_and_output_embeddings(model) -> bool:
    """Whether the input embedding matrix is also the output layer (GPT-2 ties them)."""
    out = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    return out is not None and out.weight is model.get_input_embeddings().weight


@dataclass(frozen=True)
class FreezeReport:
    frozen_layers: int
    total_layers: int
    trainable: int
    total: int
    tied_output_frozen: bool
    which: str = "first"
    embeddings: bool = True

    def __str__(self) -> str:
        what = "the embeddings and " if self.embeddings else ""
        text = (f"froze {what}the {self.which} {self.frozen_layers} of {self.total_layers} layers: "
                f"{self.trainable:,} of {self.total:,} parameters trainable "
                f"({self.trainable / self.total:.1%})")
        if self.tied_output_frozen:
            text += ("; the output layer shares the input embeddings' weights (tied), so it is "
                     "frozen too")
        return text


def freeze_layers(model, n: int, *, embeddings: bool = True, which: str = "first") -> FreezeReport:
    """Freeze the embeddings (unless ``embeddings=False``) and the first ``n`` transformer layers
    (or the last ``n`` with ``which="last"``, to test whether early layers matter more).

    Works for DistilBERT, BERT, RoBERTa and GPT-2 families: the layers are found as the model's
    stack of blocks, never through an attribute such as ``model.distilbert``. Everything else
    (later layers, the task head) stays trainable. Returns a :class:`FreezeReport`.

    >>> from course_utils import models
    >>> from course_utils.classifier import new_classifier
    >>> print(freeze_layers(new_classifier(models.TINY_ENCODER), 3))
    froze the embeddings and the first 3 of 6 layers: 611,715 of 1,796,611 parameters trainable (34.0%)
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ValueError(f"n must be a whole number of layers (0 or more), got {n!r}.")
    if which not in ("first", "last"):
        raise ValueError(f"which must be 'first' or 'last', got {which!r}.")
    layers = _layer_list(model)
    if n > len(layers):
        raise ValueError(f"Cannot freeze {n} layers: {type(model).__name__} has {len(layers)}. "
                         f"Pass n between 0 and {len(layers)}.")
    for param in model.parameters():
        param.requires_grad = True
    chosen = list(layers)[:n] if which == "first" else list(layers)[len(layers) - n:]
    frozen: list[nn.Module] = chosen
    if embeddings:
        frozen += _embedding_modules(model, layers)
    for module in frozen:
        for param in module.parameters():
            param.requires_grad = False
    tied = embeddings and ties_input_and_output_embeddings(model)
    return FreezeReport(n, len(layers), parameter_count(model, trainable_only=True),
                        parameter_count(model), tied, which, embeddings)


def freeze_backbone(model) -> FreezeReport:
    """Freeze everything but the task head (the classifier on top of the base model)."""
    layers = _layer_list(model)
    for param in model.parameters():
        param.requires_grad = True
    for param in model.base_model.parameters():
        param.requires_grad = False
    return FreezeReport(len(layers), len(layers), parameter_count(model, trainable_only=True),
                        parameter_count(model), False)


def divide_loss_for_accumulation(model):
    """Make ``Trainer`` divide a classifier's loss by the gradient accumulation steps; returns ``model``.

    ``Trainer`` skips that division when the model's ``forward`` takes ``**kwargs``, trusting the
    model to normalise its loss by ``num_items_in_batch``. The sequence classifiers of transformers
    5.24 take ``**kwargs`` but compute a plain mean over their micro-batch, so with accumulation
    the update comes out about ``gradient_accumulation_steps`` times too large
    (huggingface/transformers#47688; lesson 07 measures it). A classifier's loss is a mean over
    examples, so the division is right for it; this tells ``Trainer`` so.

    >>> from transformers import DistilBertConfig, DistilBertForSequenceClassification
    >>> cfg = DistilBertConfig(vocab_size=64, dim=16, n_layers=1, n_heads=2, hidden_dim=32, num_labels=3)
    >>> divide_loss_for_accumulation(DistilBertForSequenceClassification(cfg)).accepts_loss_kwargs
    False
    """
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model  # a peft model's transformers model
    inner.accepts_loss_kwargs = False
    return model


def check_labels(labels, num_labels: int, name: str = "labels") -> None:
    """Clear errors for labels a classifier cannot train on, before any training starts."""
    import numpy as np

    values = list(labels)
    if not values:
        raise ValueError(f"{name} is empty: the split has no examples.")
    if any(isinstance(v, str) for v in values):
        raise TypeError(f"{name} are strings; map them to ids first, e.g. with "
                        "label2id = {name: i for i, name in enumerate(names)}.")
    array = np.asarray(values, dtype=float)
    if np.isnan(array).any():
        raise ValueError(f"{name} contain missing values (NaN): drop those rows first.")
    if (array != np.round(array)).any() or array.min() < 0 or array.max() >= num_labels:
        bad = sorted({v for v in values if not (0 <= v < num_labels) or v != int(v)})[:5]
        raise ValueError(f"{name} must be whole numbers 0..{num_labels - 1} for {num_labels} classes; "
                         f"found {bad}. Check num_labels or the label mapping.")


def check_classifier_setup(model, tokenizer, dataset, *, text_col: str = "text",
                           label_col: str = "label") -> None:
    """Everything that would otherwise fail deep inside torch, checked up front."""
    config = model.config
    vocab = model.get_input_embeddings().num_embeddings
    if len(tokenizer) > vocab:
        raise ValueError(f"The tokenizer has {len(tokenizer)} tokens but the model's embedding has "
                         f"{vocab} rows: load the tokenizer that belongs to this model.")
    context = context_length(model)
    splits = dataset.items() if hasattr(dataset, "items") else [("dataset", dataset)]
    for split, part in splits:
        if len(part) == 0:
            raise ValueError(f"The {split} split is empty.")
        if context is not None and "input_ids" in part.column_names:
            longest = max(len(ids) for ids in part["input_ids"])
            if longest > context:
                raise ValueError(
                    f"The {split} split has an example of {longest} tokens, but {type(model).__name__} holds "
                    f"{context} tokens: tokenize with max_length={context} or less (tokenize_splits(splits, "
                    f"tokenizer, {context}), or course_utils.setup(..., max_length={context})).")
        for col in (text_col, label_col):
            if col not in part.column_names:
                raise ValueError(f"The {split} split has no column {col!r}; its columns are "
                                 f"{part.column_names}.")
        check_labels(part[label_col], config.num_labels, name=f"{split} labels")
        names = getattr(part.features.get(label_col), "names", None) if hasattr(part, "features") else None
        if names is not None:
            model_names = [config.id2label[i] for i in range(config.num_labels)]
            if len(names) != config.num_labels or model_names != list(names):
                raise ValueError(
                    f"The model's id2label {model_names} disagrees with the {split} split's label names "
                    f"{list(names)}: load the model with num_labels={len(names)}, "
                    "id2label=dict(enumerate(names)) and label2id={n: i for i, n in enumerate(names)}.")
