"""Fine-tuning a sequence classifier the course's way, and a cached classifier for later lessons.

Lesson 02 shows the ``Trainer`` code once; :func:`fine_tune` is the same recipe in one call.
:func:`train_or_load_classifier` trains it on first use and reloads it after, so lessons 03 and
04 start from a fine-tuned model while still running on their own.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import warnings
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

import torch

from course_utils import data
from course_utils.evaluation import compute_metrics
from course_utils.files import exclusive
from course_utils.models import context_length, device_of, eval_mode, load_pretrained, tokenizer_context
from course_utils.training import check_classifier_setup, divide_loss_for_accumulation, training_args


def tokenize_splits(splits, tokenizer, max_length: int):
    """Tokenize every split, truncating at ``max_length``; padding is left to the collator
    (per batch, to the longest text in it).

    A ``max_length`` longer than the model's context (the tokenizer's ``model_max_length``) is
    clipped to it, with a warning: more tokens than the model has positions would fail inside
    torch. (A tokenizer that does not know its context is checked against the model when
    :func:`fine_tune` starts.)
    """
    if getattr(tokenizer, "pad_token", None) is None:
        raise ValueError("The tokenizer has no pad token, which batching needs: set "
                         "tokenizer.pad_token = tokenizer.eos_token (GPT-2) or load the model's own tokenizer.")
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 2:
        raise ValueError(f"max_length must be a whole number of tokens (at least 2), got {max_length!r}.")
    context = tokenizer_context(tokenizer)
    if context is not None and max_length > context:
        warnings.warn(f"max_length={max_length} is longer than the model's context of {context} tokens "
                      f"(its tokenizer's model_max_length): truncating at {context}. Set max_length={context} "
                      f"or less (course_utils.setup(..., max_length={context})) to silence this.",
                      UserWarning, stacklevel=2)
        max_length = context
    return splits.map(lambda batch: tokenizer(batch["text"], truncation=True, max_length=max_length),
                      batched=True)


def new_classifier(name: str, *, seed: int = 0, pretrained: bool = True):
    """A sequence classifier for the course's labels; ``pretrained=False`` gives the same
    architecture with random weights (the control that shows what pretraining is worth)."""
    from transformers import AutoConfig, AutoModelForSequenceClassification

    from course_utils.profiles import seed_everything

    from transformers.utils import logging as hf_logging

    labels = dict(num_labels=len(data.LABELS), id2label=data.id2label(), label2id=data.label2id())
    seed_everything(seed)  # the new head's initial weights depend on it
    # The load report would list the new head as "missing" and the masked-LM head as
    # "unexpected": both are the point of this call, so keep it quiet.
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        if pretrained:
            return load_pretrained(AutoModelForSequenceClassification, name, **labels)
        config = load_pretrained(AutoConfig, name, **labels)
        return AutoModelForSequenceClassification.from_config(config)
    finally:
        hf_logging.set_verbosity(verbosity)


@dataclass
class FineTuneResult:
    trainer: object
    seconds: float  # the training time Trainer measured (its train_runtime)
    history: list

    @property
    def model(self):
        return self.trainer.model


def fine_tune(cfg, model, tokenizer, encoded, *, output_dir: str, seed: int = 0, recipe=None,
              quiet: bool = True, data_collator=None, **overrides) -> FineTuneResult:
    """Train with ``Trainer`` on ``encoded["train"]`` until the recipe's validation metric stops
    improving for ``recipe.patience`` epochs (or the epoch cap), and keep the best epoch.

    ``recipe`` is a :class:`course_utils.recipes.Recipe` (full fine-tuning's by default);
    ``overrides`` go to :func:`course_utils.training.training_args`; ``quiet`` (the default)
    drops the per-epoch log lines and progress bar (the log history is kept either way).
    ``data_collator`` replaces the per-batch padding (``DataCollatorWithPadding``), for one that
    wraps it (``course_utils.train`` notes which examples each process batched).
    """
    from course_utils.recipes import classifier_recipe

    from transformers import DataCollatorWithPadding, EarlyStoppingCallback, Trainer
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    check_classifier_setup(model, tokenizer, encoded)
    divide_loss_for_accumulation(model)  # right updates if a learner adds gradient accumulation
    recipe = recipe or classifier_recipe(cfg, "full")
    args = training_args(cfg, output_dir, train_examples=len(encoded["train"]), recipe=recipe, seed=seed,
                         **overrides)
    trainer = Trainer(
        model=model, args=args, train_dataset=encoded["train"], eval_dataset=encoded["validation"],
        processing_class=tokenizer, data_collator=data_collator or DataCollatorWithPadding(tokenizer),
        compute_metrics=compute_metrics,
        callbacks=[EarlyStoppingCallback(early_stopping_patience=recipe.patience)],
    )
    if quiet:
        trainer.remove_callback(PrinterCallback)
        trainer.remove_callback(ProgressCallback)
    output = trainer.train()
    return FineTuneResult(trainer, output.metrics["train_runtime"], trainer.state.log_history)


@torch.no_grad()
def mean_pooled_features(model, tokenizer, texts: list[str], max_length: int = 128, batch_size: int = 32):
    """Feature extraction: the mean of the last hidden states over real (non-pad) tokens, one
    row per text, computed once with the backbone in eval mode (no dropout). Texts are truncated
    at ``max_length`` tokens, or at the model's context where that is shorter."""
    max_length = min(max_length, context_length(model) or max_length)
    base = getattr(model, "base_model", model)
    device = device_of(base)
    rows = []
    with eval_mode(base):
        for i in range(0, len(texts), batch_size):
            enc = tokenizer(list(texts[i : i + batch_size]), truncation=True, max_length=max_length,
                            padding=True, return_tensors="pt").to(device)
            hidden = base(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            rows.append(((hidden * mask).sum(1) / mask.sum(1)).float().cpu())
    return torch.cat(rows).numpy()


def _cache_root() -> Path:
    return Path(os.environ.get("COURSE_CACHE_DIR", Path.home() / ".cache" / "course_utils"))


def _cache_key(cfg, seed: int, quick: bool) -> str:
    from course_utils.recipes import classifier_recipe

    s = cfg.sizes
    blob = json.dumps({
        "encoder": s.encoder, "max_train": s.max_train_examples, "max_eval": s.max_eval_examples,
        "recipe": asdict(classifier_recipe(cfg, "full", quick=quick)), "max_length": s.max_length,
        "seed": seed, "precision": cfg.precision,
        "data": hashlib.sha256(data._path("domain_clean.jsonl").read_bytes()).hexdigest(),
        "transformers": metadata.version("transformers"),
    }, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def train_or_load_classifier(cfg, *, seed: int = 0, retrain: bool = False, quick: bool = False):
    """The profile's fine-tuned classifier: trained on first use with lesson 02's full
    fine-tuning recipe (:func:`course_utils.recipes.train_method`: until validation macro-F1 stops
    improving, the best epoch kept; seed ``seed``), cached under ``$COURSE_CACHE_DIR`` (default
    ``~/.cache/course_utils``) and reloaded after. Returns ``(model, tokenizer, info)``; ``info``
    holds the recipe and what validation said (``learning_rate``, ``epochs_run``, ``best_epoch``,
    ``converged``, ``best_val_macro_f1``). ``quick=True`` caps the epochs (a lesson's quick pass).

    The cache key covers the model, the profile's sizes, the recipe, the seed, the data and the
    transformers version, so a change to any of them trains a new classifier.
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from course_utils.recipes import train_method

    folder = _cache_root() / f"classifier-{cfg.profile}-{_cache_key(cfg, seed, quick)}"
    # One process trains, any other asking for the same classifier meanwhile waits and reloads it.
    with exclusive(folder.parent / f".{folder.name}.lock"):
        if retrain and folder.exists():
            shutil.rmtree(folder)
        if not (folder / "info.json").exists():
            tokenizer = load_pretrained(AutoTokenizer, cfg.encoder)
            splits = data.load_domain_splits(max_train=cfg.sizes.max_train_examples,
                                             max_eval=cfg.sizes.max_eval_examples, seed=seed)
            encoded = tokenize_splits(splits, tokenizer, cfg.sizes.max_length)
            folder.parent.mkdir(parents=True, exist_ok=True)
            work = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".training-"))
            try:
                run = train_method(cfg, "full", tokenizer, encoded, output_dir=str(work / "checkpoints"), seed=seed,
                                   quick=quick)
                best = work / "model"
                run.trainer.save_model(str(best))
                info = {"encoder": cfg.encoder, "profile": cfg.profile, "seed": seed, "method": "full",
                        "train_examples": len(encoded["train"]), "validation_examples": len(encoded["validation"]),
                        **run.summary(), "history": run.history}
                (best / "info.json").write_text(json.dumps(info, indent=2))
                try:
                    best.rename(folder)  # atomic: a concurrent run finds either nothing or a whole model
                except OSError:
                    if not (folder / "info.json").exists():
                        raise
            finally:
                shutil.rmtree(work, ignore_errors=True)
    model = AutoModelForSequenceClassification.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    info = json.loads((folder / "info.json").read_text())
    info["path"] = str(folder)
    return model.to(cfg.device), tokenizer, info
