"""Measure what a leak does to a test score: copy test texts into the training data on purpose.

Lesson 01 plants the leak by hand once; :func:`leakage_experiment` does the same for any model
and any seed. Two arms train on the same number of texts and differ only in whether the extra
texts are copies of test texts:

- the **leaky** arm trains on ``train`` plus copies of a random sample of ``test``;
- the **clean** arm trains on ``train`` plus as many random texts from ``spare`` (held-out texts
  no model is scored on).

>>> from course_utils import data
>>> frame = data.load_domain_frame()
>>> parts = {s: frame[frame["split"] == s] for s in ("train", "validation", "test")}
>>> run = leakage_experiment(nearest_neighbour, parts["train"], parts["test"],
...                          spare=parts["validation"], fraction=0.3, seed=0)
>>> run.n_leaked, run.accuracy("with", on="leaked")
(68, 1.0)
>>> run.inflation(on="leaked").excludes(0)
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from course_utils.audit import normalize_text
from course_utils.stats import Interval, bootstrap_ci

ARMS = ("with", "without")
SUBSETS = ("leaked", "other", "all")


def nearest_neighbour():
    """1-nearest-neighbour on TF-IDF vectors, cosine similarity: the label of the most similar
    training text. A test text that was copied into training finds its own copy.

    >>> model = nearest_neighbour().fit(["fever and cough", "shares fell"], ["medical", "finance"])
    >>> model.predict(["shares fell"]).tolist()
    ['finance']
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline

    return make_pipeline(TfidfVectorizer(sublinear_tf=True),
                         KNeighborsClassifier(n_neighbors=1, metric="cosine", algorithm="brute"))


