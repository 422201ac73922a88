"""Choose lesson 05's instruction-tuning recipe, and its forgetting remedy, on the validation split.

    COURSE_THREADS=1 python tools/sweep_instruct.py [--profile smoke] [--rates 3e-5 1e-4 3e-4 1e-3 2e-3]
        [--epochs 3 6 10 15] [--anchors 0.003 0.01 0.03 0.1 0.3] [--seeds 0 1] [--resume OUTPUT]
        [--out tools/logs/sweep_instruct_smoke.json]

Stage 1, the recipe: each (learning rate, epochs) pair tunes a fresh model on the ``train``
records, once per seed, and is scored on the ``validation`` records:

- exact match on the note-type prompts (the lesson's headline metric), also **balanced**: the
  mean over the three labels of the share of that label's prompts answered right. Plain exact
  match rewards a model that never answers a label the validation prompts happen to hold few of
  (a first sweep, on an unstratified split with 3 "treatment" prompts in 16, chose a recipe that
  never answered "treatment"), and the held-out prompts need not share the validation split's
  label counts;
- the loss on the responses of the note-type prompts (smooth where exact match moves in steps
  of one prompt) and of every validation record (all four tasks).

Scores are averaged over the seeds, and the choice is made among the runs the lesson can afford
(at most ``LESSON_MAX_EPOCHS`` epochs):

- the **rate**: the lowest, so the closest to the real-model recipe (1e-5 to 3e-5), whose best run
  is within one prompt's worth (``tolerance``: a smaller difference is noise on 16 prompts) of the
  best balanced exact match of all;
- the **epochs** at that rate: where its note-type validation loss is lowest among the affordable
  runs (the loss is smooth where exact match moves in steps of one prompt).

Longer runs stay in the log, to show whether more epochs would have helped: a test checks that at
the chosen rate they gain no exact match beyond one prompt and less than 5% of the loss.

Stage 2, the remedy: lesson 04's L2 anchor toward the pretrained weights
(``course_utils.forgetting.WeightAnchor``) at each strength, with the chosen recipe. Forgetting is
measured as lesson 04 does, by general-text perplexity, but on a validation slice of general text
(paragraphs of the pretraining topics), never on the held-out paragraphs the lesson reports. The
chosen strength gives the lowest validation perplexity among those whose balanced exact match is
no lower than the unanchored recipe's ("forgets less" must not mean "learned less"). A first
version allowed one validation prompt less, as the recipe's choice does; it chose a strength that
lost 13 points of exact match on lesson 05's held-out prompts, more than 18 validation prompts can
show, so the rule was made strict. That change was made after seeing a held-out score: lesson 05
says so next to the remedy's numbers.

The held-out records are never read. ``course_utils.recipes.INSTRUCTION_TINY`` holds the chosen
values (a test keeps the two equal) and lesson 05 uses them. The log is committed, so the choice
can be checked without rerunning.
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

DEFAULT_RATES = (3e-5, 1e-4, 3e-4, 1e-3, 2e-3)
DEFAULT_EPOCHS = (3, 6, 10, 15)
DEFAULT_ANCHORS = (0.003, 0.01, 0.03, 0.1, 0.3)
DEFAULT_SEEDS = (0, 1)
# Paragraphs of general text for the validation perplexity: enough tokens for a stable measure
# (tens of thousands), few enough to measure in seconds after every run.
GENERAL_VALIDATION_PARAGRAPHS = 150
# Lesson 05 trains its recipe twice (plain, and with the anchor of section 9) and runs the masking
# ablation, all inside the smoke profile's 150 s; at 16 steps an epoch, 10 epochs is what fits.
LESSON_MAX_EPOCHS = 10
SCORES = ("val_exact_match", "val_balanced_exact_match", "val_note_loss", "val_loss", "val_general_ppl")


def balanced_exact_match(scores, labels) -> float:
    """The mean over labels of the share of that label's prompts answered right.

    >>> balanced_exact_match([1, 1, 1, 0], ["symptom", "symptom", "symptom", "treatment"])
    0.5
    """
    scores, labels = list(scores), list(labels)
    if not scores or len(scores) != len(labels):
        raise ValueError(f"Need one score per label, got {len(scores)} scores for {len(labels)} labels.")
    per_label = {}
    for score, label in zip(scores, labels):
        per_label.setdefault(label, []).append(score)
    return sum(sum(v) / len(v) for v in per_label.values()) / len(per_label)


def average(runs: list[dict], keys: tuple[str, ...], scores: tuple[str, ...] = SCORES) -> list[dict]:
    """One row per setting (``keys``), each of ``scores`` the mean over that setting's seeds.

    >>> average([{"lr": 1, "val_loss": 2.0, "seed": 0}, {"lr": 1, "val_loss": 3.0, "seed": 1}], ("lr",))
    [{'lr': 1, 'seeds': 2, 'val_loss': 2.5}]
    """
    rows: dict[tuple, list[dict]] = {}
    for run in runs:
        rows.setdefault(tuple(run[k] for k in keys), []).append(run)
    out = []
    for setting, group in rows.items():
        row = {**dict(zip(keys, setting)), "seeds": len(group)}
        for score in scores:
            if score in group[0]:
                row[score] = round(sum(r[score] for r in group) / len(group), 4)
        out.append(row)
    return out


def choose_recipe(rows: list[dict], tolerance: float, max_epochs: int = LESSON_MAX_EPOCHS) -> dict:
    """Among settings of at most ``max_epochs`` epochs: the lowest rate whose best run is within
    ``tolerance`` of the best balanced validation exact match, and at that rate the epochs with the
    lowest note-type validation loss (where validation stops improving).

    >>> rows = [{"learning_rate": 1e-3, "epochs": 6, "val_balanced_exact_match": 0.60, "val_note_loss": 0.30},
    ...         {"learning_rate": 1e-3, "epochs": 10, "val_balanced_exact_match": 0.61, "val_note_loss": 0.28},
    ...         {"learning_rate": 2e-3, "epochs": 6, "val_balanced_exact_match": 0.57, "val_note_loss": 0.27},
    ...         {"learning_rate": 3e-4, "epochs": 10, "val_balanced_exact_match": 0.50, "val_note_loss": 0.34},
    ...         {"learning_rate": 1e-4, "epochs": 15, "val_balanced_exact_match": 0.60, "val_note_loss": 0.57}]
    >>> chosen = choose_recipe(rows, tolerance=1 / 16, max_epochs=10)
    >>> chosen["learning_rate"], chosen["epochs"]
    (0.001, 10)
    """
    affordable = [r for r in rows if r["epochs"] <= max_epochs]
    if not affordable:
        raise ValueError(f"No run of at most {max_epochs} epochs to choose from.")
    best = max(r["val_balanced_exact_match"] for r in affordable)
    rate = min(r["learning_rate"] for r in affordable if r["val_balanced_exact_match"] >= best - tolerance - 1e-9)
    return min((r for r in affordable if r["learning_rate"] == rate), key=lambda r: (r["val_note_loss"], r["epochs"]))


def choose_anchor(rows: list[dict], reference: float, tolerance: float) -> dict | None:
    """The anchored setting with the lowest validation perplexity among those whose balanced exact
    match is within ``tolerance`` of ``reference`` (the unanchored recipe's); None if none is.

    >>> rows = [{"strength": 0.1, "val_balanced_exact_match": 0.69, "val_general_ppl": 300.0},
    ...         {"strength": 1.0, "val_balanced_exact_match": 0.31, "val_general_ppl": 150.0}]
    >>> choose_anchor(rows, reference=0.75, tolerance=1 / 16)["strength"]
    0.1
    """
    kept = [r for r in rows if r["val_balanced_exact_match"] >= reference - tolerance - 1e-9]
    return min(kept, key=lambda r: r["val_general_ppl"]) if kept else None


def general_validation_text() -> list[str]:
    """General text for choosing the remedy: pretraining-topic paragraphs, never the held-out ones."""
    from course_utils import corpus

    return corpus.general_text("train")[:GENERAL_VALIDATION_PARAGRAPHS]


def run_once(cfg, tokenizer, train_examples, validation, val_examples, note_examples, general, *,
             learning_rate: float, epochs: int, strength: float = 0.0, seed: int = 0) -> dict:
    """Tune a fresh model with one setting and seed; its validation scores and timings."""
    import numpy as np
    from transformers import AutoModelForCausalLM

    from course_utils.forgetting import WeightAnchor, perplexity
    from course_utils.instruct import exact_match_scores, instruction_tune, response_loss
    from course_utils.models import load_pretrained
    from course_utils.profiles import seed_everything

    seed_everything(seed)
    model = load_pretrained(AutoModelForCausalLM, cfg.causal_lm).to(cfg.device)
    anchor = WeightAnchor(model, strength) if strength else None
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        run = instruction_tune(cfg, model, tokenizer, train_examples, learning_rate=learning_rate, epochs=epochs,
                               output_dir=tmp, anchor=anchor, seed=seed)
    note = validation[validation["task"] == "note_type"]
    scores = exact_match_scores(model, tokenizer, note)
    return {"learning_rate": learning_rate, "epochs": epochs, "strength": strength, "seed": seed,
            "steps": run.steps, "final_train_loss": round(run.losses[-1][1], 4),
            "val_exact_match": round(float(np.mean(scores)), 4),
            "val_balanced_exact_match": round(balanced_exact_match(scores, note["output"]), 4),
            "val_note_loss": round(response_loss(model, tokenizer, note_examples), 4),
            "val_loss": round(response_loss(model, tokenizer, val_examples), 4),
            "val_general_ppl": round(perplexity(model, tokenizer, general), 2),
            "train_seconds": round(run.seconds, 1), "seconds": round(time.perf_counter() - start, 1)}


def sweep(profile: str, rates, epochs, anchors, seeds, max_length: int | None = None,
          resumed: list[dict] | None = None) -> dict:
    """Run (or, for runs in ``resumed``, reuse) every setting and seed, and choose; the log as a dict."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    import course_utils
    from course_utils import data
    from course_utils.forgetting import perplexity
    from course_utils.instruct import encode_records, ensure_pad_token, response_loss
    from course_utils.models import load_pretrained

    cfg = course_utils.setup(profile=profile, verbose=False)
    tokenizer = load_pretrained(AutoTokenizer, cfg.causal_lm)
    ensure_pad_token(tokenizer)
    max_length = max_length or cfg.sizes.max_length * 2  # the lesson's MAX_LENGTH
    train, validation = data.load_instructions("train"), data.load_instructions("validation")
    note = validation[validation["task"] == "note_type"]
    common = dict(cfg=cfg, tokenizer=tokenizer, train_examples=encode_records(train, tokenizer, max_length).examples,
                  validation=validation, val_examples=encode_records(validation, tokenizer, max_length).examples,
                  note_examples=encode_records(note, tokenizer, max_length).examples,
                  general=general_validation_text())
    tolerance = 1 / len(note)  # one validation prompt
    untuned = load_pretrained(AutoModelForCausalLM, cfg.causal_lm).to(cfg.device)

    def key(row):
        return (row["learning_rate"], row["epochs"], row.get("strength", 0.0), row["seed"])

    done = {key(r): r for r in (resumed or [])}

    def runs(settings):
        out = []
        for setting in settings:
            for seed in seeds:
                row = done.get(key({"strength": 0.0, **setting, "seed": seed}))
                if row is None:
                    row = run_once(**common, **setting, seed=seed)
                print(json.dumps(row), flush=True)
                out.append(row)
        return out

    recipe_runs = runs([{"learning_rate": r, "epochs": e} for r in rates for e in epochs])
    recipes = average(recipe_runs, ("learning_rate", "epochs"))
    chosen = choose_recipe(recipes, tolerance)
    anchor_runs = runs([{"learning_rate": chosen["learning_rate"], "epochs": chosen["epochs"], "strength": s}
                        for s in anchors])
    anchored = average(anchor_runs, ("strength",))
    # no tolerance: a remedy may not cost validation exact match (see the module's docstring)
    anchor = choose_anchor(anchored, chosen["val_balanced_exact_match"], 0.0) if anchored else None
    return {
        "profile": profile, "causal_lm": Path(cfg.causal_lm).name, "seeds": list(seeds), "max_length": max_length,
        "train_records": len(train), "validation_records": len(validation),
        "validation_note_type": note["output"].value_counts().sort_index().to_dict(),
        "tolerance": round(tolerance, 4), "lesson_max_epochs": LESSON_MAX_EPOCHS,
        "general_validation_paragraphs": len(common["general"]),
        "untuned": {"val_general_ppl": round(perplexity(untuned, tokenizer, common["general"]), 2),
                    "val_note_loss": round(response_loss(untuned, tokenizer, common["note_examples"]), 4),
                    "val_loss": round(response_loss(untuned, tokenizer, common["val_examples"]), 4)},
        "recipes": recipes, "anchors": anchored,
        "chosen": {"learning_rate": chosen["learning_rate"], "epochs": chosen["epochs"],
                   "anchor_strength": anchor["strength"] if anchor else None},
        "recipe_runs": recipe_runs, "anchor_runs": anchor_runs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="smoke")
    parser.add_argument("--rates", nargs="+", type=float, default=list(DEFAULT_RATES))
    parser.add_argument("--epochs", nargs="+", type=int, default=list(DEFAULT_EPOCHS))
    parser.add_argument("--anchors", nargs="*", type=float, default=list(DEFAULT_ANCHORS))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(DEFAULT_SEEDS))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--resume", type=Path, default=None,
                        help="the printed output of an interrupted sweep: its runs (one JSON line each) are reused")
    args = parser.parse_args(argv)
    resumed = None
    if args.resume:
        lines = args.resume.read_text().splitlines()
        resumed = [json.loads(line) for line in lines if line.startswith("{")]
    log = sweep(args.profile, args.rates, args.epochs, args.anchors, args.seeds, resumed=resumed)
    out = args.out or ROOT / "tools" / "logs" / f"sweep_instruct_{args.profile}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(log, indent=2) + "\n")
    print("chosen on validation:", log["chosen"], "->", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
