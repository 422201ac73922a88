"""The course's bundled data, written for the course: load it as pandas or as ``datasets``.

- the domain classification data (medical / finance / legal), clean with fixed splits,
- the same data raw, before cleaning, with the faults lesson 01 finds (see DATA_CARD.md),
- instruction records (``instruction``, ``input``, ``output``) with validation and held-out prompts.

>>> splits = load_domain_splits()
>>> sorted(splits), splits["train"].features["label"].names
(['test', 'train', 'validation'], ['medical', 'finance', 'legal'])
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

LABELS: tuple[str, ...] = ("medical", "finance", "legal")
SPLITS: tuple[str, ...] = ("train", "validation", "test")
INSTRUCTION_TASKS: tuple[str, ...] = ("note_type", "summary", "extraction", "definition")
# train: what lesson 05 trains on; validation: what its recipe is chosen on (tools/sweep_instruct.py);
# heldout: what it reports, scored once.
INSTRUCTION_SPLITS: tuple[str, ...] = ("train", "validation", "heldout")


def _path(name: str):
    return resources.files("course_utils") / "data" / name


def label2id() -> dict[str, int]:
    """``{"medical": 0, "finance": 1, "legal": 2}``: the ids the models are trained on."""
    return {name: i for i, name in enumerate(LABELS)}


def id2label() -> dict[int, str]:
    return dict(enumerate(LABELS))


def _read_jsonl(name: str) -> pd.DataFrame:
    with _path(name).open("r", encoding="utf-8") as handle:
        # dtype=False: keep strings as strings (no dates or numbers guessed from ids)
        return pd.read_json(handle, lines=True, dtype=False)


def load_domain_frame() -> pd.DataFrame:
    """The clean classification data: ``id, text, label, hard, confuser, split``, one row each.

    ``hard`` marks cross-domain cases (a malpractice verdict is legal, a hospital's quarterly
    revenue is finance); ``confuser`` names the domain whose vocabulary they borrow.
    """
    return _read_jsonl("domain_clean.jsonl")


def load_raw_domain_frame() -> pd.DataFrame:
    """The same data as delivered, before cleaning: duplicates, leaks across its ``split``
    column, missing (``None``) and empty texts, missing labels, over-long texts. Lesson 01
    cleans it."""
    return _read_jsonl("domain_raw.jsonl")


def load_domain_splits(max_train: int | None = None, max_eval: int | None = None, seed: int = 0):
    """The clean splits as a ``DatasetDict`` (``id, text, label, hard``; ``label`` a ClassLabel).

    ``max_train`` / ``max_eval`` subsample the training / validation split (stratified by
    label, reproducibly) for the smoke profile; pass ``cfg.sizes.max_train_examples`` and
    ``cfg.sizes.max_eval_examples``. The test split is always whole: it is what results report.
    """
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

    frame = load_domain_frame()
    features = Features({"id": Value("string"), "text": Value("string"),
                         "label": ClassLabel(names=list(LABELS)), "hard": Value("bool")})
    out = {}
    for split in SPLITS:
        part = frame[frame["split"] == split]
        limit = {"train": max_train, "validation": max_eval, "test": None}[split]
        part = _stratified_head(part, limit, seed)
        part = part.assign(label=part["label"].map(label2id()))[["id", "text", "label", "hard"]]
        out[split] = Dataset.from_pandas(part.reset_index(drop=True), features=features)
    return DatasetDict(out)


def _stratified_head(frame: pd.DataFrame, limit: int | None, seed: int) -> pd.DataFrame:
    """At most ``limit`` rows, keeping each label's share; the same rows for the same seed."""
    if limit is None or limit >= len(frame):
        return frame
    if limit < len(LABELS):
        raise ValueError(f"Keep at least {len(LABELS)} examples (one per label), got {limit}.")
    shuffled = frame.sample(frac=1.0, random_state=seed)
    share = shuffled["label"].value_counts(normalize=True)
    quota = (share * limit).round().astype(int).clip(lower=1)
    quota[quota.idxmax()] += limit - quota.sum()  # rounding leftovers go to the largest class
    parts = [shuffled[shuffled["label"] == label].head(n) for label, n in quota.items()]
    return pd.concat(parts).sort_values("id")


def load_instructions(split: str | None = None) -> pd.DataFrame:
    """Instruction records: ``id, task, instruction, input, output, split``.

    ``split`` is ``train``, ``validation`` (15 % of each task's former training records, for
    choosing a recipe) or ``heldout`` (never trained on or chosen on: the reported scores); no
    input occurs in two splits. Pass ``split`` to get one split only. ``input`` is the empty
    string where a task needs none (Alpaca's "without input" format).

    >>> load_instructions("validation")["split"].unique().tolist()
    ['validation']
    >>> load_instructions().groupby("split").size().to_dict()
    {'heldout': 139, 'train': 255, 'validation': 46}
    """
    frame = _read_jsonl("instructions.jsonl")
    if split is None:
        return frame
    if split not in INSTRUCTION_SPLITS:
        raise ValueError(f"Unknown instruction split {split!r}; choose one of {INSTRUCTION_SPLITS} "
                         "(or None for all records).")
    return frame[frame["split"] == split].reset_index(drop=True)


def load_instruction_splits():
    """Instruction records as a ``DatasetDict`` with ``train``, ``validation`` and ``heldout``.

    >>> splits = load_instruction_splits()
    >>> {name: len(part) for name, part in splits.items()}
    {'train': 255, 'validation': 46, 'heldout': 139}
    """
    from datasets import Dataset, DatasetDict

    return DatasetDict({split: Dataset.from_pandas(load_instructions(split).drop(columns="split"))
                        for split in INSTRUCTION_SPLITS})
