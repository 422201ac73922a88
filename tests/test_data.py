"""The bundled data: counts, splits, stable ids, separation of what must stay apart."""

import re
from pathlib import Path

import pytest

from course_utils import corpus, data
from course_utils.audit import normalize_text
from course_utils.cleaning import clean_domain_data

CARD = (Path(data.__file__).parent / "data" / "DATA_CARD.md").read_text()


@pytest.fixture(scope="module")
def clean():
    return data.load_domain_frame()


def test_clean_counts_and_imbalance(clean):
    counts = clean["label"].value_counts()
    assert len(clean) >= 600 and counts.min() >= 150
    assert 1.5 <= counts.max() / counts.min() <= 2.0
    assert set(counts.index) == set(data.LABELS)
    assert clean["hard"].sum() >= 60


def test_splits_sizes_and_hard_cases_in_test(clean):
    test = clean[clean["split"] == "test"]
    assert len(test) >= 150 and test["hard"].sum() >= 30
    assert set(clean["split"]) == set(data.SPLITS)


def test_ids_are_stable_and_unique(clean):
    assert clean["id"].is_unique
    assert all(re.fullmatch(r"doc-\d{4}", i) for i in clean["id"])
    assert clean["id"].tolist() == sorted(clean["id"])


def test_no_text_in_two_clean_splits(clean):
    keys = clean.assign(key=clean["text"].map(normalize_text))
    assert keys.groupby("key")["split"].nunique().max() == 1
    assert keys["key"].is_unique


def test_hard_cases_name_another_domain(clean):
    hard = clean[clean["hard"]]
    assert (hard["confuser"] != hard["label"]).all() and hard["confuser"].isin(data.LABELS).all()
    assert clean[~clean["hard"]]["confuser"].isna().all()


def test_cleaning_the_raw_data_reproduces_the_bundled_splits_id_for_id(clean):
    rebuilt = clean_domain_data(data.load_raw_domain_frame())
    assert rebuilt["id"].tolist() == clean["id"].tolist()
    assert rebuilt["split"].tolist() == clean["split"].tolist()
    assert rebuilt["text"].tolist() == clean["text"].tolist()


def test_dataset_dict(clean):
    splits = data.load_domain_splits()
    assert {k: len(v) for k, v in splits.items()} == clean["split"].value_counts().to_dict()
    assert splits["train"].features["label"].names == list(data.LABELS)
    first = splits["test"][0]
    row = clean[clean["id"] == first["id"]].iloc[0]
    assert data.id2label()[first["label"]] == row["label"] and first["text"] == row["text"]


def test_subsampling_is_stratified_and_reproducible():
    a = data.load_domain_splits(max_train=60, max_eval=30, seed=3)
    b = data.load_domain_splits(max_train=60, max_eval=30, seed=3)
    assert len(a["train"]) == 60 and len(a["validation"]) == 30 and a["train"]["id"] == b["train"]["id"]
    assert len(a["test"]) == len(data.load_domain_splits()["test"]), "the test split stays whole"
    assert len(set(a["train"]["label"])) == 3
    with pytest.raises(ValueError, match="one per label"):
        data.load_domain_splits(max_train=2)


def test_instructions_counts_and_heldout_separation():
    rec = data.load_instructions()
    assert list(rec.columns[:5]) == ["id", "task", "instruction", "input", "output"]
    assert set(rec["split"]) == set(data.INSTRUCTION_SPLITS)
    train, held = rec[rec["split"] == "train"], rec[rec["split"] == "heldout"]
    assert len(train) >= 200 and set(rec["task"]) == set(data.INSTRUCTION_TASKS)
    per_task = held["task"].value_counts()
    assert per_task["note_type"] >= 60 and min(per_task[t] for t in ("summary", "extraction")) >= 20
    for name, other in (("validation", rec[rec["split"] == "validation"]), ("heldout", held)):
        prompts = set(zip(train["instruction"], train["input"]))
        assert not any((i, x) in prompts for i, x in zip(other["instruction"], other["input"])), name
        train_inputs = {x for x in train["input"] if x}
        assert not any(x in train_inputs for x in other["input"] if x), name
    assert set(rec[rec["task"] == "note_type"]["output"]) == {"diagnosis", "treatment", "symptom"}
    assert (rec[rec["task"] == "definition"]["input"] == "").all()
    ext = rec[rec["task"] == "extraction"]
    assert all(o in x for o, x in zip(ext["output"], ext["input"]))


def test_instruction_dataset_dict():
    splits = data.load_instruction_splits()
    assert list(splits) == list(data.INSTRUCTION_SPLITS) and "split" not in splits["train"].column_names
    assert splits["validation"]["id"] == data.load_instructions("validation")["id"].tolist()


def test_validation_is_a_seeded_share_of_each_tasks_training_records():
    """15% of each task's non-held-out records (of each label's, for note types); the held-out
    note types hold the same number of each label."""
    rec = data.load_instructions()
    heldout_notes = rec[(rec["split"] == "heldout") & (rec["task"] == "note_type")]
    assert heldout_notes["output"].value_counts().nunique() == 1
    trainable = rec[rec["split"] != "heldout"]
    for task, part in trainable.groupby("task"):
        # note types: 15% of each label's records, so that every label has its validation prompts
        groups = part.groupby("output") if task == "note_type" else [(task, part)]
        for name, group in groups:
            assert (group["split"] == "validation").sum() == round(0.15 * len(group)), name
    with pytest.raises(ValueError, match="Unknown instruction split 'test'"):
        data.load_instructions("test")


def test_no_labelled_text_in_the_pretraining_prose(clean):
    prose = "\n".join(corpus.domain_prose()).lower()
    rec = data.load_instructions()
    # single words and short extracted answers ("diagnosis", "$41.2 million") are not texts
    labelled = [t for t in clean["text"].tolist() + rec["input"].tolist() + rec["output"].tolist()
                if len(t.split()) >= 8]
    assert [t for t in labelled if t.lower() in prose] == []
    # no shared run of 10 words either (a pasted clause inside a longer paragraph)
    def shingles(text, n=10):
        words = normalize_text(text).split()
        return {" ".join(words[i:i + n]) for i in range(len(words) - n + 1)}
    prose_shingles = set().union(*(shingles(p) for p in corpus.domain_prose()))
    assert [t for t in labelled if shingles(t) & prose_shingles] == []


def test_data_card_counts_match_the_data(clean):
    counts = clean["label"].value_counts()
    for label in data.LABELS:
        assert f"{label} {counts[label]}" in CARD
    assert f"`domain_raw.jsonl` has {len(data.load_raw_domain_frame())} rows" in CARD


def test_bundled_data_is_what_the_build_script_makes_from_the_sources(tmp_path):
    """The files in the package are reproducible from data_src/ (and the card is current)."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, str(root / "tools" / "build_data.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True)
    shipped = Path(data.__file__).parent / "data"
    for name in ("domain_raw.jsonl", "domain_clean.jsonl", "instructions.jsonl", "DATA_CARD.md"):
        assert (tmp_path / name).read_bytes() == (shipped / name).read_bytes(), name


def test_data_card_instruction_counts_match_the_data():
    rec = data.load_instructions()
    for task, part in rec.groupby("task"):
        counts = part["split"].value_counts()
        assert f"| {task} | " + " | ".join(str(counts.get(s, 0)) for s in data.INSTRUCTION_SPLITS) + " |" in CARD
    assert "`validation`: 15% of each task's" in CARD
