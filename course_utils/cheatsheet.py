"""The cheat sheet: common rules of thumb about fine-tuning, each checked against the course's own runs.

Every verdict is computed from recorded numbers, never typed: lessons 02-06's results (the
committed snapshot that ships with the package, or a learner's own ``build/results``) and the
measurements lesson 07 makes itself (gradient accumulation, the stopping signal, a learning rate
that is too low). A verdict is one of :data:`VERDICTS`; anything but "not testable" rests on an
interval or paired seeds.

>>> [rule.number for rule in RULES][:4]
['1', '2', '3', '4']
>>> check_rule("8", {"05_instruction_finetuning": {"n_encoded": 255, "em_after_low": 0.42, "em_after": 0.54,
...                                                 "em_after_high": 0.65, "majority_rate": 0.33}}, {}).verdict
'contradicted here'
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

HOLDS, CONTRADICTED, INCONCLUSIVE, NOT_TESTABLE = (
    "holds here", "contradicted here", "inconclusive", "not testable at this scale")
VERDICTS = (HOLDS, CONTRADICTED, INCONCLUSIVE, NOT_TESTABLE)
LESSONS = ("02_classification_finetuning", "04_catastrophic_forgetting", "05_instruction_finetuning", "06_lora")


@dataclass(frozen=True)
class Rule:
    """A rule of thumb as tutorials state it, and where it comes from."""

    number: str
    text: str
    sources: str


RULES = (
    Rule("1", "Learning rate 2e-5 to 5e-5 for BERT-style classification",
         "Devlin et al. 2019 (BERT), appendix A.3; the transformers text-classification examples"),
    Rule("2", "Learning rate 1e-5 to 3e-5 for GPT-style generation; never above 5e-5",
         "common instruction-tuning recipes (e.g. Taori et al. 2023, Alpaca: 2e-5)"),
    Rule("3", "Learning rate 1e-4 to 1e-3 for a head trained on a frozen backbone",
         "common linear-probe practice"),
    Rule("4", "Batch 16 or 32 if memory allows; on a small GPU, batch 4 with gradient accumulation 4 "
              "is the same update", "transformers Trainer docs: gradient_accumulation_steps"),
    Rule("5", "2 to 4 epochs for BERT classification, 1 to 3 for GPT generation; more epochs, more "
              "overfitting", "Devlin et al. 2019 (2 to 4 epochs); Alpaca (3 epochs)"),
    Rule("6", "A frozen backbone works with 100+ examples; full fine-tuning needs 1000+ for reliable results",
         "common tutorial advice"),
    Rule("7", "Under 500 examples freeze the backbone; 500 to 5k fine-tune fully", "common tutorial advice"),
    Rule("8", "1,000 to 10,000 good examples for instruction fine-tuning",
         "Zhou et al. 2023 (LIMA, 1,000 examples); Alpaca (52k)"),
    Rule("9", "Always use early stopping; monitor validation loss, not training loss",
         "Prechelt 1998, Early stopping - but when?; transformers EarlyStoppingCallback docs"),
    Rule("10", "DistilBERT for speed, RoBERTa for accuracy", "Sanh et al. 2019 (DistilBERT); Liu et al. 2019 (RoBERTa)"),
    Rule("11a", "Against catastrophic forgetting: a lower learning rate",
         "Howard and Ruder 2018 (ULMFiT: lower rates for lower layers); lesson 04"),
    Rule("11b", "Against catastrophic forgetting: freeze the early layers",
         "Howard and Ruder 2018 (ULMFiT: gradual unfreezing); lesson 04"),
    Rule("11c", "Against catastrophic forgetting: fewer epochs", "common advice; lesson 04"),
    Rule("12", "Model not learning: raise the learning rate, check data quality and label correctness",
         "common debugging advice; lesson 01's audit"),
    Rule("13a", "Overfitting: more data", "common advice"),
    Rule("13b", "Overfitting: a lower learning rate, more dropout, or LoRA", "common advice; Hu et al. 2021 (LoRA)"),
)


@dataclass
class Check:
    """What the course measured on one rule, and the verdict the numbers give."""

    number: str
    rule: str
    verdict: str
    measured: str
    why: str

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"Unknown verdict {self.verdict!r}; use one of {VERDICTS}.")


# ------------------------------------------------------------------------------ where the numbers are


def snapshot_folder() -> Path:
    """The committed results that ship with the package (``make results`` writes them)."""
    from importlib import resources

    return Path(str(resources.files("course_utils") / "snapshot"))


def load_results(folder: str | Path | None = None, *, profile: str = "smoke",
                 config=None) -> tuple[dict, str, Path]:
    """``({lesson: {name: value}}, where, folder)`` for lessons 02-06.

    ``folder`` given: that folder, in ``profile``. ``folder`` None: the first that holds every lesson
    in ``profile`` of: the runs with the learner's own models (when ``config``, what
    :func:`course_utils.setup` returned, names any), the learner's ``build/results`` (the default
    results folder), the committed snapshot of ``profile`` (``snapshot/gpu/`` for the gpu profile), the
    snapshot; else the snapshot's smoke profile. ``where`` says which was used.
    """
    from course_utils.results import default_folder, lessons_folder

    if folder is not None:
        candidates = [(snapshot_folder() if str(folder) == "snapshot" else Path(folder), profile)]
    else:
        own = [(lessons_folder(None, config.models, config.own_models), profile)] if getattr(
            config, "own_models", ()) else []
        candidates = own + [(default_folder(), profile), (snapshot_folder() / profile, profile),
                            (snapshot_folder(), profile), (snapshot_folder(), "smoke")]
    for candidate, wanted in candidates:
        values = _read(candidate, wanted)
        if values is not None:
            committed = snapshot_folder().resolve() in (candidate.resolve(), candidate.resolve().parent)
            label = "the course's committed snapshot" if committed else f"your own runs in {candidate}"
            return values, f"{label}, {wanted} profile", candidate
    raise FileNotFoundError(f"No results of lessons {', '.join(LESSONS)} in the {profile} profile in "
                            f"{', '.join(str(c) for c, _ in candidates)}: run them (make run), or read the "
                            "snapshot with load_results(snapshot_folder()).")


def folder_name(folder: str | Path) -> str:
    """How to record where results were read: ``"snapshot"`` for the committed snapshot (wherever
    the package is installed), else the folder's path. :func:`load_results` takes either back."""
    return "snapshot" if Path(folder).resolve() == snapshot_folder().resolve() else str(folder)


