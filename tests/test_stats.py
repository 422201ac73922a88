import numpy as np
import pytest

from course_utils.stats import Interval, bootstrap_ci


def test_interval_covers_the_estimate_and_is_reproducible():
    values = np.r_[np.ones(80), np.zeros(20)]
    a = bootstrap_ci(lambda i: values[i].mean(), len(values), seed=1)
    b = bootstrap_ci(lambda i: values[i].mean(), len(values), seed=1)
    assert a == b and a.low < 0.8 < a.high and a.estimate == 0.8
    # the normal approximation's half-width is 1.96 * sqrt(.8 * .2 / 100) = 0.078
    assert 0.06 < (a.high - a.low) / 2 < 0.10


def test_paired_difference_and_excludes():
    better = np.r_[np.ones(95), np.zeros(5)]
    worse = np.r_[np.ones(60), np.zeros(40)]
    diff = bootstrap_ci(lambda i: better[i].mean() - worse[i].mean(), 100)
    assert diff.excludes(0) and not Interval(0.01, -0.02, 0.04, 0.95).excludes(0)
    assert "CI" in str(diff)


@pytest.mark.parametrize("kwargs, message", [({"n_items": 1}, "at least 2"),
                                             ({"n_items": 10, "level": 1.5}, "level"),
                                             ({"n_items": 10, "n_boot": 10}, "n_boot")])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        bootstrap_ci(lambda i: 0.0, **kwargs)
