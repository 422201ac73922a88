"""Bring your own labelled dataset: the course's data, a CSV, or a Hugging Face Hub dataset, as three splits.

:func:`load_labelled_dataset` turns any of them into what the lessons train on: a ``DatasetDict``
with ``train``, ``validation`` and ``test`` splits (``id``, ``text``, ``label``, the label a
``ClassLabel``) and the label names. The text and label columns are named or found; a missing
validation or test split is cut from the training split, stratified by label with a fixed seed;
data a classifier cannot learn from (missing texts or labels, one class, a test label the
training split never shows) is refused with a message that names the problem and the fix.

>>> import os, tempfile
>>> import pandas as pd
>>> rows = [{"text": f"text {i}", "label": "ab"[i % 2]} for i in range(40)]
>>> path = os.path.join(tempfile.mkdtemp(), "tiny.csv")
>>> pd.DataFrame(rows).to_csv(path, index=False)
>>> mine = load_labelled_dataset(path)
>>> mine.labels, {name: len(part) for name, part in mine.splits.items()}
(['a', 'b'], {'train': 28, 'validation': 4, 'test': 8})
>>> print(mine.notes[-1])
no validation or test split: all rows split 70 / 10 / 20 % (train / validation / test), stratified by label, seed 0
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

BUNDLED = "bundled"  # the source name of the course's own data
SPLITS = ("train", "validation", "test")
# Column names that hold the text or the label in common datasets, lower case, most usual first.
TEXT_COLUMNS = ("text", "sentence", "content", "review", "document", "body", "comment", "tweet", "utterance")
LABEL_COLUMNS = ("label", "labels", "category", "class", "target", "sentiment", "topic", "intent")
# Other names datasets give their splits.
SPLIT_ALIASES = {"valid": "validation", "val": "validation", "dev": "validation"}
TEST_SIZE, VALIDATION_SIZE, SPLIT_SEED = 0.2, 0.1, 0
MIN_PER_LABEL = 10  # fewer rows than this cannot be split three ways and learned
_TRUE = {"1", "true", "yes", "on"}

# What this process loaded, by source name: a notebook's own checks recompute from it.
_LOADED: dict[str, "LabelledData"] = {}


@dataclass(frozen=True)
class LabelledData:
    """What :func:`load_labelled_dataset` returns: the splits, the label names, where they came from.

    ``source`` is ``"bundled"``, the CSV's path as given, or the Hub id as given; ``notes`` say
    which columns were read and how missing splits were made.
    """

    splits: "DatasetDict"  # noqa: F821 (datasets is imported lazily)
    labels: list[str]
    source: str
    notes: tuple[str, ...] = ()

    def frames(self) -> dict[str, pd.DataFrame]:
        """One DataFrame per split (``id``, ``text``, ``label``), the labels as names: what the audit reads."""
        out = {}
        for name, part in self.splits.items():
            frame = part.select_columns(["id", "text", "label"]).to_pandas()
            out[name] = frame.assign(label=frame["label"].map(dict(enumerate(self.labels))))
        return out

    def __str__(self) -> str:
        sizes = ", ".join(f"{name} {len(part)}" for name, part in self.splits.items())
        lines = [f"data: {self.source}; {len(self.labels)} labels {self.labels}; {sizes}"]
        return "\n".join(lines + [f"  {note}" for note in self.notes])


def source_name(source) -> str:
    """The name a source is recorded under: ``"bundled"`` for None, else the path or id as given.

    >>> source_name(None), source_name("my_data.csv"), source_name("imdb")
    ('bundled', 'my_data.csv', 'imdb')
    """
    return BUNDLED if source is None else str(source)


def loaded(source) -> LabelledData | None:
    """What :func:`load_labelled_dataset` last returned in this process for ``source``, or None."""
    return _LOADED.get(source_name(source))


def is_csv(source) -> bool:
    return isinstance(source, (str, os.PathLike)) and str(source).lower().endswith(".csv")


def load_labelled_dataset(source=None, *, text_column: str | None = None, label_column: str | None = None,
                          profile=None, max_train: int | None = None, max_eval: int | None = None,
                          max_test: int | None = None, seed: int = 0) -> LabelledData:
    """Three splits and the label names from the course's data, a CSV, or a Hub dataset.

    ``source``: None for the course's data (:func:`course_utils.data.load_domain_splits`); a path
    ending in ``.csv``; anything else is a Hugging Face Hub dataset id (``"imdb"``, or
    ``"id:config"`` for a dataset with configurations), which needs a network and the cpu or gpu
    ``profile`` (a profile name or the ``CourseConfig`` of :func:`course_utils.setup`).
    ``text_column`` / ``label_column`` name the columns; None finds them (``text``, ``sentence``,
    ``review``... and ``label``, ``category``, ``class``..., in any case). ``max_train``,
    ``max_eval`` and ``max_test`` cap the training, validation and test splits (stratified by
    label, with ``seed``); None keeps a split whole. A CSV may have an ``id`` column and a
    ``split`` column (``train`` / ``validation`` / ``test``).
    """
    if source is None:
        result = _bundled(max_train, max_eval, max_test, seed)
    elif is_csv(source):
        frame, notes = _csv_frame(source, text_column, label_column)
        result = _finish(frame, None, str(source), notes, max_train, max_eval, max_test, seed)
    elif isinstance(source, (str, os.PathLike)) and Path(source).suffix.lower() in {
            ".tsv", ".txt", ".json", ".jsonl", ".parquet", ".xlsx"}:
        raise ValueError(f"{source!r} is not a CSV file: this loader reads .csv files (or a Hub dataset id). "
                         "Save it as CSV first, e.g. pandas: df.to_csv('my_data.csv', index=False).")
    elif isinstance(source, str) and source.strip():
        frames, label_names, notes = _hub_frames(source.strip(), text_column, label_column, profile)
        frame = pd.concat([f.assign(split=name) for name, f in frames.items()], ignore_index=True)
        result = _finish(frame, label_names, source, notes, max_train, max_eval, max_test, seed)
    else:
        raise TypeError(f"source must be None (the course's data), a .csv path or a Hub dataset id such as "
                        f"'imdb', not {source!r}.")
    _LOADED[result.source] = result
    return result


# ----------------------------------------------------------------------------- the three kinds of source


def _bundled(max_train, max_eval, max_test, seed) -> LabelledData:
    from course_utils import data

    if max_test is not None:
        raise ValueError("The course's test split is always used whole (it is what the lessons report): "
                         "leave max_test=None with the course's data.")
    splits = data.load_domain_splits(max_train=max_train, max_eval=max_eval, seed=seed)
    whole = data.load_domain_frame()["split"].value_counts()
    notes = ["the course's medical / finance / legal texts, with their own splits"]
    for name in SPLITS:
        if len(splits[name]) < whole[name]:
            notes.append(f"{name} split capped at {len(splits[name])} of its {whole[name]} rows (stratified, "
                         f"seed {seed})")
    return LabelledData(splits, list(data.LABELS), BUNDLED, tuple(notes))


def read_labelled_csv(path, text_column: str | None = None, label_column: str | None = None) -> pd.DataFrame:
    """A labelled CSV as ``id, text, label, split`` rows (labels as text), every row in one of the three splits.

    The columns are named or found as in :func:`load_labelled_dataset`. A ``split`` column with
    ``train`` / ``test`` (and optionally ``validation``) is kept, a missing validation part cut
    from train (10 %); without one, the rows are split 70 / 10 / 20 %, stratified by label, seed 0.
    """
    frame, notes = _csv_frame(path, text_column, label_column)
    frame, _ = _checked(frame, None, str(path))
    return _made_splits(frame, notes)[["id", "text", "label", "split"]]


def _csv_frame(path, text_column, label_column) -> tuple[pd.DataFrame, list[str]]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"The CSV {str(path)!r} was not found: put it next to the notebook, or give its full path. (A grader "
            f"that has only the notebook cannot read it: it grades the answers the notebook's last cell saved.)")
    # Only empty cells are missing: a text such as "NA" or "None" stays text.
    frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
    if len(frame) == 0:
        raise ValueError(f"{path} has no rows: a classifier needs labelled examples. Check the file.")
    text = _pick(list(frame.columns), text_column, TEXT_COLUMNS, "text", "text_column", path.name)
    label = _pick(list(frame.columns), label_column, LABEL_COLUMNS, "label", "label_column", path.name)
    if "id" in frame.columns and text != "id" and label != "id":
        ids = frame["id"].astype(str)
        if ids.duplicated().any():
            raise ValueError(f"{path.name}'s id column repeats {sorted(set(ids[ids.duplicated()]))[:5]}: give each "
                             "row its own id, or drop the column (rows are then numbered).")
    else:
        ids = pd.Series([f"row-{i:05d}" for i in range(len(frame))])
    out = pd.DataFrame({"id": ids.to_numpy(), "text": frame[text].to_numpy(), "label": frame[label].to_numpy(),
                        "row": [f"CSV line {i + 2}" for i in range(len(frame))]})  # line 1 is the header
    if "split" in frame.columns and "split" not in (text, label):
        out["split"] = frame["split"].astype(str).str.strip().str.lower().map(lambda s: SPLIT_ALIASES.get(s, s))
        unknown = sorted(set(out["split"]) - set(SPLITS))
        if unknown or "train" not in set(out["split"]):
            raise ValueError(f"{path.name}'s split column must hold 'train' (and optionally 'validation' and "
                             f"'test'); found {sorted(set(out['split']))}. Fix those values or drop the column.")
    return out, [f"{path.name}: text column {text!r}, label column {label!r}"]


def _hub_offline(profile) -> str | None:
    """Why a Hub dataset cannot be downloaded here, or None."""
    name = getattr(profile, "profile", profile)
    if name is None:
        name = os.environ.get("COURSE_PROFILE", "").strip().lower() or None
    if name == "smoke":
        return "this is the smoke profile, which runs offline"
    for flag in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        if os.environ.get(flag, "").strip().lower() in _TRUE:
            return f"{flag} is set"
    return None


def _hub_frames(source: str, text_column, label_column, profile):
    why = _hub_offline(profile)
    if why:
        raise RuntimeError(
            f"{source!r} is read as a Hugging Face Hub dataset id: loading one needs the cpu or gpu profile and a "
            f"network, and {why}. Offline, use a CSV with a text and a label column ('my_data.csv'), or None for "
            "the course's data. (A grader runs offline: it grades the answers the notebook's last cell saved.)")
    import datasets

    name, _, config = source.partition(":")
    try:
        loaded_data = datasets.load_dataset(name, config or None)
    except Exception as error:  # not found, gated, no network: say which, and what to check
        raise ValueError(f"The Hub dataset {source!r} could not be loaded ({type(error).__name__}: "
                         f"{str(error)[:300]}). Check the id on https://huggingface.co/datasets (a dataset "
                         "with configurations is written 'id:config') and the network.") from error
    if isinstance(loaded_data, datasets.Dataset):
        loaded_data = datasets.DatasetDict({"train": loaded_data})
    parts = {SPLIT_ALIASES.get(k, k): v for k, v in loaded_data.items()}
    notes = []
    ignored = sorted(set(parts) - set(SPLITS))
    if "train" not in parts:
        raise ValueError(f"{source!r} has no training split (its splits: {sorted(loaded_data)}); this loader "
                         "needs one called 'train'.")
    columns = list(parts["train"].column_names)
    text = _pick(columns, text_column, TEXT_COLUMNS, "text", "text_column", source)
    label = _pick(columns, label_column, LABEL_COLUMNS, "label", "label_column", source,
                  features=parts["train"].features)
    feature = parts["train"].features[label]
    if isinstance(feature, (datasets.Sequence, list)) or getattr(feature, "_type", "") == "List":
        raise ValueError(f"{source!r}'s {label!r} column holds several labels per text (multi-label); this "
                         "challenge classifies each text into one class: choose a single-label dataset.")
    label_names = list(feature.names) if isinstance(feature, datasets.ClassLabel) else None
    frames = {}
    for split in SPLITS:
        if split not in parts:
            continue
        part = parts[split].select_columns([text, label]).to_pandas()
        values = part[label]
        if label_names is not None:
            if (values < 0).all():  # GLUE-style test splits hide their labels as -1
                notes.append(f"its {split} split hides its labels (-1), so it is not used")
                continue
            values = values.map(lambda i: label_names[i] if 0 <= i < len(label_names) else None)
        frames[split] = pd.DataFrame({"id": [f"{split}-{i:06d}" for i in range(len(part))],
                                      "text": part[text].to_numpy(), "label": values.to_numpy(),
                                      "row": [f"{split} row {i}" for i in range(len(part))]})
    if "train" not in frames:
        raise ValueError(f"{source!r}'s training split has no labels: choose a labelled dataset.")
    notes.insert(0, f"Hub dataset {source}: text column {text!r}, label column {label!r}"
                 + (f"; its other splits {ignored} are not used" if ignored else ""))
    return frames, label_names, notes


# ----------------------------------------------------------------------------- columns, checks, splits


def _pick(columns: list, given: str | None, candidates: tuple, kind: str, argument: str, where,
          features=None) -> str:
    """The column that holds the text (or label): the one named, or the one found."""
    if given is not None:
        if given not in columns:
            raise ValueError(f"{where} has no column {given!r} (its columns: {columns}): pass {argument}= "
                             "with one of them.")
        return given
    found = [c for c in columns if str(c).strip().lower() in candidates]
    if not found and kind == "label" and features is not None:
        import datasets  # a Hub dataset's label column is often its one ClassLabel, whatever its name

        found = [c for c in columns if isinstance(features[c], datasets.ClassLabel)]
    if len(found) == 1:
        return found[0]
    if not found:
        raise ValueError(f"No {kind} column found in {where}: its columns are {columns}, and none is called "
                         f"{' / '.join(candidates[:5])}... Pass {argument}='...' naming the {kind} column.")
    raise ValueError(f"Several columns of {where} could hold the {kind}: {found} (its columns: {columns}). "
                     f"Pass {argument}='...' to choose one.")


def _label_text(labels: pd.Series, where: str) -> pd.Series:
    """Labels as text: whole numbers without '.0'; numbers with fractions are refused."""
    numbers = pd.to_numeric(labels, errors="coerce")
    if labels.notna().any() and numbers[labels.notna()].notna().all():
        fractional = numbers.dropna() % 1 != 0
        if fractional.any():
            raise ValueError(f"The labels of {where} are numbers with fractions (e.g. {numbers[fractional].iloc[0]}): "
                             "a score to predict, not classes. Bin them into classes first, or choose a dataset "
                             "whose labels are classes.")
        return numbers.map(lambda v: None if pd.isna(v) else str(int(v)))
    return labels.map(lambda v: None if v is None or (isinstance(v, float) and pd.isna(v)) else str(v).strip())


def _checked(frame: pd.DataFrame, label_names, where: str) -> tuple[pd.DataFrame, list[str]]:
    """The rows with labels as text, or ValueError naming what a classifier cannot learn from."""
    if len(frame) == 0:
        raise ValueError(f"{where} has no rows: a classifier needs labelled examples.")
    frame = frame.copy()
    frame["label"] = _label_text(frame["label"], where)
    for column, what in (("text", "text"), ("label", "label")):
        value = frame[column]
        bad = value.isna() | (value.astype(str).str.strip() == "")
        if bad.any():
            rows = ", ".join(frame.loc[bad, "row"].head(5))
            raise ValueError(f"{int(bad.sum())} row(s) of {where} have no {what} ({rows}"
                             f"{', ...' if bad.sum() > 5 else ''}). Drop or fill them first (lesson 01: "
                             "course_utils.cleaning.drop_unusable drops them), then load the data again.")
    frame["text"] = frame["text"].astype(str)
    counts = frame["label"].value_counts()
    if len(counts) < 2:
        raise ValueError(f"Every row of {where} has the label {counts.index[0]!r}: a classifier needs at least two "
                         "classes. Check the label column (label_column=) or add the other classes.")
    small = counts[counts < MIN_PER_LABEL]
    if len(small):
        raise ValueError(f"Labels with fewer than {MIN_PER_LABEL} rows cannot be split and learned: "
                         f"{small.to_dict()}. Add examples or drop those labels.")
    if label_names is not None:  # a ClassLabel's order, less the names no row uses
        return frame, [name for name in label_names if name in set(counts.index)]
    return frame, label_names_of(frame["label"])


def label_names_of(labels) -> list[str]:
    """The label names in the order the classifier numbers them: whole numbers by value, then text.

    >>> label_names_of(["10", "2", "2", "b", "a"])
    ['2', '10', 'a', 'b']
    """
    return sorted(set(labels), key=lambda s: (0, int(s), "") if s.lstrip("-").isdigit() else (1, 0, s))


def _split(frame: pd.DataFrame, size: float, what: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.model_selection import train_test_split

    try:
        return train_test_split(frame, test_size=size, random_state=SPLIT_SEED, stratify=frame["label"])
    except ValueError as error:  # a class too small to be in both parts
        raise ValueError(f"The {what} could not be cut from the training split, stratified by label ({error}): "
                         "give the data its own validation and test splits, or add examples of the rare "
                         "classes.") from None


def _made_splits(frame: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """Every row in train, validation or test: missing splits cut from train (the notes say how)."""
    if "split" not in frame.columns:
        frame = frame.assign(split="train")
    have = set(frame["split"])
    train = frame[frame["split"] == "train"]
    if "test" not in have and "validation" not in have:
        rest, test = _split(train, TEST_SIZE, "test split")
        _, validation = _split(rest, VALIDATION_SIZE / (1 - TEST_SIZE), "validation split")
        shares = " / ".join(f"{round(100 * share)}" for share in (1 - TEST_SIZE - VALIDATION_SIZE, VALIDATION_SIZE,
                                                                   TEST_SIZE))
        notes.append(f"no validation or test split: all rows split {shares} % (train / validation / test), "
                     f"stratified by label, seed {SPLIT_SEED}")
    elif "validation" not in have:
        test = None
        _, validation = _split(train, VALIDATION_SIZE, "validation split")
        notes.append(f"no validation split: {VALIDATION_SIZE:.0%} of the training rows, stratified by label, "
                     f"seed {SPLIT_SEED}")
    elif "test" not in have:
        validation = None
        _, test = _split(train, TEST_SIZE, "test split")
        notes.append(f"no test split: {TEST_SIZE:.0%} of the training rows, stratified by label, seed {SPLIT_SEED}")
    else:
        return frame
    frame = frame.copy()
    for name, part in (("validation", validation), ("test", test)):
        if part is not None:
            frame.loc[part.index, "split"] = name
    return frame


def capped(part: pd.DataFrame, limit: int | None, seed: int = 0) -> pd.DataFrame:
    """At most ``limit`` rows of a split, each label keeping its share (at least one row), in their order.

    >>> part = pd.DataFrame({"text": list("abcdefgh"), "label": ["x"] * 6 + ["y"] * 2})
    >>> capped(part, 4)["label"].tolist()
    ['x', 'x', 'x', 'y']
    """
    if limit is None or limit >= len(part):
        return part
    n_labels = part["label"].nunique()
    if limit < n_labels:
        raise ValueError(f"Keep at least {n_labels} examples per split (one per label), got {limit}.")
    shuffled = part.sample(frac=1.0, random_state=seed)
    quota = (shuffled["label"].value_counts(normalize=True) * limit).round().astype(int).clip(lower=1)
    quota[quota.idxmax()] += limit - quota.sum()  # rounding leftovers go to the largest class
    keep = pd.concat([shuffled[shuffled["label"] == label].head(n) for label, n in quota.items()])
    return part.loc[sorted(keep.index)]


def _finish(frame, label_names, source: str, notes, max_train, max_eval, max_test, seed) -> LabelledData:
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

    frame, labels = _checked(frame, label_names, source)
    notes = list(notes)
    frame = _made_splits(frame, notes)
    parts = {name: frame[frame["split"] == name] for name in SPLITS}
    unseen = sorted((set(parts["validation"]["label"]) | set(parts["test"]["label"])) - set(parts["train"]["label"]))
    if unseen:
        raise ValueError(f"The label(s) {unseen} appear in the validation or test split of {source} but never in its "
                         "training split: a model cannot learn them. Move some of those rows to the training "
                         "split, or drop the labels.")
    features = Features({"id": Value("string"), "text": Value("string"), "label": ClassLabel(names=labels)})
    out = {}
    for name, limit in zip(SPLITS, (max_train, max_eval, max_test)):
        part = capped(parts[name], limit, seed)
        if len(part) < len(parts[name]):
            notes.append(f"{name} split capped at {len(part)} of its {len(parts[name])} rows (stratified, seed {seed})")
        ids = {label: i for i, label in enumerate(labels)}
        rows = part.assign(label=part["label"].map(ids))[["id", "text", "label"]].reset_index(drop=True)
        out[name] = Dataset.from_pandas(rows, features=features)
    return LabelledData(DatasetDict(out), labels, source, tuple(notes))