# What the checks read from each lesson: a results file without all of it (a lesson still running,
# or stopped half-way) is not used.
REQUIRED = {
    "02_classification_finetuning": ("full_recipe", "head_recipe", "size_curve", "full_vs_tfidf_high",
                                     "features_macro_f1", "majority_macro_f1"),
    "04_catastrophic_forgetting": ("lm_table", "lm_curves", "lm_primary_high", "learning_floor"),
    "05_instruction_finetuning": ("learning_rate", "n_encoded", "em_after_high", "majority_rate"),
    "06_lora": ("full_ppl_rise", "remedy_ppl_rise", "lora_em", "second_rank_em", "second_rank", "lora_classifier_rank"),
}


def _read(folder: Path, profile: str) -> dict | None:
    values = {}
    for lesson in LESSONS:
        path = folder / f"{lesson}.json"
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError:
            return None
        if data.get("profile") != profile:
            return None
        values[lesson] = {name: entry["value"] for name, entry in data["values"].items()}
        if not set(REQUIRED[lesson]) <= set(values[lesson]):
            return None
    return values


# ------------------------------------------------------------------------------ the checks


def _ci(estimate: float, low: float, high: float, fmt: str = "+.3f") -> str:
    return f"{estimate:{fmt}} ({low:{fmt}} to {high:{fmt}})"


def _side(low: float, high: float, line: float = 0.0) -> str:
    """Where an interval lies against ``line``: "above", "below" or "straddles"."""
    return "above" if low > line else "below" if high < line else "straddles"


def _not_testable(number: str, measured: str, why: str) -> Check:
    return Check(number, _text(number), NOT_TESTABLE, measured, why)


def _text(number: str) -> str:
    return next(rule.text for rule in RULES if rule.number == number)


def check_rule(number: str, values: dict, own: dict) -> Check:
    """The :class:`Check` of rule ``number`` from lessons' ``values`` and lesson 07's ``own`` measurements."""
    if number not in CHECKS:
        raise ValueError(f"No rule {number!r}; the rules are {[rule.number for rule in RULES]}.")
    return CHECKS[number](values, own)


def check_rules(values: dict, own: dict) -> list[Check]:
    """Every rule's :class:`Check`, in the order of :data:`RULES`."""
    return [check_rule(rule.number, values, own) for rule in RULES]


