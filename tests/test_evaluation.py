import numpy as np
import pytest
from datasets import Dataset
from sklearn.metrics import accuracy_score, f1_score
from transformers import EvalPrediction

from course_utils.evaluation import (bootstrap_metric, calibration_bins, classification_metrics,
                                     compute_metrics, difference_interval, error_table,
                                     expected_calibration_error, plot_confusion, plot_reliability,
                                     prediction_frame, seeds_interval)

LABELS = ["medical", "finance", "legal"]


def test_metrics_equal_scikit_learn_on_random_cases():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n, k = rng.integers(1, 50), rng.integers(1, 5)
        t, p = rng.integers(0, k, n), rng.integers(0, k + 1, n)
        m = classification_metrics(t, p)
        assert m["accuracy"] == pytest.approx(accuracy_score(t, p))
        assert m["macro_f1"] == pytest.approx(f1_score(t, p, average="macro", zero_division=0))
        assert m["weighted_f1"] == pytest.approx(f1_score(t, p, average="weighted", zero_division=0))


def test_metrics_bad_input():
    with pytest.raises(ValueError, match="equally|has 2"):
        classification_metrics([0, 1], [0])
    with pytest.raises(ValueError, match="empty"):
        classification_metrics([], [])
    with pytest.raises(ValueError, match="Unknown metric"):
        bootstrap_metric([0, 1], [0, 1], "auc")


def test_compute_metrics_takes_logits():
    logits = np.array([[2.0, 0.1, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 1.0]])
    out = compute_metrics(EvalPrediction(predictions=logits, label_ids=np.array([0, 1, 1])))
    assert out["accuracy"] == pytest.approx(2 / 3)


def test_intervals():
    y = np.r_[np.zeros(50), np.ones(50), np.full(50, 2)].astype(int)
    good, bad = y.copy(), y.copy()
    bad[:60] = 2
    single = bootstrap_metric(y, good)
    assert single.estimate == 1.0 and single.low == 1.0
    over_seeds = seeds_interval(y, [good, bad])
    assert over_seeds.estimate == pytest.approx((1 + classification_metrics(y, bad)["macro_f1"]) / 2)
    diff = difference_interval(y, [good], [bad])
    assert diff.excludes(0) and diff.estimate > 0
    assert not difference_interval(y, [good], [good]).excludes(0)
    with pytest.raises(ValueError, match="one prediction array per seed"):
        seeds_interval(y, [good[:10]])


@pytest.fixture
def dataset():
    return Dataset.from_dict({"id": ["a", "b", "c", "d"], "text": ["t1", "t2", "t3", "t4"],
                              "label": [0, 1, 2, 0], "hard": [False, True, False, False]})


def test_prediction_frame_aligns_by_id(dataset):
    logits = np.array([[0, 0, 5.0], [5.0, 0, 0], [0, 5.0, 0], [0, 0, 5.0]])  # rows for c, a, b, d
    frame = prediction_frame(logits, dataset, LABELS, ids=["c", "a", "b", "d"])
    assert frame["id"].tolist() == ["c", "a", "b", "d"]
    assert frame["text"].tolist() == ["t3", "t1", "t2", "t4"]
    assert frame["correct"].tolist() == [True, True, True, False]
    assert frame.loc[3, "predicted"] == "legal" and frame.loc[3, "true"] == "medical"
    expected_loss = -np.log(np.exp(0) / (2 + np.exp(5)))
    assert frame.loc[3, "loss"] == pytest.approx(expected_loss)


def test_prediction_frame_bad_input(dataset):
    with pytest.raises(ValueError, match="shape"):
        prediction_frame(np.zeros((4, 2)), dataset, LABELS)
    with pytest.raises(ValueError, match="not in the dataset"):
        prediction_frame(np.zeros((4, 3)), dataset, LABELS, ids=["a", "b", "c", "zzz"])
    with pytest.raises(ValueError, match="'id'"):
        prediction_frame(np.zeros((1, 3)), Dataset.from_dict({"text": ["x"], "label": [0]}), LABELS)


def test_error_table_is_exactly_the_mistakes_most_confident_first(dataset):
    logits = np.array([[1.0, 0, 0], [3.0, 0, 0], [0, 0, 1.0], [0, 9.0, 0]])
    frame = prediction_frame(logits, dataset, LABELS)
    errors = error_table(frame)
    assert set(errors["id"]) == set(frame.loc[~frame["correct"], "id"]) == {"b", "d"}
    assert errors["id"].tolist() == ["d", "b"]


def test_calibration():
    conf, correct = [0.95, 0.95, 0.55, 0.55], [1, 1, 1, 0]
    bins = calibration_bins(conf, correct)
    assert bins["count"].sum() == 4
    assert expected_calibration_error(conf, correct) == pytest.approx((2 * 0.05 + 2 * 0.05) / 4)
    assert expected_calibration_error([0.7] * 10, [1] * 7 + [0] * 3) == pytest.approx(0.0)
    with pytest.raises(ValueError):
        calibration_bins([], [])


def test_plots():
    ax = plot_confusion(["medical", "legal"], ["medical", "medical"], LABELS, normalize=True)
    assert ax.get_title() == "row-normalised" and ax.get_xlabel() == "predicted"
    # rows: true medical, finance (no examples: zeros, not NaN), legal; each row sums to 1 or 0
    assert [t.get_text() for t in ax.texts] == ["1.00", "0.00", "0.00", "0.00", "0.00", "0.00",
                                                "1.00", "0.00", "0.00"]
    counts = plot_confusion(["medical", "legal", "legal"], ["medical", "medical", "legal"], LABELS)
    assert [t.get_text() for t in counts.texts] == ["1", "0", "0", "0", "0", "0", "1", "0", "1"]
    assert plot_reliability([0.2, 0.9], [0, 1]).get_xlabel() == "confidence"