def tfidf_logistic_regression():
    """TF-IDF features and a logistic regression (scikit-learn's default L2 penalty), the
    baseline of lesson 02.

    >>> model = tfidf_logistic_regression().fit(["fever and cough", "shares fell"], ["medical", "finance"])
    >>> model.predict(["the cough and fever"]).tolist()
    ['medical']
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(TfidfVectorizer(sublinear_tf=True), LogisticRegression(max_iter=2000))


@dataclass(frozen=True)
class PlantedLeak:
    """The two training sets of the experiment and which test rows leaked."""

    leaky_train: pd.DataFrame  # train + copies of the leaked test texts
    clean_train: pd.DataFrame  # train + as many spare texts
    leaked: np.ndarray  # one bool per test row (in the order given): copied into leaky_train?


def _check_frame(frame, name: str, text_col: str, label_col: str) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}: pass the rows "
                        f"of one split, for example frame[frame['split'] == '{name}'].")
    missing = [c for c in (text_col, label_col) if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} has no column(s) {missing} (its columns: {list(frame.columns)}): "
                         "pass text_col= and label_col= with the right names.")
    return frame.reset_index(drop=True)


def _shared(a: pd.Series, b: pd.Series) -> int:
    return int(a.map(normalize_text).isin(set(b.map(normalize_text))).sum())


def plant_leak(train: pd.DataFrame, test: pd.DataFrame, spare: pd.DataFrame, *,
               fraction: float = 0.3, seed: int = 0, text_col: str = "text",
               label_col: str = "label") -> PlantedLeak:
    """Copy a random ``fraction`` of ``test`` into ``train`` (the leaky arm); add as many random
    ``spare`` texts to ``train`` instead (the clean arm). The same ``seed`` draws the same texts.

    >>> train = pd.DataFrame({"text": ["a b", "c d"], "label": ["x", "y"]})
    >>> test = pd.DataFrame({"text": ["e f", "g h", "i j", "k l"], "label": ["x", "y", "x", "y"]})
    >>> spare = pd.DataFrame({"text": ["m n", "o p"], "label": ["x", "y"]})
    >>> leak = plant_leak(train, test, spare, fraction=0.5, seed=0)
    >>> len(leak.leaky_train), len(leak.clean_train), int(leak.leaked.sum())
    (4, 4, 2)
    """
    train = _check_frame(train, "train", text_col, label_col)
    test = _check_frame(test, "test", text_col, label_col)
    spare = _check_frame(spare, "spare", text_col, label_col)
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
        raise ValueError(f"fraction must be a share of the test split in (0, 1], got {fraction!r}.")
    n_leak = round(fraction * len(test))
    if n_leak < 2:
        raise ValueError(f"fraction={fraction} of {len(test)} test texts leaks {n_leak}: an interval "
                         "needs at least 2 leaked texts; raise fraction.")
    if n_leak > len(spare):
        raise ValueError(f"The clean arm needs {n_leak} spare texts to match the {n_leak} leaked ones, "
                         f"but spare has {len(spare)}: lower fraction or pass more spare texts.")
    for name, other in (("train", train), ("spare", spare)):
        shared = _shared(test[text_col], other[text_col])
        if shared:
            raise ValueError(f"{shared} test text(s) already have a copy in {name}: deduplicate the "
                             "whole dataset first (course_utils.cleaning), so that the planted leak "
                             "is the only one.")
    rng = np.random.default_rng(seed)
    leaked = np.zeros(len(test), dtype=bool)
    leaked[rng.choice(len(test), n_leak, replace=False)] = True
    extra = spare.iloc[rng.choice(len(spare), n_leak, replace=False)]
    return PlantedLeak(leaky_train=pd.concat([train, test[leaked]], ignore_index=True),
                       clean_train=pd.concat([train, extra], ignore_index=True), leaked=leaked)


@dataclass(frozen=True)
class LeakageRun:
    """Which test texts each arm's model got right, and which test texts leaked."""

    seed: int
    leaked: np.ndarray
    correct_with: np.ndarray  # model trained on the leaky arm
    correct_without: np.ndarray  # model trained on the clean arm

    @property
    def n_leaked(self) -> int:
        return int(self.leaked.sum())

    def _rows(self, on: str) -> np.ndarray:
        if on not in SUBSETS:
            raise ValueError(f"on={on!r}: choose 'leaked' (the copied test texts), 'other' (the rest) "
                             "or 'all' (the whole test split).")
        return {"leaked": self.leaked, "other": ~self.leaked,
                "all": np.ones_like(self.leaked)}[on]

    def accuracy(self, arm: str, on: str = "all") -> float:
        """Accuracy of the model trained ``"with"`` or ``"without"`` the leak, on some test texts."""
        if arm not in ARMS:
            raise ValueError(f"arm={arm!r}: choose 'with' (trained with the leak) or 'without'.")
        correct = self.correct_with if arm == "with" else self.correct_without
        return float(correct[self._rows(on)].mean())

    def inflation(self, on: str = "leaked", *, n_boot: int = 2000, seed: int = 0) -> Interval:
        """Accuracy with the leak minus without, in points, with a paired bootstrap 95 % interval
        over the chosen test texts (both models scored on each resample's same texts)."""
        rows = self._rows(on)
        gain = self.correct_with[rows].astype(float) - self.correct_without[rows].astype(float)
        return bootstrap_ci(lambda i: gain[i].mean() * 100, len(gain), n_boot=n_boot, seed=seed)

    def summary(self) -> dict:
        """The run as one table row: accuracies per arm and subset, and the inflation with its
        interval on the leaked texts, on the other texts and on the whole test split."""
        row = {"seed": self.seed, "leaked_texts": self.n_leaked}
        for on in ("leaked", "other"):
            for arm in ARMS:
                row[f"acc_{on}_{arm}"] = self.accuracy(arm, on)
        for on, prefix in (("leaked", "inflation"), ("other", "inflation_other"),
                           ("all", "inflation_test")):
            ci = self.inflation(on)
            row.update({prefix: ci.estimate, f"{prefix}_low": ci.low, f"{prefix}_high": ci.high})
        return row