def _rule1(v, own):
    lr = v["02_classification_finetuning"]["full_recipe"]["learning_rate"]
    return _not_testable("1", f"the tiny encoder's full fine-tuning rate, chosen on validation: {lr:g}",
                         "a 1.8 M-parameter encoder pretrained for under an hour needs larger steps than BERT; "
                         "the real-model rate (5e-5) is what the cpu and gpu profiles use, not swept here")


def _rule2(v, own):
    lr = v["05_instruction_finetuning"]["learning_rate"]
    return _not_testable("2", f"the tiny GPT-2's instruction-tuning rate, chosen on validation: {lr:g}",
                         "the tiny GPT-2 (1.4 M parameters) answered no validation prompt right at 3e-5; GPT-2's "
                         "own rate is what the cpu and gpu profiles use, not swept here")


def _rule3(v, own):
    lr = v["02_classification_finetuning"]["head_recipe"]["learning_rate"]
    return _not_testable("3", f"the tiny encoder's head rate, chosen on validation: {lr:g}",
                         "rates for a tiny model say little about a real one's")


def _rule4(v, own):
    diff = own["accumulation_max_abs_diff"]
    naive = own.get("accumulation_naive_max_abs_diff")
    verdict = HOLDS if diff < 1e-5 else CONTRADICTED
    measured = (f"one step of batch 16 against batch 4 x 4 accumulation steps, with model.accepts_loss_kwargs = "
                f"False: largest weight difference {diff:.1e}")
    if naive is not None:
        measured += f"; with Trainer as transformers 5.24 leaves it: {naive:.1e}"
    return Check("4", _text("4"), verdict, measured,
                 "a deterministic check (dropout off, same examples); it holds only once Trainer divides a "
                 "classifier's loss (the setup snippet's line); which batch size suits a model was not compared")


def _rule5(v, own):
    best = v["02_classification_finetuning"]["full_recipe"]["best_epoch"]
    return _not_testable("5", f"the tiny encoder's best epoch under early stopping: {best}",
                         "small, briefly pretrained models need more epochs than real ones; early stopping, not "
                         "an epoch count, decides here (rule 9)")


def _size_curve(v):
    rows = v["02_classification_finetuning"]["size_curve"]
    return {(r["examples"], r["method"]): r for r in rows}


def _rule6(v, own):
    d = v["02_classification_finetuning"]
    n = max(r["examples"] for r in d["size_curve"])
    side = _side(d["full_vs_tfidf_low"], d["full_vs_tfidf_high"])
    verdict = CONTRADICTED if side == "above" and n < 1000 else INCONCLUSIVE if side == "straddles" else HOLDS
    return Check("6", _text("6"), verdict,
                 f"with {n} training examples, full fine-tuning minus lesson 02's TF-IDF + logistic regression "
                 "baseline, macro-F1: "
                 f"{_ci(d['full_vs_tfidf'], d['full_vs_tfidf_low'], d['full_vs_tfidf_high'])}; the frozen "
                 f"backbone's features {d['features_macro_f1']:.3f}",
                 "full fine-tuning beat the baseline reliably with far fewer than 1,000 examples" if verdict == CONTRADICTED
                 else "the interval does not separate full fine-tuning from the baseline" if verdict == INCONCLUSIVE
                 else "full fine-tuning did worse than the baseline with this few examples")


def _rule7(v, own):
    curve = _size_curve(v)
    sizes = sorted({n for n, m in curve if m == "difference" and n < 500})
    diffs = [curve[(n, "difference")] for n in sizes]  # full fine-tuning minus feature extraction
    full_better = [n for n, d in zip(sizes, diffs) if d["low"] > 0]
    frozen_better = [n for n, d in zip(sizes, diffs) if d["high"] < 0]
    verdict = HOLDS if frozen_better and not full_better else CONTRADICTED if full_better and not frozen_better \
        else INCONCLUSIVE
    measured = "; ".join(f"{n} examples: full minus frozen {_ci(d['macro_f1'], d['low'], d['high'])}"
                         for n, d in zip(sizes, diffs))
    return Check("7", _text("7"), verdict, measured + " (macro-F1, equal optimizer steps)",
                 "below 500 examples, full fine-tuning was clearly better at " + _sizes(full_better)
                 + "; the frozen backbone was better at " + _sizes(frozen_better) + "; at the other sizes the two "
                 f"could not be told apart; the 500 to 5k half is untested (at most {max(sizes)} examples here)")


