"""Linear baselines with their regularisation chosen on the validation split, never on test.

TF-IDF + logistic regression is the bar every fine-tuned model has to clear, and a logistic
regression on frozen features is the "feature extraction" method. Both have one setting that
matters, the inverse regularisation strength ``C``; :func:`choose_c` picks it on validation.

>>> texts = ["pay the invoice", "the patient has a fever", "the court ruled", "refund the payment",
...          "fever and cough in the clinic", "the judge and the jury"]
>>> labels = [1, 0, 2, 1, 0, 2]
>>> choice = choose_c(tfidf_model, texts, labels, texts, labels, grid=(0.1, 10.0))
>>> choice.c, float(choice.table["val_macro_f1"].max())  # both fit their own training texts: a tie
(0.1, 1.0)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)


def tfidf_model(c: float = 1.0):
    """TF-IDF on words and word pairs (sublinear counts) feeding a logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2)),
                         LogisticRegression(C=c, max_iter=3000))


def probe_model(c: float = 1.0):
    """A logistic regression on fixed feature vectors (standardised: the features' scales vary)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=3000))


@dataclass
class CChoice:
    """The chosen ``C``, the model refitted with it on the training split, and the validation table."""

    c: float
    model: object
    table: pd.DataFrame


def choose_c(make_model: Callable[[float], object], train_x, train_y: Sequence, val_x, val_y: Sequence,
             grid: Sequence[float] = C_GRID) -> CChoice:
    """Fit ``make_model(C)`` on the training split for each ``C`` in ``grid``, score validation
    macro-F1, keep the best (ties: the stronger regularisation, the smaller ``C``)."""
    from course_utils.evaluation import classification_metrics

    if len(train_x) == 0 or len(val_x) == 0:
        raise ValueError("choose_c needs a non-empty training and validation split.")
    if len(train_x) != len(train_y) or len(val_x) != len(val_y):
        raise ValueError("Each split needs one label per text (or feature row).")
    if not grid or any(not c > 0 for c in grid):
        raise ValueError(f"grid must hold positive values of C, got {list(grid)!r}.")
    from threadpoolctl import threadpool_limits

    rows, models = [], {}
    # One BLAS thread: these fits are small, and BLAS threads competing with torch's for the same
    # cores made one fit 50x slower on a busy 2-core machine.
    with threadpool_limits(1):
        for c in sorted(grid):
            model = make_model(c).fit(train_x, list(train_y))
            models[c] = model
            rows.append({"C": c, "val_macro_f1": classification_metrics(val_y, model.predict(val_x))["macro_f1"]})
    table = pd.DataFrame(rows)
    best = float(table.loc[table["val_macro_f1"].idxmax(), "C"])  # idxmax takes the first: the smallest C
    return CChoice(best, models[best], table)
