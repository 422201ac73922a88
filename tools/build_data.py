"""Assemble the bundled data from the hand-written sources in data_src/ (deterministic).

    python tools/build_data.py

writes course_utils/data/domain_raw.jsonl (the data as "delivered", with planted faults),
domain_clean.jsonl (what lesson 01's cleaning makes of it), instructions.jsonl, and
DATA_CARD.md with every count and quality number measured here.
"""

from __future__ import annotations

import json
import random
import re
import sys
from collections import Counter
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from course_utils import data  # noqa: E402
from course_utils.audit import audit_dataset, normalize_text  # noqa: E402
from course_utils.cleaning import MAX_LENGTH, clean_domain_data  # noqa: E402
from data_quality import measure_quality  # noqa: E402

SRC = ROOT / "data_src"
OUT = ROOT / "course_utils" / "data"
SEED = 7

# What is planted into the raw data, per label: (medical, finance, legal).
PLANT = {
    "exact_same_split": (18, 4, 2),
    "exact_cross_split": (12, 2, 2),
    "near_same_split": (9, 2, 1),
    "near_cross_split": (8, 3, 1),
}
N_MISSING_TEXT, N_EMPTY_TEXT, N_MISSING_LABEL, N_OVER_LONG = 5, 4, 8, 5
VENDOR_SPLIT = (("train", 0.7), ("validation", 0.15), ("test", 0.15))
# The instruction records' validation split: this share of each task's training records, drawn
# with its own seed (tools/sweep_instruct.py chooses lesson 05's recipe on it).
VALIDATION_SHARE, VALIDATION_SEED = 0.15, 505
LABEL_TASKS = ("note_type",)  # tasks whose output is one of a few labels: their validation is stratified


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def near_variant(text: str, kind: int) -> str:
    """A copy that differs in case, spacing or punctuation only (same normalised text)."""
    if kind == 0:
        out = text.lower()
    elif kind == 1:
        out = re.sub(r" ", "  ", text, count=3) + " "
    elif kind == 2:
        out = re.sub(r"[.,;:]", "", text)
    else:
        out = text.upper()
    assert out != text and normalize_text(out) == normalize_text(text), text
    return out


def build_domain(rng: random.Random) -> tuple[pd.DataFrame, dict]:
    originals = []
    for label in data.LABELS:
        for row in read_jsonl(SRC / "classification" / f"{label}.jsonl"):
            originals.append({"text": row["text"], "label": label, "hard": bool(row["hard"]),
                              "confuser": row["confuser"]})
    rng.shuffle(originals)
    for i, row in enumerate(originals, start=1):
        row["id"] = f"doc-{i:04d}"
        row["split"] = rng.choices([s for s, _ in VENDOR_SPLIT], [w for _, w in VENDOR_SPLIT])[0]
    next_id = len(originals) + 1

    def new_id() -> str:
        nonlocal next_id
        next_id += 1
        return f"doc-{next_id - 1:04d}"

    # Rows that lose their label: taken from ordinary (not hard) examples of every class.
    pool = [r for r in originals if not r["hard"]]
    rng.shuffle(pool)
    unlabelled = pool[:N_MISSING_LABEL]
    for row in unlabelled:
        row["label"] = None
        row["confuser"] = None
    copyable = {label: [r for r in pool[N_MISSING_LABEL:] if r["label"] == label] for label in data.LABELS}

    planted, log = [], Counter()
    for kind, per_label in PLANT.items():
        for label, n in zip(data.LABELS, per_label):
            for _ in range(n):
                source = copyable[label].pop()
                text = source["text"] if kind.startswith("exact") else near_variant(source["text"], rng.randrange(4))
                split = source["split"]
                if kind.endswith("cross_split"):
                    split = "test" if source["split"] == "train" else "train"
                planted.append({**source, "id": new_id(), "text": text, "split": split})
                log[kind] += 1
    for i in range(N_MISSING_TEXT + N_EMPTY_TEXT):
        label = data.LABELS[i % 3]
        text = None if i < N_MISSING_TEXT else ["", "   ", " \n", ""][i - N_MISSING_TEXT]
        planted.append({"id": new_id(), "text": text, "label": label, "hard": False, "confuser": None,
                        "split": rng.choice(["train", "validation", "test"])})
    for i in range(N_OVER_LONG):
        label = data.LABELS[i % 3]
        same = [r["text"] for r in originals if r["label"] == label]
        glued = " ".join(rng.sample(same, 40))  # a scraper that glued records together
        planted.append({"id": new_id(), "text": glued, "label": label, "hard": False, "confuser": None,
                        "split": rng.choice(["train", "validation", "test"])})
    raw = originals + planted
    rng.shuffle(raw)  # delivered in no particular order
    columns = ["id", "text", "label", "hard", "confuser", "split"]
    plant_log = {**log, "missing_text": N_MISSING_TEXT, "empty_text": N_EMPTY_TEXT,
                 "missing_label": N_MISSING_LABEL, "over_long": N_OVER_LONG}
    return pd.DataFrame(raw)[columns], plant_log