def _sizes(sizes) -> str:
    return ", ".join(f"{n} examples" for n in sizes) or "no size"


def _rule8(v, own):
    d = v["05_instruction_finetuning"]
    side = _side(d["em_after_low"], d["em_after_high"], d["majority_rate"])
    n = d["n_encoded"]
    verdict = CONTRADICTED if side == "above" and n < 1000 else INCONCLUSIVE if side == "straddles" else HOLDS
    return Check("8", _text("8"), verdict,
                 f"{n} training records: held-out exact match {_ci(d['em_after'], d['em_after_low'], d['em_after_high'], '.3f')}"
                 f" against the majority baseline {d['majority_rate']:.3f}",
                 f"{n} records taught this narrow three-answer task well enough to beat the baseline; general "
                 "instruction following was not tested" if verdict == CONTRADICTED
                 else "the interval does not clear the baseline")


def _rule9(v, own):
    r = own["stopping"]
    side = _side(r["diff_low"], r["diff_high"])
    verdict = HOLDS if side == "above" else CONTRADICTED if side == "below" else INCONCLUSIVE
    return Check("9", _text("9"), verdict,
                 f"training loss was lowest at epoch {r['train_loss_epoch']} of {r['epochs']}, validation loss at "
                 f"epoch {r['val_loss_epoch']}, validation macro-F1 at epoch {r['val_f1_epoch']}; test macro-F1 at "
                 f"validation loss's epoch minus training loss's: {_ci(r['diff'], r['diff_low'], r['diff_high'])}",
                 "stopping on validation loss scored better on test than following training loss" if verdict == HOLDS
                 else "both losses were lowest at the same epoch: with the recipe's decaying rate nothing overfit "
                      "within the run, so the two signals cannot be told apart here"
                 if r["val_loss_epoch"] == r["train_loss_epoch"]
                 else "the interval includes zero: on this data both choices score alike" if verdict == INCONCLUSIVE
                 else "following training loss scored better on test")


def _rule10(v, own):
    return _not_testable("10", "one tiny encoder, offline", "the smoke profile has one bundled encoder; comparing "
                         "DistilBERT and RoBERTa needs the Hub and a GPU")


def _lm_row(v, prefix):
    return next(r for r in v["04_catastrophic_forgetting"]["lm_table"] if r["setting"].startswith(prefix))


def _rule11a(v, own):
    d = v["04_catastrophic_forgetting"]
    low = _lm_row(v, "low learning rate")
    return Check("11a", _text("11a"), INCONCLUSIVE if low["learning_kept"] < d["learning_floor"] else
                 HOLDS if low["matched_high"] < 0 else INCONCLUSIVE,
                 f"lesson 04: general perplexity rise, high minus low rate {_ci(d['lm_primary'], d['lm_primary_low'], d['lm_primary_high'], '+.1f')}; "
                 f"the low rate kept {low['learning_kept']:.0%} of the learning",
                 "it forgets less, but learns too little to count as a remedy at the same steps"
                 if low["learning_kept"] < d["learning_floor"] else "compared at matched learning")


def _rule11b(v, own):
    row = _lm_row(v, "freeze first")
    side = _side(row["matched_low"], row["matched_high"])
    verdict = HOLDS if side == "below" else CONTRADICTED if side == "above" else INCONCLUSIVE
    lora = v["06_lora"]
    return Check("11b", _text("11b"), verdict,
                 f"lesson 04: perplexity rise minus the reference run's at matched learning "
                 f"{_ci(row['matched'], row['matched_low'], row['matched_high'], '+.1f')}; lesson 06: rise "
                 f"{lora['remedy_ppl_rise']:.0f} against {lora['full_ppl_rise']:.0f} for full fine-tuning",
                 f"{row['setting']}: {row['verdict']}")


