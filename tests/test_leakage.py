"""The leakage experiment: two arms of equal size that differ only in the planted copies, a
nearest-neighbour model that recalls every leaked text, and clear errors on bad input."""

import matplotlib
import numpy as np
import pandas as pd
import pytest

from course_utils import data
from course_utils.audit import normalize_text
from course_utils.leakage import (LeakageRun, leakage_experiment, nearest_neighbour, plant_leak,
                                  plot_accuracy, tfidf_logistic_regression)

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def parts():
    frame = data.load_domain_frame()
    return {s: frame[frame["split"] == s].reset_index(drop=True) for s in data.SPLITS}


@pytest.fixture(scope="module")
def nn_run(parts):
    return leakage_experiment(nearest_neighbour, parts["train"], parts["test"], parts["validation"],
                              fraction=0.3, seed=0)


def keys(frame):
    return frame["text"].map(normalize_text)


def test_the_arms_have_the_same_size_and_differ_only_in_the_extra_texts(parts):
    leak = plant_leak(parts["train"], parts["test"], parts["validation"], fraction=0.3, seed=1)
    n = int(leak.leaked.sum())
    assert n == round(0.3 * len(parts["test"])) and len(leak.leaked) == len(parts["test"])
    assert len(leak.leaky_train) == len(leak.clean_train) == len(parts["train"]) + n
    # both arms start with the whole training split, in order
    for arm in (leak.leaky_train, leak.clean_train):
        assert arm["id"].head(len(parts["train"])).tolist() == parts["train"]["id"].tolist()
    leaky_extra = leak.leaky_train.iloc[len(parts["train"]):]
    clean_extra = leak.clean_train.iloc[len(parts["train"]):]
    assert sorted(leaky_extra["id"]) == sorted(parts["test"]["id"][leak.leaked])
    assert set(clean_extra["id"]) <= set(parts["validation"]["id"]) and clean_extra["id"].is_unique
    assert not keys(leak.clean_train).isin(set(keys(parts["test"]))).any(), "the clean arm has no test text"


def test_the_same_seed_draws_the_same_leak_and_another_seed_another(parts):
    draw = lambda seed: plant_leak(parts["train"], parts["test"], parts["validation"], seed=seed)
    a, b, c = draw(3), draw(3), draw(4)
    assert (a.leaked == b.leaked).all() and a.clean_train.equals(b.clean_train)
    assert not (a.leaked == c.leaked).all()


def test_nearest_neighbour_recalls_every_leaked_text(nn_run):
    assert nn_run.n_leaked == 68
    assert nn_run.accuracy("with", on="leaked") == 1.0
    # so the gain on the leaked texts is exactly the clean model's error rate on them
    error_rate = 1 - nn_run.accuracy("without", "leaked")
    assert nn_run.inflation("leaked").estimate == pytest.approx(100 * error_rate)


def test_the_leak_measurably_inflates_the_leaked_texts_score(nn_run):
    ci = nn_run.inflation("leaked")
    assert ci.low > 0 and ci.excludes(0)


def test_the_whole_split_inflation_is_the_share_weighted_mix(nn_run):
    share = nn_run.n_leaked / len(nn_run.leaked)
    whole = share * nn_run.inflation("leaked").estimate + (1 - share) * nn_run.inflation("other").estimate
    assert nn_run.inflation("all").estimate == pytest.approx(whole)
    assert nn_run.accuracy("with") == pytest.approx(nn_run.correct_with.mean())


def test_summary_row_has_every_accuracy_and_interval(nn_run):
    row = nn_run.summary()
    for name in ("acc_leaked_with", "acc_leaked_without", "acc_other_with", "acc_other_without",
                 "inflation", "inflation_low", "inflation_high", "inflation_other",
                 "inflation_test", "inflation_test_low", "inflation_test_high"):
        assert isinstance(row[name], float), name
    assert row["inflation_low"] <= row["inflation"] <= row["inflation_high"]
    assert row["seed"] == 0 and row["leaked_texts"] == 68


def test_logistic_regression_runs_as_the_second_model(parts):
    run = leakage_experiment(tfidf_logistic_regression, parts["train"], parts["test"],
                             parts["validation"], fraction=0.3, seed=0)
    assert run.accuracy("with", "leaked") >= run.accuracy("without", "leaked")
    assert run.accuracy("without") > 0.8, "the baseline is a real classifier"


def test_plot_has_one_panel_per_model(nn_run):
    table = pd.DataFrame([{"model": "1-NN", **nn_run.summary()}, {"model": "LR", **nn_run.summary()}])
    fig = plot_accuracy(table)
    assert [ax.get_title() for ax in fig.axes] == ["1-NN", "LR"]


# ----------------------------------------------------------------------------- bad input

def small():
    train = pd.DataFrame({"text": ["a b", "c d"], "label": ["x", "y"]})
    test = pd.DataFrame({"text": ["e f", "g h", "i j", "k l"], "label": ["x", "y", "x", "y"]})
    spare = pd.DataFrame({"text": ["m n", "o p"], "label": ["x", "y"]})
    return train, test, spare


@pytest.mark.parametrize("fraction", [0, -0.2, 1.5, True, "0.3", None])
def test_bad_fraction(fraction):
    with pytest.raises(ValueError, match="fraction must be a share"):
        plant_leak(*small(), fraction=fraction)


def test_too_few_leaked_texts_for_an_interval():
    with pytest.raises(ValueError, match="at least 2 leaked texts"):
        plant_leak(*small(), fraction=0.25)


def test_too_few_spare_texts():
    with pytest.raises(ValueError, match="spare has 2: lower fraction"):
        plant_leak(*small(), fraction=0.75)


def test_an_existing_leak_is_refused():
    train, test, spare = small()
    train = pd.concat([train, pd.DataFrame({"text": ["E f!"], "label": ["x"]})])
    with pytest.raises(ValueError, match=r"1 test text\(s\) already have a copy in train: deduplicate"):
        plant_leak(train, test, spare, fraction=0.5)
    with pytest.raises(ValueError, match="copy in spare"):
        plant_leak(small()[0], test, pd.concat([spare, test.head(1)]), fraction=0.5)


def test_not_a_frame_and_missing_columns():
    train, test, spare = small()
    with pytest.raises(TypeError, match="test must be a pandas DataFrame"):
        plant_leak(train, test["text"].tolist(), spare)
    with pytest.raises(ValueError, match=r"no column\(s\) \['label'\].*text_col= and label_col="):
        plant_leak(train, test, spare.rename(columns={"label": "y"}))


def test_make_model_must_be_a_factory():
    with pytest.raises(TypeError, match="without calling it"):
        leakage_experiment(nearest_neighbour(), *small(), fraction=0.5)
    with pytest.raises(TypeError, match="no fit\\(\\) and predict\\(\\)"):
        leakage_experiment(lambda: "model", *small(), fraction=0.5)


def test_bad_arm_and_subset():
    run = LeakageRun(seed=0, leaked=np.array([True, False]), correct_with=np.array([True, True]),
                     correct_without=np.array([False, True]))
    with pytest.raises(ValueError, match="arm='leaky'"):
        run.accuracy("leaky")
    with pytest.raises(ValueError, match="on='test'"):
        run.inflation(on="test")


def test_plot_needs_the_summary_columns():
    with pytest.raises(ValueError, match="run.summary\\(\\) rows plus a 'model' column"):
        plot_accuracy(pd.DataFrame({"model": ["m"], "inflation": [1.0]}))
