"""The audit finds each planted fault with the count the data card gives; bad input is explained."""

import re
from pathlib import Path

import pandas as pd
import pytest

from course_utils import data, models
from course_utils.audit import AuditReport, audit_dataset, normalize_text

CARD = (Path(data.__file__).parent / "data" / "DATA_CARD.md").read_text()


def card_count(field: str) -> int:
    return int(re.search(rf"`{field}`[^=]*= (\d+)", CARD).group(1))


@pytest.fixture(scope="module")
def raw_report():
    return audit_dataset(data.load_raw_domain_frame(), splits="split", max_length=512)


@pytest.mark.parametrize("field", ["n_exact_duplicates", "n_near_duplicates", "n_leaked",
                                   "n_missing_text", "n_empty", "n_missing_label", "n_over_max_length"])
def test_each_planted_fault_is_found_with_the_card_count(raw_report, field):
    assert getattr(raw_report, field) == card_count(field) > 0


def test_raw_imbalance_is_worse_than_clean(raw_report):
    clean = audit_dataset(data.load_domain_frame())
    assert raw_report.imbalance_ratio > clean.imbalance_ratio
    assert raw_report.n_missing == raw_report.n_missing_text + raw_report.n_missing_label


def test_every_fault_gets_a_warning_with_an_action(raw_report):
    problems = " ".join(w.problem for w in raw_report.warnings)
    for word in ("missing texts", "empty", "missing labels", "exact", "near", "across splits",
                 "imbalance", "longer than"):
        assert word in problems
    assert all(w.action and (w.count is None or w.count > 0) for w in raw_report.warnings)


def test_clean_data_audits_clean():
    report = audit_dataset(data.load_domain_frame(), splits="split")
    assert report.n_exact_duplicates == report.n_near_duplicates == report.n_leaked == 0
    assert [w.problem for w in report.warnings if "imbalance" not in w.problem] == []


def test_token_lengths_with_a_tokenizer():
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(models.TINY_ENCODER)
    df = pd.DataFrame({"text": ["short one", "word " * 600], "label": ["a", "b"]})
    report = audit_dataset(df, tokenizer=tok, max_length=100)
    assert report.length_unit == "tokens" and report.n_over_max_length == 1
    assert report.lengths[0] == len(tok("short one")["input_ids"])


def test_splits_as_a_dict_of_frames():
    train = pd.DataFrame({"text": ["A b c.", "d e f"], "label": ["x", "y"]})
    test = pd.DataFrame({"text": ["a B c", "g h i"], "label": ["x", "y"]})
    report = audit_dataset(train, splits={"train": train, "test": test})
    assert report.n_leaked == 1 and report.split_counts == {"train": 2, "test": 2}


def test_renders_as_text_and_html_and_plots(raw_report):
    text = str(raw_report)
    assert "exact duplicates" in text and "WARNING" in text
    assert "<table" in raw_report._repr_html_()
    fig = raw_report.plot()
    assert len(fig.axes) == 2 and fig.axes[1].get_legend() is not None


@pytest.mark.parametrize(
    "frame, kwargs, error, message",
    [
        ([{"text": "a", "label": "b"}], {}, TypeError, "DataFrame"),
        (pd.DataFrame({"body": ["a"], "label": ["b"]}), {}, ValueError, "text_col"),
        (pd.DataFrame({"text": [], "label": []}), {}, ValueError, "no rows"),
        (pd.DataFrame({"text": ["fine", 42], "label": ["a", "b"]}), {}, TypeError, "astype"),
        (pd.DataFrame({"text": ["fine"], "label": ["a"]}), {"max_length": 0}, ValueError, "max_length"),
        (pd.DataFrame({"text": ["fine"], "label": ["a"]}), {"splits": "fold"}, ValueError, "column"),
    ],
)
def test_bad_input(frame, kwargs, error, message):
    with pytest.raises(error, match=message):
        audit_dataset(frame, **kwargs)


def test_normalize_text_only_ignores_case_spacing_punctuation():
    assert normalize_text("Fever, cough!") == normalize_text("fever  cough")
    assert normalize_text("fever cough") != normalize_text("fever coughs")
    assert isinstance(audit_dataset(pd.DataFrame({"text": ["a"], "label": ["b"]})), AuditReport)