def leakage_experiment(make_model: Callable, train: pd.DataFrame, test: pd.DataFrame,
                       spare: pd.DataFrame, *, fraction: float = 0.3, seed: int = 0,
                       text_col: str = "text", label_col: str = "label") -> LeakageRun:
    """Plant a leak (:func:`plant_leak`), train a fresh ``make_model()`` on each arm, score both
    on the whole of ``test``. ``make_model`` returns an unfitted scikit-learn-style model (with
    ``fit(texts, labels)`` and ``predict(texts)``), such as :func:`nearest_neighbour`."""
    if not callable(make_model):
        raise TypeError(f"make_model must be a function that returns a new model (such as "
                        f"nearest_neighbour, without calling it), got {type(make_model).__name__}.")
    from threadpoolctl import threadpool_limits  # a dependency of scikit-learn

    leak = plant_leak(train, test, spare, fraction=fraction, seed=seed, text_col=text_col,
                      label_col=label_col)
    test = test.reset_index(drop=True)
    truth = test[label_col].to_numpy()
    correct = {}
    # One BLAS thread: on a busy 2-core machine, threads fighting other processes made one
    # logistic-regression fit on these few hundred texts 50x slower (2.6 s instead of 0.05 s).
    with threadpool_limits(1):
        for arm, rows in (("with", leak.leaky_train), ("without", leak.clean_train)):
            model = make_model()
            if not (hasattr(model, "fit") and hasattr(model, "predict")):
                raise TypeError(f"make_model() returned a {type(model).__name__}, which has no fit() "
                                "and predict(): return a scikit-learn-style model.")
            model.fit(rows[text_col].tolist(), rows[label_col].tolist())
            correct[arm] = np.asarray(model.predict(test[text_col].tolist())) == truth
    return LeakageRun(seed=seed, leaked=leak.leaked, correct_with=correct["with"],
                      correct_without=correct["without"])


def plot_accuracy(table: pd.DataFrame):
    """Bars: mean accuracy on the leaked and on the other test texts, trained with and without
    the leak, one panel per model; dots: each seed. ``table`` holds :meth:`LeakageRun.summary`
    rows and a ``model`` column.

    >>> import matplotlib; matplotlib.use("Agg")
    >>> rows = [dict(model="m", acc_leaked_with=1.0, acc_leaked_without=0.8,
    ...              acc_other_with=0.85, acc_other_without=0.86)]
    >>> plot_accuracy(pd.DataFrame(rows)).axes[0].get_title()
    'm'
    """
    import matplotlib.pyplot as plt

    needed = {"model"} | {f"acc_{on}_{arm}" for on in ("leaked", "other") for arm in ARMS}
    if not isinstance(table, pd.DataFrame) or not needed <= set(table.columns):
        raise ValueError(f"plot_accuracy needs a DataFrame with the columns {sorted(needed)}: build it "
                         "from run.summary() rows plus a 'model' column.")
    models = list(dict.fromkeys(table["model"]))
    fig, axes = plt.subplots(1, len(models), figsize=(4.5 * len(models), 3.5), sharey=True, squeeze=False)
    colours = {"with": "#c44e52", "without": "#4c72b0"}
    for ax, model in zip(axes[0], models):
        rows = table[table["model"] == model]
        for j, on in enumerate(("leaked", "other")):
            for k, arm in enumerate(ARMS):
                x = j + (k - 0.5) * 0.38
                values = rows[f"acc_{on}_{arm}"]
                bars = ax.bar(x, values.mean(), width=0.36, color=colours[arm],
                              label=f"trained {arm} the leak" if j == 0 else None)
                ax.bar_label(bars, fmt="%.2f", padding=6)
                ax.plot([x] * len(values), values, "o", color="black", markersize=3)
        ax.set_xticks([0, 1], ["leaked test texts", "other test texts"])
        ax.set_title(model)
        ax.set_ylim(0, 1.3)  # bars start at zero; the headroom holds the labels and the legend
        ax.set_yticks(np.linspace(0, 1, 6))
    axes[0][0].set_ylabel("accuracy (bars: mean; dots: seeds)")
    axes[0][0].legend(loc="upper center", ncol=2, fontsize="small")
    fig.tight_layout()
    return fig
