"""Choose the classification recipes on the validation split: one learning rate per method.

    python tools/sweep_classifier.py [--profile smoke] [--methods full head partial]
        [--rates 3e-4 6e-4 1e-3] [--out tools/logs/sweep_classifier_smoke.json]

Each (method, learning rate) pair trains from seed 0 with early stopping on the whole
validation split (patience and epoch cap from the profile's recipe), and the log records the
best validation macro-F1, the best epoch, the epochs run and whether validation had stopped
improving before the cap. The test split is never read. The chosen rate per method is the
one with the best validation macro-F1 (within 0.02 of it, the one needing fewest epochs: see
``choose``); ``course_utils.recipes`` holds the chosen values and
the lessons use them. The log is committed, so the choice can be checked without rerunning.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_RATES = {"full": (3e-4, 1e-3), "partial": (3e-4, 1e-3),
                 "head": (1e-3, 3e-3, 1e-2)}


# Validation differences below this are not told apart by ~110 validation texts (about two texts'
# worth of macro-F1); among rates that close to the best, the one that converges in fewest epochs wins.
TOLERANCE = 0.02


def choose(rows: list[dict]) -> float:
    """The learning rate of the best validation macro-F1, or, among rates within ``TOLERANCE`` of
    it, the one that stopped after the fewest epochs (the same result for less compute).

    >>> choose([{"learning_rate": 1e-3, "best_val_macro_f1": 0.88, "epochs_run": 44},
    ...         {"learning_rate": 1e-2, "best_val_macro_f1": 0.87, "epochs_run": 15}])
    0.01
    """
    best = max(r["best_val_macro_f1"] for r in rows)
    close = [r for r in rows if r["best_val_macro_f1"] >= best - TOLERANCE]
    return min(close, key=lambda r: (r["epochs_run"], -r["best_val_macro_f1"]))["learning_rate"]


def sweep(profile: str, methods: list[str], rates: list[float] | None, seed: int = 0) -> dict:
    from transformers import AutoTokenizer

    import course_utils
    from course_utils import data, recipes
    from course_utils.classifier import tokenize_splits
    from course_utils.recipes import train_method
    from course_utils.models import load_pretrained

    cfg = course_utils.setup(profile=profile, verbose=False)
    splits = data.load_domain_splits(max_train=cfg.sizes.max_train_examples)  # the whole validation split
    splits.pop("test")  # the choice is made on validation only
    tokenizer = load_pretrained(AutoTokenizer, cfg.encoder)
    encoded = tokenize_splits(splits, tokenizer, cfg.sizes.max_length)
    rows = []
    for method in methods:
        base = recipes.classifier_recipe(cfg, method)
        for rate in rates or DEFAULT_RATES[method]:
            recipe = base.with_rate(rate)
            start = time.perf_counter()
            with tempfile.TemporaryDirectory() as tmp:
                run = train_method(cfg, method, tokenizer, encoded, recipe=recipe, output_dir=tmp, seed=seed)
            row = {"method": method, "learning_rate": rate, **run.summary(),
                   "seconds": round(time.perf_counter() - start, 1)}
            print(json.dumps(row), flush=True)
            rows.append(row)
    chosen = {method: choose([r for r in rows if r["method"] == method]) for method in methods}
    return {"profile": profile, "encoder": Path(cfg.encoder).name, "train_examples": len(encoded["train"]),
            "validation_examples": len(encoded["validation"]), "seed": seed, "runs": rows, "chosen": chosen}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="smoke")
    parser.add_argument("--methods", nargs="+", default=["full", "partial", "head"])
    parser.add_argument("--rates", nargs="+", type=float, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    log = sweep(args.profile, args.methods, args.rates)
    out = args.out or ROOT / "tools" / "logs" / f"sweep_classifier_{args.profile}.json"
    if out.exists():  # keep the runs of methods not swept this time
        old = json.loads(out.read_text())
        log["runs"] = [r for r in old["runs"] if r["method"] not in args.methods] + log["runs"]
        log["chosen"] = {**{m: r for m, r in old["chosen"].items() if m not in args.methods}, **log["chosen"]}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(log, indent=2) + "\n")
    print("chosen on validation:", log["chosen"], "->", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