def build_instructions(rng: random.Random) -> pd.DataFrame:
    """The instruction records with their split: ``heldout`` (the reported scores), ``validation``
    (carved from the training records, to choose the recipe) and ``train``.

    A task with a few labels (``LABEL_TASKS``) draws its held-out records per label, the same
    number of each: an unstratified draw of 70 note-type records once took 31 of the 60 treatment
    notes, which left training short of treatment notes and made the held-out prompts' most common
    label one the model had seen least. Other tasks draw from the whole task. The shuffle consumes
    the shared generator as before; the validation draw has its own generator.
    """
    heldout_share = {"note_type": 69, "summary": 25, "extraction": 25, "definition": 20}
    validation_rng = random.Random(VALIDATION_SEED)
    rows = []
    for task in data.INSTRUCTION_TASKS:
        records = read_jsonl(SRC / "instructions" / f"{task}.jsonl")
        order = list(range(len(records)))
        rng.shuffle(order)
        if task in LABEL_TASKS:
            labels = sorted({rec["output"] for rec in records})
            per_label = heldout_share[task] // len(labels)
            heldout = {i for label in labels for i in [j for j in order if records[j]["output"] == label][:per_label]}
        else:
            heldout = set(order[: heldout_share[task]])
        trainable = [i for i in range(len(records)) if i not in heldout]
        # A task with a few labels gets the share of each label, so that no label is left with a
        # handful of validation prompts by chance; other tasks, the share of the task.
        groups = ([[i for i in trainable if records[i]["output"] == label]
                   for label in sorted({records[i]["output"] for i in trainable})]
                  if task in LABEL_TASKS else [trainable])
        validation = {i for group in groups for i in validation_rng.sample(group, round(VALIDATION_SHARE * len(group)))}
        for i, rec in enumerate(records):
            split = "heldout" if i in heldout else "validation" if i in validation else "train"
            rows.append({"id": f"{task}-{i + 1:03d}", "task": task, "instruction": rec["instruction"],
                         "input": rec["input"], "output": rec["output"], "split": split})
    return pd.DataFrame(rows)


