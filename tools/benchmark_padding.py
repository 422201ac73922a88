"""The padding recipe, measured: the common one against the course's (a benchmark, not a test).

    python tools/benchmark_padding.py [--model PATH_OR_HUB_ID] [--epochs 1]

On the bundled instruction records and one causal LM (the profile's, tiny GPT-2 by default),
one epoch of training each way:

- common:  every example padded to max_length=256, labels copied from the inputs (the loss also
           trains on the prompt and on the padding, unless the pad id is masked);
- course:  prompt masked, EOS appended, padding per batch by DataCollatorForSeq2Seq, batches
           grouped by length (train_sampling_strategy="group_by_length").

It prints tokens processed per epoch, the share of them that are padding, and training time per
epoch (as ``Trainer`` measures it). Both recipes train with the course's ``lm_args``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_utils import Results, data, models  # noqa: E402
from course_utils.instruct import encode_records, ensure_pad_token, format_prompt  # noqa: E402
from course_utils.training import lm_args  # noqa: E402


class CountingCollator:
    """Wraps a collator and counts the tokens and pad tokens of every batch it builds."""

    def __init__(self, collator):
        self.collator, self.tokens, self.padding = collator, 0, 0

    def __call__(self, features):
        batch = self.collator(features)
        mask = batch["attention_mask"]
        self.tokens += mask.numel()
        self.padding += int((mask == 0).sum())
        return batch


def _config(model_name: str):
    """The course's settings for this run: the tiny GPT-2 is the smoke profile's model (offline);
    a Hub model trains on a GPU where torch sees one, on the CPU otherwise."""
    import course_utils

    profile = "gpu" if torch.cuda.is_available() else "smoke" if model_name == models.TINY_GPT2 else "cpu"
    return course_utils.setup(profile=profile, verbose=False)


def build(recipe: str, model_name: str, epochs: int, batch_size: int):
    """``(trainer, counting collator)`` for one recipe: ``"common"`` pads every example to 256 with
    the labels copied from the inputs; ``"course"`` pads per batch with length grouping."""
    from datasets import Dataset
    from transformers import (AutoModelForCausalLM, AutoTokenizer, DataCollatorForSeq2Seq, Trainer,
                              default_data_collator)

    cfg = _config(model_name)  # seeds torch too: both recipes start from the same state
    tok = AutoTokenizer.from_pretrained(model_name)
    ensure_pad_token(tok)
    model = AutoModelForCausalLM.from_pretrained(model_name)
    records = data.load_instructions()
    records = records[records["split"] == "train"]
    if recipe == "common":
        texts = [format_prompt(r.instruction, r.input) + r.output for r in records.itertuples()]
        enc = tok(texts, padding="max_length", truncation=True, max_length=256)
        enc["labels"] = [list(ids) for ids in enc["input_ids"]]
        dataset = Dataset.from_dict(dict(enc))
        collator = CountingCollator(default_data_collator)
        extra = {}
    else:
        encoded = encode_records(records, tok, 256)
        dataset = Dataset.from_list(encoded.examples)
        collator = CountingCollator(DataCollatorForSeq2Seq(tok, label_pad_token_id=-100))
        extra = {"train_sampling_strategy": "group_by_length"}
    args = lm_args(cfg, str(ROOT / "build" / "benchmark_padding"), train_examples=len(dataset),
                   num_train_epochs=epochs, per_device_train_batch_size=batch_size, learning_rate=1e-4,
                   logging_strategy="no", **extra)
    return Trainer(model=model, args=args, train_dataset=dataset, data_collator=collator), collator


def run(recipe: str, model_name: str, epochs: int, batch_size: int) -> dict:
    """Train one recipe and count what it processed: tokens and padding per epoch, seconds per epoch."""
    trainer, collator = build(recipe, model_name, epochs, batch_size)
    seconds = trainer.train().metrics["train_runtime"] / epochs
    return {"recipe": recipe, "tokens_per_epoch": collator.tokens // epochs,
            "padding_share": collator.padding / max(1, collator.tokens), "seconds_per_epoch": seconds}


def count(recipe: str, model_name: str, batch_size: int) -> dict:
    """The tokens and padding of one epoch without training: the batches the trainer's own data
    loader builds (same sampler, same collator), so the counts equal those of :func:`run`."""
    trainer, collator = build(recipe, model_name, 1, batch_size)
    for _ in trainer.get_train_dataloader():
        pass
    return {"recipe": recipe, "tokens_per_epoch": collator.tokens,
            "padding_share": collator.padding / max(1, collator.tokens)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=models.TINY_GPT2)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args(argv)
    rows = [run(recipe, args.model, args.epochs, args.batch_size) for recipe in ("common", "course")]
    print(f"\nmodel {args.model}, {args.epochs} epoch(s), batch {args.batch_size}")
    print(f"{'recipe':<8} {'tokens/epoch':>13} {'padding':>8} {'s/epoch':>8}")
    for r in rows:
        print(f"{r['recipe']:<8} {r['tokens_per_epoch']:>13,} {r['padding_share']:>8.1%} {r['seconds_per_epoch']:>8.1f}")
    common, course = rows
    # Recorded like a lesson's results, so `make results` puts the ratios in the README.
    res = Results("benchmark_padding", profile="smoke" if args.model == models.TINY_GPT2 else args.model)
    res.record("tokens_ratio", common["tokens_per_epoch"] / course["tokens_per_epoch"],
               label="Padding benchmark: tokens per epoch, common / course", headline=True, fmt=".2f")
    res.record("time_ratio", common["seconds_per_epoch"] / course["seconds_per_epoch"],
               label="Padding benchmark: seconds per epoch, common / course", headline=True, fmt=".2f")
    res.record("padding_common", common["padding_share"], label="Padding share, common recipe", headline=True, fmt=".1%")
    res.record("padding_course", course["padding_share"], label="Padding share, course recipe", headline=True, fmt=".1%")
    res.record("rows", rows)
    print(f"ratios (common / course): tokens {res.values['tokens_ratio']['value']:.2f}x, "
          f"time {res.values['time_ratio']['value']:.2f}x; recorded in {res.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
