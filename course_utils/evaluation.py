"""Metrics that work offline, predictions aligned by id, errors, calibration and their plots.

The `evaluate` library's ``load("accuracy")`` fetches a script from the Hub, so the course computes its metrics
with scikit-learn:

>>> classification_metrics([0, 1, 2, 2], [0, 1, 1, 2])
{'accuracy': 0.75, 'macro_f1': 0.7777777777777777, 'weighted_f1': 0.75}
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import softmax

from course_utils.stats import Interval, bootstrap_ci

METRICS = ("accuracy", "macro_f1", "weighted_f1")


def _scores(y_true, y_pred) -> dict[str, float]:
    """Accuracy and F1 from the confusion counts, with NumPy: the same values as scikit-learn's
    ``accuracy_score`` and ``f1_score(..., zero_division=0)`` over the labels present in either
    array, fast enough to recompute on thousands of bootstrap resamples."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    labels, codes = np.unique(np.concatenate([y_true, y_pred]), return_inverse=True)
    t, p = codes[: len(y_true)], codes[len(y_true):]
    k = len(labels)
    counts = np.bincount(t * k + p, minlength=k * k).reshape(k, k)
    tp = np.diag(counts).astype(float)
    support = counts.sum(axis=1)
    denominator = support + counts.sum(axis=0)  # 2tp + fp + fn
    f1 = np.divide(2 * tp, denominator, out=np.zeros(k), where=denominator > 0)
    return {"accuracy": float(tp.sum() / len(y_true)),
            "macro_f1": float(f1.mean()),
            "weighted_f1": float((f1 * support).sum() / support.sum())}


def _metric(name: str, y_true, y_pred) -> float:
    if name not in METRICS:
        raise ValueError(f"Unknown metric {name!r}; choose one of {METRICS}.")
    return _scores(y_true, y_pred)[name]


def classification_metrics(y_true: Sequence, y_pred: Sequence) -> dict[str, float]:
    """Accuracy, macro-F1 (every class counts the same) and weighted-F1 (by class size)."""
    y_true, y_pred = list(y_true), list(y_pred)
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} labels but y_pred has {len(y_pred)}.")
    if not y_true:
        raise ValueError("No predictions to score: the evaluation set is empty.")
    return _scores(y_true, y_pred)


def compute_metrics(eval_pred) -> dict[str, float]:
    """For ``Trainer(compute_metrics=...)``: logits to class ids, then :func:`classification_metrics`."""
    logits, labels = eval_pred.predictions, eval_pred.label_ids
    if isinstance(logits, tuple):
        logits = logits[0]
    return classification_metrics(labels, np.asarray(logits).argmax(-1))


def bootstrap_metric(y_true: Sequence, y_pred: Sequence, metric: str = "macro_f1", *,
                     n_boot: int = 1000, seed: int = 0) -> Interval:
    """A metric on the test set with its 95 % bootstrap interval over the test examples."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    _metric(metric, y_true[:1], y_pred[:1])  # an unknown metric fails before resampling
    return bootstrap_ci(lambda i: _metric(metric, y_true[i], y_pred[i]), len(y_true),
                        n_boot=n_boot, seed=seed)


def seeds_interval(y_true: Sequence, predictions: Sequence[Sequence], metric: str = "macro_f1", *,
                   n_boot: int = 1000, seed: int = 0) -> Interval:
    """A metric averaged over several seeds' predictions of the same test set, with a bootstrap
    interval over test examples (each resample scores every seed on the same examples)."""
    y_true = np.asarray(y_true)
    runs = [np.asarray(p) for p in predictions]
    if not runs or any(len(p) != len(y_true) for p in runs):
        raise ValueError("Pass one prediction array per seed, each as long as y_true.")
    return bootstrap_ci(lambda i: float(np.mean([_metric(metric, y_true[i], p[i]) for p in runs])),
                        len(y_true), n_boot=n_boot, seed=seed)


def difference_interval(y_true: Sequence, predictions_a: Sequence[Sequence], predictions_b: Sequence[Sequence],
                        metric: str = "macro_f1", *, n_boot: int = 1000, seed: int = 0) -> Interval:
    """Method A minus method B (each averaged over its seeds), paired on the same test examples.
    If the interval includes 0, this test set does not separate the two methods."""
    y_true = np.asarray(y_true)
    a, b = [np.asarray(p) for p in predictions_a], [np.asarray(p) for p in predictions_b]

    def diff(i):
        return (np.mean([_metric(metric, y_true[i], p[i]) for p in a])
                - np.mean([_metric(metric, y_true[i], p[i]) for p in b]))

    return bootstrap_ci(diff, len(y_true), n_boot=n_boot, seed=seed)


def prediction_frame(logits, dataset, label_names: Sequence[str], *, ids: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per example: ``id, text, true, predicted, confidence, loss, correct`` (and ``hard``).

    ``logits`` are ``trainer.predict(dataset).predictions``, in the dataset's order; ``ids``,
    when given, are the ids the logits belong to, and the rows are matched to the dataset **by
    id**, so a shuffled or filtered prediction set cannot silently pair a prediction with the
    wrong text.
    """
    logits = np.asarray(logits[0] if isinstance(logits, tuple) else logits, dtype=float)
    frame = dataset.to_pandas() if hasattr(dataset, "to_pandas") else pd.DataFrame(dataset)
    for col in ("id", "text", "label"):
        if col not in frame.columns:
            raise ValueError(f"The dataset needs an {col!r} column; it has {list(frame.columns)}.")
    if logits.ndim != 2 or logits.shape[1] != len(label_names):
        raise ValueError(f"logits have shape {logits.shape}; expected (examples, {len(label_names)}).")
    order = list(frame["id"]) if ids is None else list(ids)
    if len(order) != len(logits):
        raise ValueError(f"{len(logits)} rows of logits for {len(order)} ids.")
    if set(order) - set(frame["id"]):
        raise ValueError("Some prediction ids are not in the dataset: predictions and data disagree.")
    probs = softmax(logits, axis=-1)
    rows = frame.set_index("id").loc[order].reset_index()
    true = rows["label"].to_numpy()
    pred = probs.argmax(-1)
    names = np.asarray(label_names)
    out = pd.DataFrame({
        "id": rows["id"], "text": rows["text"],
        "true": names[true], "predicted": names[pred],
        "confidence": probs.max(-1),
        "loss": -np.log(np.clip(probs[np.arange(len(true)), true], 1e-12, None)),
    })
    out["correct"] = out["true"] == out["predicted"]
    if "hard" in rows.columns:
        out["hard"] = rows["hard"].to_numpy()
    return out


