"""Audit a labelled text dataset before fine-tuning on it.

>>> import pandas as pd
>>> df = pd.DataFrame({"text": ["Fever and cough.", "fever and  cough", "Shares fell.", None],
...                    "label": ["medical", "medical", "finance", "finance"]})
>>> report = audit_dataset(df)
>>> report.n_examples, report.n_near_duplicates, report.n_missing_text
(4, 1, 1)
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

_PUNCTUATION = re.compile(r"[^\w\s]")
_SPACES = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """The key near duplicates share: lower case, no punctuation, single spaces.

    >>> normalize_text("  The Court  RULED, again! ")
    'the court ruled again'
    """
    return _SPACES.sub(" ", _PUNCTUATION.sub("", text.lower())).strip()


def is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


@dataclass(frozen=True)
class AuditWarning:
    """One problem, how many rows have it (None for a property of the whole set), what to do."""

    problem: str
    count: int | None
    action: str

    def __str__(self) -> str:
        counted = "" if self.count is None else f" ({self.count})"
        return f"{self.problem}{counted}: {self.action}"


@dataclass(repr=False)
class AuditReport:
    """What :func:`audit_dataset` found; a table in a notebook, plain text in a terminal."""

    n_examples: int
    class_counts: dict[str, int]
    imbalance_ratio: float
    n_missing_text: int
    n_missing_label: int
    n_empty: int
    n_exact_duplicates: int
    n_near_duplicates: int
    n_leaked: int | None
    n_over_max_length: int | None
    max_length: int | None
    length_unit: str
    lengths: list[int] = field(repr=False)
    split_counts: dict[str, int] | None = None
    warnings: list[AuditWarning] = field(default_factory=list)

    @property
    def n_missing(self) -> int:
        """Rows missing their text or their label."""
        return self.n_missing_text + self.n_missing_label

    def table(self) -> pd.DataFrame:
        rows = [
            ("examples", self.n_examples),
            ("class counts", ", ".join(f"{k}: {v}" for k, v in self.class_counts.items())),
            ("imbalance ratio (largest / smallest class)", f"{self.imbalance_ratio:.2f}"),
            ("missing texts", self.n_missing_text),
            ("missing labels", self.n_missing_label),
            ("empty texts", self.n_empty),
            ("exact duplicates (extra copies)", self.n_exact_duplicates),
            ("near duplicates (case, spacing, punctuation)", self.n_near_duplicates),
        ]
        if self.split_counts is not None:
            rows.append(("split sizes", ", ".join(f"{k}: {v}" for k, v in self.split_counts.items())))
            rows.append(("texts shared across splits (leaked)", self.n_leaked))
        if self.max_length is not None:
            rows.append((f"longer than {self.max_length} {self.length_unit}", self.n_over_max_length))
        return pd.DataFrame(rows, columns=["check", "result"])

    def __repr__(self) -> str:
        return (f"<AuditReport: {self.n_examples} examples, {len(self.warnings)} warning(s); "
                "print() it or display it as a table>")

    def __str__(self) -> str:
        lines = [f"{check:<46} {result}" for check, result in self.table().itertuples(index=False)]
        if self.warnings:
            lines.append("")
            lines += [f"WARNING {w}" for w in self.warnings]
        else:
            lines.append("\nno problems found")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        parts = [self.table().to_html(index=False)]
        if self.warnings:
            items = "".join(f"<li>{html.escape(str(w))}</li>" for w in self.warnings)
            parts.append(f"<p>Warnings, each with the recommended action:</p><ul>{items}</ul>")
        else:
            parts.append("<p>No problems found.</p>")
        return "".join(parts)

    def plot(self):
        """Class distribution and length histogram (with the max_length line) side by side."""
        import matplotlib.pyplot as plt

        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
        left.bar(list(self.class_counts), list(self.class_counts.values()), color="#4c72b0")
        left.set_title("examples per class")
        left.set_ylabel("examples")
        right.hist(self.lengths, bins=40, color="#55a868")
        right.set_yscale("log")  # a handful of outliers stay visible beside hundreds of typical texts
        right.set_title(f"length in {self.length_unit}")
        right.set_xlabel(self.length_unit)
        right.set_ylabel("examples (log scale)")
        if self.max_length is not None:
            right.axvline(self.max_length, color="#c44e52", linestyle="--",
                          label=f"max_length = {self.max_length}")
            right.legend()
        fig.tight_layout()
        return fig


def _check_frame(df, text_col: str, label_col: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(
            f"audit_dataset expects a pandas DataFrame, got {type(df).__name__}. Build one with "
            f"pd.DataFrame({{'{text_col}': texts, '{label_col}': labels}}), or use dataset.to_pandas()."
        )
    missing = [c for c in (text_col, label_col) if c not in df.columns]
    if missing:
        raise ValueError(
            f"Column(s) {missing} not in the DataFrame, whose columns are {list(df.columns)}: "
            "pass text_col= and label_col= with the right names."
        )
    if len(df) == 0:
        raise ValueError("The DataFrame has no rows: there is nothing to audit.")
    for index, value in df[text_col].items():
        if not is_missing(value) and not isinstance(value, str):
            raise TypeError(
                f"Row {index!r} of column {text_col!r} holds a {type(value).__name__} ({value!r}), "
                f"not text: convert the column with df[{text_col!r}].astype(str), or fix that row."
            )


def _with_splits(df: pd.DataFrame, splits) -> tuple[pd.DataFrame, str | None]:
    if splits is None:
        return df, None
    if isinstance(splits, str):
        if splits not in df.columns:
            raise ValueError(f"splits={splits!r} is not a column; columns: {list(df.columns)}.")
        return df, splits
    if isinstance(splits, Mapping):
        return pd.concat([part.assign(_split=name) for name, part in splits.items()],
                         ignore_index=True), "_split"
    raise TypeError("splits must be None, the name of a split column, or a dict of name -> DataFrame.")


def _lengths(texts: list[str], tokenizer) -> list[int]:
    if tokenizer is None:
        return [len(t.split()) for t in texts]
    # verbose=False: measuring long texts is the point, so no "longer than the maximum" warning
    encoded = tokenizer(texts, add_special_tokens=True, truncation=False, verbose=False)
    return [len(ids) for ids in encoded["input_ids"]]


def audit_dataset(df, text_col: str = "text", label_col: str = "label", tokenizer=None,
                  max_length: int | None = None, splits=None) -> AuditReport:
    """Count what would hurt fine-tuning, each problem with the recommended action.

    ``splits`` is the name of a split column of ``df`` or a dict ``{name: DataFrame}`` (then
    ``df`` may be any one of them, or the whole). Lengths are in tokens when a ``tokenizer`` is
    given (special tokens included, as the model sees them), else in words.
    """
    if isinstance(splits, Mapping):
        for part in splits.values():
            _check_frame(part, text_col, label_col)
        df, split_col = _with_splits(df, splits)
    else:
        _check_frame(df, text_col, label_col)
        df, split_col = _with_splits(df, splits)
    if max_length is not None and (not isinstance(max_length, int) or max_length < 1):
        raise ValueError(f"max_length must be a positive integer, got {max_length!r}.")

    texts = df[text_col].tolist()
    missing_text = [is_missing(t) for t in texts]
    empty = [not m and not t.strip() for t, m in zip(texts, missing_text)]
    usable = [not m and not e for m, e in zip(missing_text, empty)]
    labels = df[label_col]
    n_missing_label = int(sum(is_missing(v) for v in labels))
    counts = labels[[not is_missing(v) for v in labels]].astype(str).value_counts()
    class_counts = {str(k): int(v) for k, v in counts.items()}
    ratio = float(counts.max() / counts.min()) if len(counts) else float("nan")

    usable_texts = [t for t, ok in zip(texts, usable) if ok]
    n_exact = len(usable_texts) - len(set(usable_texts))
    keys = [normalize_text(t) for t in usable_texts]
    n_near = (len(keys) - len(set(keys))) - n_exact

    n_leaked, split_counts = None, None
    if split_col is not None:
        split_counts = {str(k): int(v) for k, v in df[split_col].value_counts().items()}
        where: dict[str, set] = {}
        for key, split in zip(keys, df.loc[usable, split_col]):
            where.setdefault(key, set()).add(split)
        n_leaked = sum(1 for found in where.values() if len(found) > 1)

    lengths = _lengths(usable_texts, tokenizer) if usable_texts else []
    if max_length is None and tokenizer is not None:
        from course_utils.models import tokenizer_context

        max_length = tokenizer_context(tokenizer)  # None where the tokenizer's files do not say
    n_over = None if max_length is None else sum(1 for n in lengths if n > max_length)
    unit = "tokens" if tokenizer is not None else "words"

    warnings = []

    def warn(count, problem, action):
        if count:
            warnings.append(AuditWarning(problem, int(count), action))

    warn(sum(missing_text), "missing texts", "drop these rows: there is nothing to learn from")
    warn(sum(empty), "empty texts", "drop these rows: an empty input teaches only the label's prior")
    warn(n_missing_label, "missing labels",
         "drop these rows (or label them): a supervised loss needs a label")
    warn(n_exact, "exact duplicates",
         "drop the extra copies, keeping the first: copies weigh some examples more than others")
    warn(n_near, "near duplicates",
         "deduplicate on normalised text (case, spacing, punctuation), not only on exact text")
    warn(n_leaked, "texts shared across splits",
         "deduplicate the whole dataset, then re-split (stratified): a leaked test example "
         "measures memory, not generalisation")
    if len(counts) > 1 and ratio > 1.5:
        warnings.append(AuditWarning(
            f"class imbalance (largest / smallest = {ratio:.2f})", None,
            "split stratified, report macro-F1 beside accuracy, and consider class weights"))
    warn(n_over, f"texts longer than {max_length} {unit}",
         "read them: drop records glued together by mistake; otherwise truncate or raise max_length")

    return AuditReport(
        n_examples=len(df), class_counts=class_counts, imbalance_ratio=ratio,
        n_missing_text=int(sum(missing_text)), n_missing_label=n_missing_label, n_empty=int(sum(empty)),
        n_exact_duplicates=int(n_exact), n_near_duplicates=int(n_near), n_leaked=n_leaked,
        n_over_max_length=n_over, max_length=max_length, length_unit=unit, lengths=lengths,
        split_counts=split_counts, warnings=warnings,
    )