def card(raw: pd.DataFrame, clean: pd.DataFrame, plant: dict, instructions: pd.DataFrame,
         quality: dict) -> str:
    audit = audit_dataset(raw, splits="split", max_length=MAX_LENGTH)
    by_split = clean.groupby("split")
    counts = clean.pivot_table(index="split", columns="label", values="id", aggfunc="count").reindex(
        list(data.SPLITS))[list(data.LABELS)]
    hard = by_split["hard"].sum().reindex(list(data.SPLITS))
    split_rows = "\n".join(
        f"| {s} | {int(counts.loc[s].sum())} | " + " | ".join(str(int(counts.loc[s, lab])) for lab in data.LABELS)
        + f" | {int(hard[s])} |" for s in data.SPLITS)
    total = clean["label"].value_counts()
    tasks = instructions.pivot_table(index="task", columns="split", values="id", aggfunc="count")
    splits = list(data.INSTRUCTION_SPLITS)

    def table_rows(counts: pd.DataFrame) -> str:
        return "\n".join("| " + " | ".join([str(name)] + [str(int(counts.loc[name, s])) for s in splits]) + " |"
                         for name in counts.index)

    task_rows = table_rows(tasks.reindex(index=list(data.INSTRUCTION_TASKS), columns=splits))
    note_labels = instructions[instructions["task"] == "note_type"].pivot_table(
        index="output", columns="split", values="id", aggfunc="count").reindex(columns=splits)
    label_rows = table_rows(note_labels.sort_index())
    relabel = quality["relabel"]
    relabel_text = (f"{relabel['agree']} of {relabel['n']} ({relabel['agreement']:.1%})"
                    if relabel else "not measured yet")
    return f"""# Data card: the course's bundled data

Everything here was written for this course (no third-party text, no template generators),
assembled by `python tools/build_data.py` from the hand-written sources in `data_src/`, and is
licensed CC BY 4.0 with the rest of the course content. Every number below was measured by
that script.

## Files

| file | purpose |
|---|---|
| `domain_clean.jsonl` | the clean classification data with its fixed splits (`id, text, label, hard, confuser, split`) |
| `domain_raw.jsonl` | the same data before cleaning, with planted faults, for lesson 01's audit |
| `instructions.jsonl` | instruction records (`id, task, instruction, input, output, split`) |
| `pretrain_prose/*.txt` | unlabeled domain paragraphs for the tiny models' pretraining |

## Domain classification (clean)

{len(clean)} texts: one sentence or a short passage each, in the registers of their domain
(clinical notes, reports, filings, market news, rulings, contract clauses, guidance). Labels:
{", ".join(f"{lab} {int(total[lab])}" for lab in data.LABELS)} (largest / smallest =
{total.max() / total.min():.2f}). {int(clean["hard"].sum())} are **hard cross-domain cases**
(`hard`), whose true domain borrows another's vocabulary (`confuser`): a malpractice verdict is
legal, a hospital group's quarterly revenue is finance, a forensic examination is medical.

| split | texts | {" | ".join(data.LABELS)} | hard |
|---|---|---|---|---|---|
{split_rows}

Splits are stratified on label and hard flag (`course_utils.cleaning.stratified_resplit`,
seed {__import__("course_utils.cleaning", fromlist=["RESPLIT_SEED"]).RESPLIT_SEED}); ids are stable.

**How it was written.** Three writers (one per domain) wrote the ordinary and hard examples
to a brief asking for distinct, natural texts in many registers, with no shared phrasing.

**Quality, measured:**

- exact duplicates: {quality["clean_exact"]}; near duplicates (case, spacing, punctuation): {quality["clean_near"]};
- highest TF-IDF cosine similarity between two texts: {quality["max_cosine"]:.3f} (the bar is 0.8);
- TF-IDF + logistic regression macro-F1 on the test split: **{quality["tfidf_f1"]:.3f}**
  (accuracy {quality["tfidf_acc"]:.3f}; on the hard cases {quality["tfidf_hard_acc"]:.3f}):
  keyword matching does well but does not solve the data;
- blind relabelling: a reader who never saw the labels labelled a random sample;
  agreement {relabel_text}. {quality["relabel_note"]}
- no labelled text (classification or instruction) appears in the pretraining prose; the
  closest pair has TF-IDF cosine {quality["max_prose_cosine"]:.3f}.

## Raw version and its planted faults

`domain_raw.jsonl` has {len(raw)} rows with a `split` column as a vendor delivered it. Planted:

| fault | planted | the audit finds |
|---|---|---|
| exact duplicates, same split | {plant["exact_same_split"]} | |
| exact duplicates, across splits | {plant["exact_cross_split"]} | |
| all exact duplicates | {plant["exact_same_split"] + plant["exact_cross_split"]} | `n_exact_duplicates` = {audit.n_exact_duplicates} |
| near duplicates (case, spacing, punctuation), same split | {plant["near_same_split"]} | |
| near duplicates, across splits | {plant["near_cross_split"]} | |
| all near duplicates | {plant["near_same_split"] + plant["near_cross_split"]} | `n_near_duplicates` = {audit.n_near_duplicates} |
| texts shared across splits (leaks) | {plant["exact_cross_split"] + plant["near_cross_split"]} | `n_leaked` = {audit.n_leaked} |
| missing texts | {plant["missing_text"]} | `n_missing_text` = {audit.n_missing_text} |
| empty texts | {plant["empty_text"]} | `n_empty` = {audit.n_empty} |
| missing labels | {plant["missing_label"]} | `n_missing_label` = {audit.n_missing_label} |
| over-long texts (records glued together) | {plant["over_long"]} | `n_over_max_length` (> {MAX_LENGTH} words) = {audit.n_over_max_length} |
| worse imbalance (duplicates mostly medical) | raw ratio {audit.imbalance_ratio:.2f} | clean ratio {total.max() / total.min():.2f} |

Lesson 01's cleaning (`course_utils.cleaning.clean_domain_data`: drop unusable rows, drop
over-long texts, deduplicate on normalised text keeping the earliest id, re-split stratified)
turns the raw rows into `domain_clean.jsonl` exactly, id for id.

## Instruction records

{len(instructions)} records in Alpaca style (`instruction`, `input`, `output`) over four task
types, in three splits:

- `heldout`: drawn at random per task (seed {SEED}; for `note_type`, the same number of each
  label, so that training keeps a balanced share of each); never trained on, never used to choose
  anything: lesson 05 scores on it once, for the results it reports. No held-out input appears
  in the other splits.
- `validation`: {VALIDATION_SHARE:.0%} of each task's remaining records, drawn at random (seed
  {VALIDATION_SEED}; for `note_type`, {VALIDATION_SHARE:.0%} of each label's); not trained on.
  `tools/sweep_instruct.py` chooses lesson 05's learning rate, epochs and forgetting remedy on it.
- `train`: the rest.

| task | {" | ".join(data.INSTRUCTION_SPLITS)} |
|---|---|---|---|
{task_rows}

The note-type labels per split (lesson 05's baseline always answers the most common label):

| label | {" | ".join(data.INSTRUCTION_SPLITS)} |
|---|---|---|---|
{label_rows}

- `note_type`: classify a short clinical note as diagnosis, treatment or symptom (one word);
- `summary`: one-sentence summary of a medical, financial or legal passage;
- `extraction`: one fact copied verbatim from a short text (a dose, an amount, a party, a date);
- `definition`: define a term in one sentence, with no `input` (the "without input" format).
"""


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT, help="folder to write to (default: the package)")
    out = parser.parse_args(argv).out
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(SEED)
    raw, plant = build_domain(rng)
    clean = clean_domain_data(raw)
    instructions = build_instructions(rng)
    write_jsonl(out / "domain_raw.jsonl", [
        {k: (None if isinstance(v, float) else v) for k, v in r.items()} for r in raw.to_dict("records")])
    write_jsonl(out / "domain_clean.jsonl", clean.to_dict("records"))
    write_jsonl(out / "instructions.jsonl", instructions.to_dict("records"))
    quality = measure_quality(clean, instructions)
    (out / "DATA_CARD.md").write_text(card(raw, clean, plant, instructions, quality), encoding="utf-8")
    print(json.dumps({"raw": len(raw), "clean": len(clean), "plant": plant,
                      "quality": {k: v for k, v in quality.items() if k != "relabel_note"}}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
