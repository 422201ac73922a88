"""The loader of challenge 1's data: the course's, a CSV, a Hub dataset (``datasets.load_dataset``
replaced by an in-memory DatasetDict: no network), columns named or found, missing splits made,
and a clear error for each kind of data a classifier cannot learn from."""

from __future__ import annotations

import datasets
import pandas as pd
import pytest
from datasets import ClassLabel, Dataset, DatasetDict, Features, Sequence, Value

from course_utils import data, user_data
from course_utils.user_data import capped, load_labelled_dataset, read_labelled_csv


def texts(n: int, word: str) -> list[str]:
    return [f"{word} example number {i} with its own words {i * 7}" for i in range(n)]


def write_csv(path, **columns) -> str:
    pd.DataFrame(columns).to_csv(path, index=False)
    return str(path)


@pytest.fixture
def two_class_csv(tmp_path):
    return write_csv(tmp_path / "reviews.csv", Review=texts(30, "good") + texts(30, "bad"),
                     Category=["pos"] * 30 + ["neg"] * 30)


# ----------------------------------------------------------------------------- the course's data and CSVs


def test_none_is_the_course_data_with_the_profile_cap():
    mine = load_labelled_dataset(max_train=160)
    whole = data.load_domain_splits(max_train=160)
    assert mine.source == "bundled" and mine.labels == list(data.LABELS)
    assert {k: len(v) for k, v in mine.splits.items()} == {k: len(v) for k, v in whole.items()}
    assert mine.splits["train"]["id"] == whole["train"]["id"]
    assert any("capped at 160" in note for note in mine.notes)
    assert user_data.loaded(None) is mine
    with pytest.raises(ValueError, match="always used whole"):
        load_labelled_dataset(max_test=10)