def _rule11c(v, own):
    from course_utils.comparisons import t_interval

    d = v["04_catastrophic_forgetting"]
    curves = d["lm_curves"]
    seeds = sorted({c["seed"] for c in curves})
    rises, kept = [], []
    for seed in seeds:
        points = sorted((c for c in curves if c["seed"] == seed), key=lambda c: c["step"])
        last = points[-1]
        half = min(points, key=lambda c: abs(c["step"] - last["step"] / 2))
        rises.append(last["forgotten"] - half["forgotten"])
        kept.append(half["learned"] / last["learned"])
    ci = t_interval(rises)
    kept_mean = sum(kept) / len(kept)
    side = _side(ci.low, ci.high)
    too_little = kept_mean < d["learning_floor"]
    verdict = INCONCLUSIVE if too_little or side == "straddles" else HOLDS if side == "above" else CONTRADICTED
    return Check("11c", _text("11c"), verdict,
                 f"lesson 04: perplexity rise at the end minus at half the steps, paired by seed "
                 f"{_ci(ci.estimate, ci.low, ci.high, '+.1f')} ({len(seeds)} seeds); half the steps had learned "
                 f"{kept_mean:.0%} of what the whole run learned",
                 f"half the training forgot less, but learned less than the {d['learning_floor']:.0%} of the learning "
                 "lesson 04 asks of a remedy: fewer epochs here is mostly less training" if too_little
                 else "half the training forgot less and kept most of the learning" if verdict == HOLDS
                 else "the interval includes zero" if verdict == INCONCLUSIVE else "half the training forgot more")


def _rule12(v, own):
    r = own["too_low_rate"]
    side = _side(r["diff_low"], r["diff_high"])
    verdict = HOLDS if side == "above" else CONTRADICTED if side == "below" else INCONCLUSIVE
    stuck = r["low_f1"] <= r["majority_f1"] + 0.02  # the too-low rate left it at the majority class
    return Check("12", _text("12"), verdict,
                 f"{r['steps']} steps at {r['low_rate']:g}: macro-F1 {r['low_f1']:.3f} (majority {r['majority_f1']:.3f}); "
                 f"at {r['rate']:g}: {r['f1']:.3f}; difference {_ci(r['diff'], r['diff_low'], r['diff_high'])}",
                 ("a model stuck at the majority class" if stuck else "a model that learned little")
                 + " learned once the rate was raised" if verdict == HOLDS else "raising the rate did not clearly help")


def _rule13a(v, own):
    curve = _size_curve(v)
    sizes = sorted({n for n, m in curve if m == "full fine-tuning"})
    small, large = curve[(sizes[0], "full fine-tuning")], curve[(sizes[-1], "full fine-tuning")]
    verdict = HOLDS if large["low"] > small["high"] else CONTRADICTED if large["high"] < small["low"] else INCONCLUSIVE
    return Check("13a", _text("13a"), verdict,
                 f"full fine-tuning at equal steps: {sizes[0]} examples {small['macro_f1']:.3f} ({small['low']:.3f} to "
                 f"{small['high']:.3f}), {sizes[-1]} examples {large['macro_f1']:.3f} ({large['low']:.3f} to {large['high']:.3f})",
                 ("the intervals do not overlap" if verdict != INCONCLUSIVE else "the intervals overlap")
                 + "; more data scored higher on test, the gap between training and test was not measured")


def _rule13b(v, own):
    return _not_testable("13b", "not measured", "no run here overfits in a way these settings were tested against: "
                         "early stopping keeps the best epoch; LoRA was compared on learning and forgetting (lesson 06)")


CHECKS = {"1": _rule1, "2": _rule2, "3": _rule3, "4": _rule4, "5": _rule5, "6": _rule6, "7": _rule7, "8": _rule8,
          "9": _rule9, "10": _rule10, "11a": _rule11a, "11b": _rule11b, "11c": _rule11c, "12": _rule12,
          "13a": _rule13a, "13b": _rule13b}


# ------------------------------------------------------------------------------ the file people keep

HEADER = """# Fine-tuning cheat sheet, checked against this course's runs

Generated by `make results`; do not edit by hand. Source: {where}.
Each rule of thumb has the number the course measured and the verdict those numbers give: **holds
here**, **contradicted here**, **inconclusive** (the interval straddles the rule's line, or the
runs cannot separate what the rule compares) or **not testable at this scale**. The smoke profile
uses tiny models: a verdict is about them, a lead for real models, not a law.
"""


