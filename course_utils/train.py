"""Lesson 02's full fine-tuning and lesson 05's instruction tuning as command-line scripts that scale out.

The same helpers, profile and results recording as the notebooks, on one process or many::

    python -m course_utils.train classify                       # one process, like lesson 02
    python -m course_utils.train instruct                       # one process, like lesson 05
    torchrun --nproc_per_node 4 -m course_utils.train classify  # 4 processes (DDP), one per GPU
    accelerate launch --num_processes 4 -m course_utils.train classify

Under a launcher each process trains on its own share of every batch: ``--global-batch`` (the
profile's batch by default) is split evenly over the processes, so a run takes the same optimizer
steps, on the same examples per step, as one process with the whole batch. Only the first process
(rank 0) records results and prints. See docs/scaling.md for when to leave the notebooks for these
scripts, and the ``accelerate`` configuration for FSDP.

>>> parse_args(["classify", "--epochs", "3"]).epochs
3
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from course_utils.training import rank, replicas, world_size


def per_process_batch(global_batch: int, processes: int) -> int:
    """The batch each process takes so that one optimizer step sees ``global_batch`` examples.

    >>> per_process_batch(16, 2)
    8
    """
    if global_batch < 1 or processes < 1:
        raise ValueError(f"global batch and processes must be at least 1, got {global_batch} and {processes}.")
    if global_batch % processes:
        raise ValueError(f"A global batch of {global_batch} cannot be split evenly over {processes} processes: "
                         f"choose --global-batch as a multiple of {processes}.")
    return global_batch // processes


class ShardRecorder:
    """Wraps a data collator and notes which training examples (by index) this process batched:
    the evidence that each process trains on its own shard."""

    def __init__(self, collator, examples):
        self.collator = collator
        self.index = {}
        for i, example in enumerate(examples):
            key = tuple(example["input_ids"])
            if key in self.index:
                raise ValueError(f"Training examples {self.index[key]} and {i} are identical token for token: "
                                 "shards cannot be told apart; deduplicate the data first (lesson 01).")
            self.index[key] = i
        self.batches: list[list[int]] = []

    def __call__(self, features):
        seen = [self.index.get(tuple(f["input_ids"])) for f in features]
        if any(i is not None for i in seen):  # the same collator pads validation and test batches: not noted
            self.batches.append(seen)
        return self.collator(features)

    def save(self, folder: str | Path) -> Path:
        path = Path(folder) / f"rank{rank()}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"rank": rank(), "world_size": world_size(), "batches": self.batches}))
        return path


def _setup(args, **models):
    """The course's setup, with each process's share of the global batch (``--global-batch``, else the
    profile's) as its batch; the summary is printed once, by rank 0."""
    from dataclasses import replace

    import course_utils

    processes = world_size()
    cfg = course_utils.setup(profile=args.profile, seed=args.seed, verbose=False, **models)
    # Split over every copy of the model: the processes, or one process's GPUs under DataParallel.
    batch = per_process_batch(args.global_batch or cfg.sizes.train_batch_size, replicas(cfg))
    cfg = replace(cfg, sizes=replace(cfg.sizes, train_batch_size=batch))
    if rank() == 0:
        print(cfg.summary())
    return cfg, processes


def _results(args, cfg, name: str):
    """The run's :class:`~course_utils.results.Results` on rank 0; None on the other processes."""
    from course_utils.results import Results

    return Results(name, config=cfg, folder=args.results) if rank() == 0 else None


def _record(res, processes: int, cfg, **values) -> None:
    if res is None:
        return
    res.record("processes", processes, label="Training processes", headline=True)
    res.record("global_batch", cfg.sizes.train_batch_size * replicas(cfg), label="Examples per optimizer step")
    for name, (value, label, fmt) in values.items():
        res.record(name, value, label=label, headline=label is not None, fmt=fmt)


def classify(args) -> dict:
    """Lesson 02's full fine-tuning (``classifier.fine_tune`` with ``recipes.classifier_recipe(cfg, "full")``):
    trains, keeps the best epoch on validation, and scores the test split."""
    from dataclasses import replace

    import numpy as np
    from transformers import AutoTokenizer, DataCollatorWithPadding

    from course_utils import data
    from course_utils.classifier import fine_tune, new_classifier, tokenize_splits
    from course_utils.evaluation import classification_metrics
    from course_utils.models import load_pretrained
    from course_utils.recipes import classifier_recipe

    cfg, processes = _setup(args, encoder=args.encoder)
    res = _results(args, cfg, "train_classify")
    tokenizer = load_pretrained(AutoTokenizer, cfg.encoder)
    max_train = cfg.sizes.max_train_examples if args.max_train is None else args.max_train
    splits = data.load_domain_splits(max_train=max_train, max_eval=cfg.sizes.max_eval_examples, seed=args.seed)
    encoded = tokenize_splits(splits, tokenizer, cfg.sizes.max_length)
    recipe = classifier_recipe(cfg, "full")
    if args.epochs is not None:
        recipe = replace(recipe, max_epochs=args.epochs)
    if args.patience is not None:
        # patience 0: no early stopping; every epoch runs (the best one is still kept)
        recipe = replace(recipe, patience=args.patience or recipe.max_epochs)
    if args.learning_rate is not None:
        recipe = recipe.with_rate(args.learning_rate)
    recorder = ShardRecorder(DataCollatorWithPadding(tokenizer), encoded["train"]) if args.record_shards else None
    model = new_classifier(cfg.encoder, seed=args.seed)
    run = fine_tune(cfg, model, tokenizer, encoded, output_dir=args.output_dir, seed=args.seed, recipe=recipe,
                    data_collator=recorder, ddp_find_unused_parameters=False)  # every weight gets a gradient
    # every process takes part in predicting (its share of the test split, gathered for all)
    predictions = run.trainer.predict(encoded["test"].remove_columns(["label"]))
    predicted = np.asarray(predictions.predictions).argmax(-1)
    if recorder is not None:
        recorder.save(args.record_shards)
    metrics = classification_metrics(encoded["test"]["label"], predicted)
    summary = {"test_macro_f1": float(metrics["macro_f1"]), "optimizer_steps": run.trainer.state.global_step,
               "train_seconds": run.seconds, "processes": processes}
    _record(res, processes, cfg,
            test_macro_f1=(summary["test_macro_f1"], "Test macro-F1, full fine-tuning", ".3f"),
            optimizer_steps=(summary["optimizer_steps"], "Optimizer steps", None),
            train_examples=(len(encoded["train"]), None, None),
            train_seconds=(run.seconds, "Training time (s)", ".1f"),
            learning_rate=(recipe.learning_rate, None, None))
    if rank() == 0:
        print(json.dumps(summary))
    return summary


def instruct(args) -> dict:
    """Lesson 05's instruction tuning (``instruct.instruction_tune`` with ``recipes.instruction_recipe``):
    response-only loss, EOS learned; then exact match on the held-out prompts, on rank 0."""
    import numpy as np
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from course_utils import data
    from course_utils.instruct import encode_records, ensure_pad_token, exact_match_scores, instruction_tune
    from course_utils.models import load_pretrained
    from course_utils.recipes import instruction_recipe

    if os.environ.get("ACCELERATE_USE_FSDP", "").strip().lower() in ("1", "true"):
        # the held-out prompts are scored by rank 0 alone, which a sharded model cannot do
        raise SystemExit("instruct does not run under FSDP yet: its exact-match scoring generates on one process. "
                         "Use DDP (configs/accelerate/ddp.yaml or torchrun), with LoRA if the model is large "
                         "(lesson 06).")
    cfg, processes = _setup(args, causal_lm=args.causal_lm)
    res = _results(args, cfg, "train_instruct")
    tokenizer = load_pretrained(AutoTokenizer, cfg.causal_lm)
    ensure_pad_token(tokenizer)
    records = data.load_instructions("train")
    if args.max_train is not None:
        records = records.head(args.max_train)
    encoded = encode_records(records, tokenizer, cfg.sizes.max_length * 2)  # as lesson 05: passages are long
    recipe = instruction_recipe(cfg)
    epochs = recipe.epochs if args.epochs is None else args.epochs
    rate = recipe.learning_rate if args.learning_rate is None else args.learning_rate
    model = load_pretrained(AutoModelForCausalLM, cfg.causal_lm)
    recorder = None
    if args.record_shards:
        from transformers import DataCollatorForSeq2Seq

        from course_utils.instruct import IGNORE_INDEX

        recorder = ShardRecorder(DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=IGNORE_INDEX), encoded.examples)
    run = instruction_tune(cfg, model, tokenizer, encoded.examples, learning_rate=rate, epochs=epochs,
                           output_dir=args.output_dir, seed=args.seed, data_collator=recorder)
    if recorder is not None:
        recorder.save(args.record_shards)
    summary = {"optimizer_steps": run.steps, "train_seconds": run.seconds, "processes": processes,
               "final_loss": run.losses[-1][1] if run.losses else None}
    if rank() == 0:  # generation is not a collective: the first process scores the held-out prompts alone
        heldout = data.load_instructions("heldout")
        if args.max_eval is not None:
            heldout = heldout.head(args.max_eval)
        summary["heldout_exact_match"] = float(np.mean(exact_match_scores(model.to(cfg.device), tokenizer, heldout)))
        _record(res, processes, cfg,
                heldout_exact_match=(summary["heldout_exact_match"], "Held-out exact match, instruction tuning", ".3f"),
                optimizer_steps=(run.steps, "Optimizer steps", None),
                train_examples=(len(encoded.examples), None, None),
                train_seconds=(run.seconds, "Training time (s)", ".1f"),
                learning_rate=(rate, None, None))
        print(json.dumps(summary))
    return summary


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m course_utils.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("recipe", choices=["classify", "instruct"],
                        help="classify: lesson 02's full fine-tuning; instruct: lesson 05's instruction tuning")
    parser.add_argument("--profile", choices=["smoke", "cpu", "gpu"], default=None,
                        help="the course profile (default: detected, as in the notebooks)")
    parser.add_argument("--encoder", default=None, help="classify: a Hub id or local folder (default: the profile's)")
    parser.add_argument("--causal-lm", default=None, help="instruct: a Hub id or local folder (default: the profile's)")
    parser.add_argument("--global-batch", type=int, default=None,
                        help="examples per optimizer step, over all processes (default: the profile's batch)")
    parser.add_argument("--epochs", type=int, default=None, help="epoch cap (default: the recipe's)")
    parser.add_argument("--patience", type=int, default=None,
                        help="classify: early-stopping patience in epochs; 0 runs every epoch (default: the recipe's)")
    parser.add_argument("--learning-rate", type=float, default=None, help="default: the recipe's for this model")
    parser.add_argument("--max-train", type=int, default=None, help="use the first N training examples")
    parser.add_argument("--max-eval", type=int, default=None, help="instruct: score the first N held-out prompts")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output-dir", default="build/train", help="Trainer's checkpoints")
    parser.add_argument("--results", default=None, help="results folder (default: build/results, as make run)")
    parser.add_argument("--record-shards", default=None,
                        help="write the training examples each process batched to FOLDER/rank<N>.json")
    args = parser.parse_args(argv)
    for name in ("global_batch", "epochs", "max_train", "max_eval"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {value}.")
    if args.patience is not None and args.patience < 0:
        parser.error(f"--patience must be 0 or more, got {args.patience}.")
    if args.learning_rate is not None and not args.learning_rate > 0:
        parser.error(f"--learning-rate must be above 0, got {args.learning_rate}.")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    (classify if args.recipe == "classify" else instruct)(args)
    if rank() == 0:
        print(f"{args.recipe}: {world_size()} process(es), {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