def test_a_csv_with_other_column_names_is_found_split_and_remembered(two_class_csv):
    mine = load_labelled_dataset(two_class_csv)
    assert mine.labels == ["neg", "pos"]
    assert {k: len(v) for k, v in mine.splits.items()} == {"train": 42, "validation": 6, "test": 12}
    assert mine.splits["train"].features["label"] == ClassLabel(names=["neg", "pos"])
    assert "text column 'Review', label column 'Category'" in mine.notes[0]
    assert "70 / 10 / 20 %" in mine.notes[1]
    ids = [i for part in mine.splits.values() for i in part["id"]]
    assert len(set(ids)) == 60  # every row once, in exactly one split
    for part in mine.splits.values():  # stratified: both classes in every split, in equal numbers
        assert sorted(pd.Series(part["label"]).value_counts().tolist()) == [len(part) // 2] * 2
    assert user_data.loaded(two_class_csv) is mine
    frames = mine.frames()
    assert set(frames["test"]["label"]) == {"neg", "pos"} and list(frames["test"].columns) == ["id", "text", "label"]


def test_the_same_csv_gives_the_same_splits_and_caps_are_stratified(two_class_csv):
    first, second = load_labelled_dataset(two_class_csv), load_labelled_dataset(two_class_csv)
    assert first.splits["test"]["id"] == second.splits["test"]["id"]
    small = load_labelled_dataset(two_class_csv, max_train=10, max_eval=4)
    assert (len(small.splits["train"]), len(small.splits["validation"]), len(small.splits["test"])) == (10, 4, 12)
    assert sorted(small.splits["train"]["label"]) == [0] * 5 + [1] * 5
    assert set(small.splits["train"]["id"]) <= set(first.splits["train"]["id"])
    assert any("train split capped at 10 of its 42 rows" in note for note in small.notes)


def test_a_split_column_is_kept_and_a_missing_validation_part_cut_from_train(tmp_path):
    path = write_csv(tmp_path / "split.csv", text=texts(40, "a") + texts(20, "b"), label=["x", "y"] * 30,
                     split=["train"] * 40 + ["Test"] * 20)
    frame = read_labelled_csv(path)
    assert frame["split"].value_counts().to_dict() == {"train": 36, "test": 20, "validation": 4}
    mine = load_labelled_dataset(path)
    assert any("no validation split: 10% of the training rows" in note for note in mine.notes)


def test_numeric_labels_are_names_in_numeric_order(tmp_path):
    path = write_csv(tmp_path / "numbers.csv", text=texts(60, "t"), label=[2, 10, 3] * 20)
    assert load_labelled_dataset(path).labels == ["2", "3", "10"]


@pytest.mark.parametrize("columns, words", [
    ({"sentence": ["s"] * 20, "content": ["c"] * 20, "label": ["a", "b"] * 10}, "Several columns"),
    ({"words": ["s"] * 20, "label": ["a", "b"] * 10}, "No text column found"),
    ({"text": ["s"] * 20, "kind": ["a", "b"] * 10}, "No label column found"),
])
def test_unclear_columns_name_the_columns_and_the_argument(tmp_path, columns, words):
    path = write_csv(tmp_path / "odd.csv", **columns)
    with pytest.raises(ValueError, match=words) as caught:
        load_labelled_dataset(path)
    assert "_column=" in str(caught.value) and str(list(columns)) in str(caught.value)


def test_named_columns_win_and_a_wrong_name_is_refused(tmp_path):
    path = write_csv(tmp_path / "named.csv", sentence=texts(30, "a"), content=texts(30, "b"), y=["a", "b"] * 15)
    assert len(load_labelled_dataset(path, text_column="content", label_column="y").labels) == 2
    with pytest.raises(ValueError, match=r"has no column 'txt'.*pass text_column="):
        load_labelled_dataset(path, text_column="txt", label_column="y")


@pytest.mark.parametrize("text, label, words", [
    (texts(29, "t") + [""], ["a", "b"] * 15, r"1 row\(s\) of .* have no text \(CSV line 31\)"),
    (texts(30, "t"), ["a", "b"] * 14 + ["a", None], r"have no label \(CSV line 31\).*drop_unusable"),
    (texts(30, "t"), ["a"] * 30, "a classifier needs at least two classes"),
    (texts(30, "t"), ["a"] * 25 + ["b"] * 5, "fewer than 10 rows"),
    (texts(30, "t"), [0.5, 1.5] * 15, "numbers with fractions"),
], ids=["empty-text", "missing-label", "one-class", "rare-class", "scores"])
def test_data_a_classifier_cannot_learn_from_is_refused_with_the_fix(tmp_path, text, label, words):
    path = write_csv(tmp_path / "bad.csv", text=text, label=label)
    with pytest.raises(ValueError, match=words):
        load_labelled_dataset(path)


def test_a_test_label_never_seen_in_training_is_refused(tmp_path):
    path = write_csv(tmp_path / "unseen.csv", text=texts(50, "t"), label=["a", "b"] * 15 + ["c"] * 20,
                     split=["train"] * 30 + ["validation"] * 10 + ["test"] * 10)
    with pytest.raises(ValueError, match=r"\['c'\] appear in the validation or test split.*never in its training"):
        load_labelled_dataset(path)


def test_missing_empty_and_other_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="put it next to the notebook"):
        load_labelled_dataset(tmp_path / "absent.csv")
    (tmp_path / "empty.csv").write_text("text,label\n")
    with pytest.raises(ValueError, match="no rows"):
        load_labelled_dataset(tmp_path / "empty.csv")
    with pytest.raises(ValueError, match="not a CSV file"):
        load_labelled_dataset(tmp_path / "data.tsv")
    with pytest.raises(TypeError, match="source must be None"):
        load_labelled_dataset(3)
    path = write_csv(tmp_path / "ids.csv", id=["same"] * 20, text=texts(20, "t"), label=["a", "b"] * 10)
    with pytest.raises(ValueError, match="id column repeats"):
        load_labelled_dataset(path)


def test_capped_keeps_each_label():
    part = pd.DataFrame({"text": texts(12, "t"), "label": ["x"] * 9 + ["y"] * 3})
    assert capped(part, 4)["label"].tolist() == ["x", "x", "x", "y"]
    assert capped(part, None) is part
    with pytest.raises(ValueError, match="at least 2"):
        capped(part, 1)


# ----------------------------------------------------------------------------- the Hub, replaced in memory


