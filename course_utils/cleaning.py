"""The cleaning decisions of lesson 01, one function each, and their composition.

Lesson 01 shows each step on the raw data; :func:`clean_domain_data` runs them in the same
order, and its output is exactly the bundled clean splits, id for id (a test checks it).

>>> from course_utils import data
>>> clean = clean_domain_data(data.load_raw_domain_frame())
>>> clean["id"].tolist() == data.load_domain_frame()["id"].tolist()
True
"""

from __future__ import annotations

import pandas as pd

from course_utils.audit import is_missing, normalize_text

RESPLIT_SEED = 2026
TEST_SIZE = 0.30
VALIDATION_SIZE = 0.15
MAX_LENGTH = 512  # the encoders' context: a longer text would be cut


def drop_unusable(df: pd.DataFrame, text_col: str = "text", label_col: str = "label") -> pd.DataFrame:
    """Rows with a missing or empty text, or a missing label, removed."""
    ok = df[text_col].map(lambda t: not is_missing(t) and bool(str(t).strip()))
    ok &= ~df[label_col].map(is_missing)
    return df[ok]


def drop_too_long(df: pd.DataFrame, max_length: int = MAX_LENGTH, tokenizer=None,
                  text_col: str = "text") -> pd.DataFrame:
    """Rows longer than ``max_length`` tokens (words without a tokenizer) removed."""
    texts = df[text_col].tolist()
    if tokenizer is None:
        lengths = [len(t.split()) for t in texts]
    else:
        lengths = [len(ids) for ids in tokenizer(texts, truncation=False, verbose=False)["input_ids"]]
    return df[[n <= max_length for n in lengths]]


def deduplicate(df: pd.DataFrame, text_col: str = "text", id_col: str = "id") -> pd.DataFrame:
    """One row per normalised text (case, spacing and punctuation ignored): the earliest id wins."""
    ordered = df.sort_values(id_col)
    return ordered[~ordered[text_col].map(normalize_text).duplicated()]


def stratified_resplit(df: pd.DataFrame, by: tuple[str, ...] = ("label", "hard"),
                       test_size: float = TEST_SIZE, validation_size: float = VALIDATION_SIZE,
                       seed: int = RESPLIT_SEED, id_col: str = "id") -> pd.DataFrame:
    """New train / validation / test splits, stratified on ``by`` (each split keeps the label
    shares and the share of hard cases), written into a ``split`` column; sorted by id."""
    from sklearn.model_selection import train_test_split

    ordered = df.sort_values(id_col).reset_index(drop=True)
    strata = ordered[list(by)].astype(str).agg("|".join, axis=1)
    rest, test = train_test_split(ordered, test_size=test_size, random_state=seed, stratify=strata)
    train, validation = train_test_split(rest, test_size=validation_size / (1 - test_size),
                                         random_state=seed, stratify=strata[rest.index])
    out = pd.concat([train.assign(split="train"), validation.assign(split="validation"),
                     test.assign(split="test")])
    return out.sort_values(id_col).reset_index(drop=True)


def clean_domain_data(raw: pd.DataFrame, tokenizer=None, max_length: int = MAX_LENGTH) -> pd.DataFrame:
    """Lesson 01's decisions in order: drop unusable rows, drop over-long texts, deduplicate
    across the whole dataset, re-split stratified."""
    step = drop_unusable(raw)
    step = drop_too_long(step, max_length, tokenizer)
    step = deduplicate(step)
    return stratified_resplit(step)