def render(checks: list[dict], where: str) -> str:
    """The cheat sheet as Markdown: the decision table, then the code table (:data:`SNIPPETS`)."""
    lines = [HEADER.format(where=where), "## Rules of thumb", "", "| # | rule | verdict | measured | why |",
             "|---|---|---|---|---|"]
    for c in checks:
        cells = [c["number"], c["rule"], f"**{c['verdict']}**", c["measured"], c["why"]]
        lines.append("| " + " | ".join(str(x).replace("|", "\\|") for x in cells) + " |")
    lines += ["", "## Code, on the current API", "",
              "Each snippet is executed by the course's tests (`tests/test_cheatsheet.py`), so a transformers or "
              "peft release that breaks one fails the tests. `MODEL`, `OUTPUT_DIR`, `train_set`, `validation_set` "
              "and `test_set` are yours to define.", ""]
    for title, code in SNIPPETS:
        lines += [f"**{title}**", "", "```python", code.strip("\n"), "```", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


# Run in order in one namespace by the tests; the first defines what the others use.
SNIPPETS = (
    ("Setup (the course's tiny models; use any Hub id)", """
from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding,
                          EarlyStoppingCallback, Trainer, TrainingArguments)
tokenizer = AutoTokenizer.from_pretrained(MODEL)
model = AutoModelForSequenceClassification.from_pretrained(MODEL, num_labels=3)
# transformers 5.24: without this, gradient accumulation takes too large a step with a classifier
# (Trainer leaves the loss undivided: huggingface/transformers#47688; lesson 07 measures it)
model.accepts_loss_kwargs = False
"""),
    ("Arguments: evaluate and save every epoch, keep the best, warm up, cosine", """
args = TrainingArguments(
    output_dir=OUTPUT_DIR, eval_strategy="epoch", save_strategy="epoch", load_best_model_at_end=True,
    metric_for_best_model="eval_loss", greater_is_better=False,  # or "macro_f1" and True, with compute_metrics
    save_total_limit=2,  # the best checkpoint and the latest: a Colab disk fills up otherwise
    learning_rate=5e-5, num_train_epochs=10, per_device_train_batch_size=4, gradient_accumulation_steps=4,
    warmup_steps=10, lr_scheduler_type="cosine", report_to="none")
"""),
    ("Trainer with per-batch padding and early stopping", """
trainer = Trainer(model=model, args=args, train_dataset=train_set, eval_dataset=validation_set,
                  processing_class=tokenizer, data_collator=DataCollatorWithPadding(tokenizer),
                  callbacks=[EarlyStoppingCallback(early_stopping_patience=3)])
trainer.train()
"""),
    ("Save the best model, predict", """
trainer.save_model(OUTPUT_DIR + "/best")
predictions = trainer.predict(test_set).predictions.argmax(-1)
"""),
    ("LoRA (lesson 06): adapters, the new head trained and saved, merge", """
from peft import LoraConfig, PeftModel, TaskType, get_peft_model
config = LoraConfig(r=8, lora_alpha=16, target_modules=["q_lin", "v_lin"], task_type=TaskType.SEQ_CLS,
                    modules_to_save=["pre_classifier", "classifier"])
base = AutoModelForSequenceClassification.from_pretrained(MODEL, num_labels=3)
base.accepts_loss_kwargs = False  # the same accumulation fix, before wrapping
lora_model = get_peft_model(base, config)
# ... train it with Trainer as above ...
lora_model.save_pretrained(OUTPUT_DIR + "/adapter")
fresh = AutoModelForSequenceClassification.from_pretrained(MODEL, num_labels=3)
merged = PeftModel.from_pretrained(fresh, OUTPUT_DIR + "/adapter").merge_and_unload()
"""),
)


def checks_as_records(checks: list[Check]) -> list[dict]:
    return [asdict(c) for c in checks]


def main(argv: list[str] | None = None) -> int:
    """``python -m course_utils.cheatsheet --results FOLDER --out docs/cheatsheet.md [--check]``."""
    import argparse

    parser = argparse.ArgumentParser(description="Write the cheat sheet from lesson 07's results.")
    parser.add_argument("--results", default=str(snapshot_folder()))
    parser.add_argument("--out", default="docs/cheatsheet.md")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file differs from what it would be")
    args = parser.parse_args(argv)
    path = Path(args.results) / "07_best_practices.json"
    if not path.is_file():
        raise SystemExit(f"{path} is missing: run lesson 07 first (make run), then make results.")
    data = json.loads(path.read_text())
    values = {name: entry["value"] for name, entry in data["values"].items()}
    text = render(values["checks"], f"lesson 07 ({data['profile']} profile), reading lessons 02-06 from "
                                    f"{values['source']}")
    out = Path(args.out)
    if args.check:
        if not out.is_file() or out.read_text() != text:
            print(f"{out} differs from lesson 07's results: run make results.")
            return 1
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