def hub_split(n: int, labels: list, names=("neg", "pos"), column="sentence", label_column="label") -> Dataset:
    features = Features({"idx": Value("int32"), column: Value("string"),
                         label_column: ClassLabel(names=list(names))})
    words = [f"{'bad' if label == 0 else 'good'} film {i}" for i, label in enumerate(labels)]
    return Dataset.from_dict({"idx": list(range(n)), column: words, label_column: labels}, features=features)


@pytest.fixture
def online(monkeypatch):
    """A network the loader believes in, and a record of what it asked the Hub for."""
    for flag in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "COURSE_PROFILE"):
        monkeypatch.delenv(flag, raising=False)
    asked = []

    def serve(dataset: DatasetDict):
        def load_dataset(name, config=None, **kwargs):
            asked.append((name, config))
            return dataset
        monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return serve, asked


def test_a_hub_dataset_with_train_and_test_gets_a_validation_split(online):
    serve, asked = online
    serve(DatasetDict({"train": hub_split(60, [0, 1] * 30), "test": hub_split(20, [0, 1] * 10)}))
    mine = load_labelled_dataset("someone/reviews", profile="cpu")
    assert asked == [("someone/reviews", None)]
    assert mine.source == "someone/reviews" and mine.labels == ["neg", "pos"]
    assert {k: len(v) for k, v in mine.splits.items()} == {"train": 54, "validation": 6, "test": 20}
    assert "text column 'sentence', label column 'label'" in mine.notes[0]
    assert any("no validation split: 10% of the training rows" in note for note in mine.notes)
    assert mine.splits["test"]["text"][0] == "bad film 0"  # the given test split, whole and in order


def test_hidden_test_labels_and_a_config(online):
    serve, asked = online
    serve(DatasetDict({"train": hub_split(60, [0, 1] * 30), "dev": hub_split(10, [0, 1] * 5),
                       "test": hub_split(10, [-1] * 10), "unsupervised": hub_split(5, [-1] * 5)}))
    mine = load_labelled_dataset("glue:sst2", profile="cpu")
    assert asked == [("glue", "sst2")]
    assert {k: len(v) for k, v in mine.splits.items()} == {"train": 48, "validation": 10, "test": 12}
    assert any("hides its labels (-1)" in note for note in mine.notes)
    assert "['unsupervised'] are not used" in mine.notes[0]


def test_a_lone_classlabel_column_is_the_label(online):
    serve, _ = online
    serve(DatasetDict({"train": hub_split(60, [0, 1, 2] * 20, names=("a", "b", "c"), label_column="coarse")}))
    assert load_labelled_dataset("trec", profile="cpu").labels == ["a", "b", "c"]


def test_multi_label_and_unloadable_datasets_are_refused(online, monkeypatch):
    serve, _ = online
    features = Features({"text": Value("string"), "labels": Sequence(ClassLabel(names=["a", "b"]))})
    multi = Dataset.from_dict({"text": ["x"] * 20, "labels": [[0, 1]] * 20}, features=features)
    serve(DatasetDict({"train": multi}))
    with pytest.raises(ValueError, match="multi-label"):
        load_labelled_dataset("tags", profile="gpu")

    def missing(name, config=None, **kwargs):
        raise FileNotFoundError(f"Dataset '{name}' doesn't exist on the Hub")
    monkeypatch.setattr(datasets, "load_dataset", missing)
    with pytest.raises(ValueError, match=r"could not be loaded \(FileNotFoundError.*'id:config'"):
        load_labelled_dataset("no/such", profile="cpu")


@pytest.mark.parametrize("profile, env, words", [
    ("smoke", {}, "this is the smoke profile"),
    ("cpu", {"HF_HUB_OFFLINE": "1"}, "HF_HUB_OFFLINE is set"),
    (None, {"COURSE_PROFILE": "smoke"}, "this is the smoke profile"),
])
def test_offline_a_hub_id_says_what_it_needs_and_that_a_csv_works(online, monkeypatch, profile, env, words):
    serve, asked = online
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(RuntimeError, match="needs the cpu or gpu profile and a network") as caught:
        load_labelled_dataset("imdb", profile=profile)
    assert words in str(caught.value) and "CSV" in str(caught.value)
    assert asked == []  # nothing was tried