def error_table(predictions: pd.DataFrame) -> pd.DataFrame:
    """The misclassified examples, most confident mistakes first."""
    wrong = predictions[~predictions["correct"]]
    return wrong.sort_values(["confidence", "id"], ascending=[False, True]).reset_index(drop=True)


def calibration_bins(confidence, correct, n_bins: int = 10) -> pd.DataFrame:
    """Per confidence bin: how many predictions, their mean confidence, their accuracy."""
    confidence, correct = np.asarray(confidence, dtype=float), np.asarray(correct, dtype=float)
    if len(confidence) == 0 or len(confidence) != len(correct):
        raise ValueError("confidence and correct must be equally long and not empty.")
    edges = np.linspace(0, 1, n_bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    rows = []
    for b in range(n_bins):
        mask = which == b
        rows.append({"low": edges[b], "high": edges[b + 1], "count": int(mask.sum()),
                     "confidence": confidence[mask].mean() if mask.any() else np.nan,
                     "accuracy": correct[mask].mean() if mask.any() else np.nan})
    return pd.DataFrame(rows)


def expected_calibration_error(confidence, correct, n_bins: int = 10) -> float:
    """Mean gap between confidence and accuracy, weighted by how many predictions fall in each bin.

    >>> expected_calibration_error([0.9, 0.9, 0.6, 0.6], [1, 1, 1, 0])  # gaps of 0.1 in both bins
    0.1
    """
    bins = calibration_bins(confidence, correct, n_bins)
    used = bins[bins["count"] > 0]
    return round(float((used["count"] * (used["confidence"] - used["accuracy"]).abs()).sum()
                       / used["count"].sum()), 12)


def plot_confusion(y_true, y_pred, labels: Sequence[str], *, normalize: bool = False, ax=None):
    """Confusion matrix heatmap (scikit-learn's ``ConfusionMatrixDisplay``); ``normalize=True``
    divides each row by its true-class count."""
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    ax = ax or plt.subplots(figsize=(4, 3.5))[1]
    ConfusionMatrixDisplay.from_predictions(
        y_true, y_pred, labels=list(labels), normalize="true" if normalize else None, ax=ax,
        cmap="Blues", colorbar=False, values_format=".2f" if normalize else "d")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("row-normalised" if normalize else "counts")
    return ax


def plot_reliability(confidence, correct, n_bins: int = 10, ax=None):
    """Reliability diagram: accuracy per confidence bin against the diagonal of perfect calibration."""
    import matplotlib.pyplot as plt

    bins = calibration_bins(confidence, correct, n_bins)
    ax = ax or plt.subplots(figsize=(4, 3.5))[1]
    centers = (bins["low"] + bins["high"]) / 2
    ax.bar(centers, bins["accuracy"].fillna(0), width=1 / n_bins, edgecolor="black",
           color="#4c72b0", label="accuracy in bin")
    ax.plot([0, 1], [0, 1], "--", color="#c44e52", label="perfect calibration")
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left")
    return ax


def fit_temperature(logits, labels: Sequence[int]) -> float:
    """Temperature scaling: the one number T that, dividing the logits, minimises the negative
    log-likelihood of ``labels`` (fit it on validation, never on test). T < 1 sharpens the
    probabilities (for an underconfident model), T > 1 softens them; the predictions do not change.

    >>> logits = [[1.0, 0.0, 0.0]] * 9 + [[0.0, 1.0, 0.0]]  # always right, yet only 58 % sure
    >>> fit_temperature(logits, [0] * 9 + [1]) < 0.1
    True
    """
    from scipy.optimize import minimize_scalar
    from scipy.special import log_softmax

    logits = np.asarray(logits, dtype=float)
    labels = np.asarray(labels)
    if logits.ndim != 2 or len(logits) != len(labels) or len(labels) == 0:
        raise ValueError(f"Pass logits of shape (texts, classes) and one label id per text; got logits "
                         f"{logits.shape} and {len(labels)} labels.")
    rows = np.arange(len(labels))

    def nll(log_t: float) -> float:
        return float(-log_softmax(logits / np.exp(log_t), axis=1)[rows, labels].mean())

    # Searched on log T, between T = 0.02 and 50: the scale on which a temperature acts.
    return float(np.exp(minimize_scalar(nll, bounds=(np.log(0.02), np.log(50.0)), method="bounded").x))
