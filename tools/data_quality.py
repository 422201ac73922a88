"""Measure the quality of the bundled data (the numbers in DATA_CARD.md).

    python tools/data_quality.py

prints: duplicates left in the clean data, the highest TF-IDF cosine between two texts, the
TF-IDF + logistic regression baseline on the test split, the blind relabelling agreement
(data_src/relabel/), and the closest pair between labelled texts and the pretraining prose.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_utils import corpus, data  # noqa: E402
from course_utils.audit import audit_dataset  # noqa: E402

RELABEL = ROOT / "data_src" / "relabel"


def max_pairwise_cosine(texts: list[str]) -> float:
    from sklearn.feature_extraction.text import TfidfVectorizer

    matrix = TfidfVectorizer(sublinear_tf=True).fit_transform(texts)
    sims = (matrix @ matrix.T).toarray()
    np.fill_diagonal(sims, 0.0)
    return float(sims.max())


def max_cross_cosine(left: list[str], right: list[str]) -> float:
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(sublinear_tf=True).fit(left + right)
    return float((vec.transform(left) @ vec.transform(right).T).max())


def tfidf_baseline(clean: pd.DataFrame) -> dict:
    """TF-IDF + logistic regression, trained on train, scored on test (macro-F1)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.pipeline import make_pipeline

    train, test = clean[clean["split"] == "train"], clean[clean["split"] == "test"]
    model = make_pipeline(TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2)),
                          LogisticRegression(max_iter=2000, C=10.0))
    model.fit(train["text"], train["label"])
    pred = model.predict(test["text"])
    hard = test["hard"].to_numpy()
    return {"tfidf_f1": float(f1_score(test["label"], pred, average="macro")),
            "tfidf_acc": float(accuracy_score(test["label"], pred)),
            "tfidf_hard_acc": float(np.mean(pred[hard] == test["label"].to_numpy()[hard]))}


def relabel_agreement(clean: pd.DataFrame) -> dict | None:
    answers = RELABEL / "answers.jsonl"
    if not answers.exists():
        return None
    given = pd.read_json(answers, lines=True, dtype=False).merge(clean[["id", "label"]], on="id")
    agree = int((given["answer"] == given["label"]).sum())
    return {"n": len(given), "agree": agree, "agreement": agree / len(given),
            "disagreements": given[given["answer"] != given["label"]]["id"].tolist()}


def measure_quality(clean: pd.DataFrame, instructions: pd.DataFrame) -> dict:
    audit = audit_dataset(clean)
    labelled = clean["text"].tolist() + instructions["input"].tolist() + instructions["output"].tolist()
    labelled = [t for t in labelled if t.strip()]
    notes = RELABEL / "NOTES.md"
    return {
        "clean_exact": audit.n_exact_duplicates,
        "clean_near": audit.n_near_duplicates,
        "max_cosine": max_pairwise_cosine(clean["text"].tolist()),
        **tfidf_baseline(clean),
        "relabel": relabel_agreement(clean),
        "relabel_note": notes.read_text(encoding="utf-8").strip() if notes.exists() else "",
        "max_prose_cosine": max_cross_cosine(labelled, corpus.domain_prose()),
    }


if __name__ == "__main__":
    result = measure_quality(data.load_domain_frame(), data.load_instructions())
    print(json.dumps({k: v for k, v in result.items() if k != "relabel_note"}, indent=2))
