"""Comparing settings of lesson 04 by what they forgot at the same amount of learning, over seeds.

Forgetting is never reported without what was learned: :func:`compare_settings` reads each
setting's forgetting against a reference run's at the same learning, paired by seed, and
:func:`verdict` says "learned too little" before it says "forgets less". The measures themselves
(perplexity, masked-LM loss) and the remedies live in :mod:`course_utils.forgetting`.

>>> round(forgetting_at([(0.0, 0.0), (2.0, 4.0)], learned=1.0), 2)
2.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from course_utils.stats import Interval

def t_interval(values: Sequence[float], *, level: float = 0.95) -> Interval:
    """The mean of a few per-seed values with its Student-t interval (``n - 1`` degrees of freedom).

    For a comparison paired by seed, pass the per-seed differences. With 3 to 5 seeds a
    bootstrap over seeds has too few distinct resamples to be trusted; the t-interval assumes the
    seed-to-seed spread is roughly normal instead.

    >>> ci = t_interval([1.0, 2.0, 3.0])
    >>> round(ci.estimate, 2), round(ci.low, 2), round(ci.high, 2)
    (2.0, -0.48, 4.48)
    """
    from scipy.stats import t

    array = np.asarray(list(values), dtype=float)
    if array.ndim != 1 or len(array) < 2:
        raise ValueError(f"A t-interval needs at least 2 values (seeds), got {len(array)}.")
    if not np.isfinite(array).all():
        raise ValueError("The values contain NaN or infinity: every seed needs a measurement.")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}.")
    mean = float(array.mean())
    half = float(t.ppf((1 + level) / 2, len(array) - 1) * array.std(ddof=1) / math.sqrt(len(array)))
    return Interval(mean, mean - half, mean + half, level)


def forgetting_at(curve: Sequence[tuple[float, float]], learned: float) -> float:
    """The forgetting of a run at the moment it had learned ``learned``, read off its curve.

    ``curve`` holds ``(learned, forgotten)`` points in training order, starting at ``(0, 0)``
    before the first step. The first segment that reaches ``learned`` is interpolated linearly.
    A level the run never reached is compared with its end (its last point): a setting that
    learned more than the run ever did is held to the run's final forgetting.

    >>> forgetting_at([(0, 0), (10, 2), (20, 8)], 15)
    5.0
    >>> forgetting_at([(0, 0), (10, 2), (20, 8)], 25)
    8.0
    """
    points = [(float(a), float(b)) for a, b in curve]
    if len(points) < 2:
        raise ValueError("A curve needs at least 2 points (before training and after some steps).")
    if not all(math.isfinite(v) for point in points for v in point) or not math.isfinite(learned):
        raise ValueError("The curve and the level must be finite numbers.")
    if learned <= points[0][0]:
        return points[0][1]
    for (l0, f0), (l1, f1) in zip(points, points[1:]):
        if l0 < learned <= l1:
            return f0 + (f1 - f0) * (learned - l0) / (l1 - l0)
    return points[-1][1]


# What a setting did against the reference run, at the stated amount of learning.
LEARNED_TOO_LITTLE = "learned too little to count as a remedy"
FORGETS_LESS = "forgets less at matched learning"
FORGETS_MORE = "forgets more at matched learning"
NO_CLEAR_DIFFERENCE = "no clear difference at matched learning"


def verdict(learning_kept: float, matched: Interval, learning_floor: float) -> str:
    """A setting's verdict: did it keep at least ``learning_floor`` of the reference run's learning,
    and where does the interval of its forgetting minus the reference's (at matched learning) lie?

    >>> from course_utils.stats import Interval
    >>> verdict(0.95, Interval(-3.0, -5.0, -1.0, 0.95), 0.8)
    'forgets less at matched learning'
    >>> verdict(0.4, Interval(-3.0, -5.0, -1.0, 0.95), 0.8)
    'learned too little to count as a remedy'
    """
    if not 0 < learning_floor <= 1:
        raise ValueError(f"learning_floor is a share of the reference's learning in (0, 1], got {learning_floor}.")
    if learning_kept < learning_floor:
        return LEARNED_TOO_LITTLE
    if matched.high < 0:
        return FORGETS_LESS
    if matched.low > 0:
        return FORGETS_MORE
    return NO_CLEAR_DIFFERENCE


def compare_settings(runs, curves, *, reference: str, learning_floor: float, level: float = 0.95):
    """One row per setting: what it learned and forgot (means over seeds with t-intervals), and
    its forgetting minus the ``reference`` run's, paired by seed, both raw and at matched learning.

    ``runs`` has one row per (``setting``, ``seed``) with ``learned`` and ``forgotten``; ``curves``
    one row per (``seed``, ``step``) of the reference run with ``learned`` and ``forgotten``
    measured along training (step 0 before it). "At matched learning" reads the reference
    run's forgetting off its own curve (same seed) at the amount this setting learned
    (:func:`forgetting_at`). A setting that kept less than ``learning_floor`` of the reference's
    learning is labelled so and never called a remedy (:func:`verdict`).
    """
    import pandas as pd

    for frame, columns, name in ((runs, ("setting", "seed", "learned", "forgotten"), "runs"),
                                 (curves, ("seed", "step", "learned", "forgotten"), "curves")):
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} lacks the columns {missing}; it has {list(frame.columns)}.")
    if reference not in set(runs["setting"]):
        raise ValueError(f"The reference setting {reference!r} is not among the runs: {sorted(set(runs['setting']))}.")
    ref = runs[runs["setting"] == reference].set_index("seed")
    ref_curves = {seed: list(zip(part.sort_values("step")["learned"], part.sort_values("step")["forgotten"]))
                  for seed, part in curves.groupby("seed")}
    rows = []
    for setting, part in runs.groupby("setting", sort=False):
        part = part.set_index("seed")
        if set(part.index) != set(ref.index) or set(part.index) - set(ref_curves):
            raise ValueError(f"{setting!r} ran seeds {sorted(part.index)}, the reference {sorted(ref.index)} "
                             f"(curves for {sorted(ref_curves)}): a paired comparison needs the same seeds.")
        seeds = sorted(part.index)
        learned, forgotten = t_interval(part.loc[seeds, "learned"], level=level), \
            t_interval(part.loc[seeds, "forgotten"], level=level)
        raw = part.loc[seeds, "forgotten"].to_numpy() - ref.loc[seeds, "forgotten"].to_numpy()
        matched = np.array([part.loc[s, "forgotten"] - forgetting_at(ref_curves[s], part.loc[s, "learned"])
                            for s in seeds])
        kept = learned.estimate / ref["learned"].mean()
        row = {"setting": setting, "seeds": len(seeds),
               "learned": learned.estimate, "learned_low": learned.low, "learned_high": learned.high,
               "forgotten": forgotten.estimate, "forgotten_low": forgotten.low, "forgotten_high": forgotten.high,
               "learning_kept": kept}
        if setting != reference:
            raw_ci, matched_ci = t_interval(raw, level=level), t_interval(matched, level=level)
            row.update({"vs_reference": raw_ci.estimate, "vs_reference_low": raw_ci.low,
                        "vs_reference_high": raw_ci.high, "matched": matched_ci.estimate,
                        "matched_low": matched_ci.low, "matched_high": matched_ci.high,
                        "verdict": verdict(kept, matched_ci, learning_floor)})
        else:  # the reference against itself: no difference, exactly
            row.update({key: 0.0 for key in ("vs_reference", "vs_reference_low", "vs_reference_high", "matched",
                                             "matched_low", "matched_high")})
            row["verdict"] = "the reference"
        rows.append(row)
    return pd.DataFrame(rows)


def paired_by_seed(runs, a: str, b: str, column: str = "forgotten", *, level: float = 0.95) -> Interval:
    """Setting ``a`` minus setting ``b`` on ``column``, paired by seed, with a t-interval over seeds.

    >>> import pandas as pd
    >>> runs = pd.DataFrame({"setting": ["x"] * 3 + ["y"] * 3, "seed": [0, 1, 2] * 2,
    ...                      "forgotten": [5.0, 6.0, 7.0, 1.0, 1.5, 2.5]})
    >>> round(paired_by_seed(runs, "x", "y").estimate, 2)
    4.33
    """
    for name in (a, b):
        if name not in set(runs["setting"]):
            raise ValueError(f"No runs of {name!r}; the settings are {sorted(set(runs['setting']))}.")
    first = runs[runs["setting"] == a].set_index("seed")[column]
    second = runs[runs["setting"] == b].set_index("seed")[column]
    if set(first.index) != set(second.index):
        raise ValueError(f"{a!r} ran seeds {sorted(first.index)} and {b!r} {sorted(second.index)}: "
                         "a paired comparison needs the same seeds.")
    seeds = sorted(first.index)
    return t_interval(first.loc[seeds].to_numpy() - second.loc[seeds].to_numpy(), level=level)


def _ci(interval: Interval, fmt: str = "+.2f") -> str:
    return f"{interval.estimate:{fmt}} ({interval.level:.0%} t-interval {interval.low:{fmt}} to {interval.high:{fmt}})"


def _direction(interval: Interval, above: str, below: str, neither: str) -> str:
    return above if interval.low > 0 else below if interval.high < 0 else neither


def recommendations(table, *, reference: str, primary: tuple[str, Interval], hypothesis: tuple[str, str, Interval],
                    learning_floor: float, seeds: int) -> list[str]:
    """The lesson's advice, written from the measured table (:func:`compare_settings`); intervals
    are t-intervals over ``seeds`` seeds, paired by seed.

    ``primary`` is ``(other setting, interval of reference minus other)`` on forgetting: the one
    comparison the lesson names in advance. ``hypothesis`` is ``(first, last, interval of first
    minus last)`` for "early layers hold general knowledge". Every other row is described with its
    interval at matched learning, as a secondary comparison; a row that kept less than
    ``learning_floor`` of the reference's learning is never called a remedy.
    """
    rows = table.set_index("setting")
    other, gap = primary
    low = rows.loc[other]
    low_matched = Interval(low["matched"], low["matched_low"], low["matched_high"], gap.level)
    lines = [
        f"**{reference} vs {other}** (the primary comparison): general perplexity rose {_ci(gap, '.2f')} more at the "
        f"{reference} (over {seeds} seeds, paired by seed); "
        + _direction(gap, f"the {other} forgets less.", f"the {other} forgets more.", "the two cannot be told apart.")
        + f" But the {other} kept {low['learning_kept']:.0%} of the learning"
        + (f", so it {low['verdict']}" if low["verdict"] == LEARNED_TOO_LITTLE else f" ({low['verdict']})")
        + f"; against the {reference} run at the same learning, its forgetting differed by {_ci(low_matched)}."
    ]
    first, last, diff = hypothesis
    lines.append(
        f"**{first} vs {last}** (testing \"early layers hold general knowledge\"): first minus last "
        f"{_ci(diff)} general perplexity; "
        + _direction(diff, "here the hypothesis is contradicted: freezing the first layers protected less.",
                     "here the hypothesis is supported: freezing the first layers protected more.",
                     "here the two cannot be told apart, so the hypothesis is neither supported nor refuted.")
    )
    for setting, row in rows.drop(index=[reference, other]).sort_values("matched").iterrows():
        matched = Interval(row["matched"], row["matched_low"], row["matched_high"], gap.level)
        if row["verdict"] == LEARNED_TOO_LITTLE:
            lines.append(f"**{setting}** kept only {row['learning_kept']:.0%} of the learning (below the stated "
                         f"{learning_floor:.0%}): not a remedy at this amount of learning, whatever it forgot.")
            continue
        lines.append(f"**{setting}**: {row['verdict']} (forgetting minus the {reference} run's at the same "
                     f"learning {_ci(matched)}; {row['learning_kept']:.0%} of the learning kept). A secondary "
                     "comparison: a lead to confirm, not a finding.")
    return lines


def learn_forget_conclusion(method: str, reference: str, learned: Interval, forgot: Interval) -> str:
    """One sentence on ``method`` against ``reference`` from two intervals of method minus reference,
    paired by seed: what it learned (``learned``, e.g. exact match) and forgot (``forgot``, e.g. the
    rise in general perplexity). A side whose interval includes zero is "about as much".

    >>> from course_utils.stats import Interval
    >>> learn_forget_conclusion("LoRA", "full fine-tuning", Interval(-0.1, -0.2, -0.05, 0.95),
    ...                         Interval(-50.0, -80.0, -20.0, 0.95))
    'LoRA learns less and forgets less than full fine-tuning'
    >>> learn_forget_conclusion("LoRA", "full fine-tuning", Interval(-0.1, -0.3, 0.1, 0.95),
    ...                         Interval(30.0, 10.0, 50.0, 0.95))
    'LoRA learns about as much (the interval includes zero) and forgets more than full fine-tuning'
    """
    learns = _direction(learned, "learns more", "learns less", "learns about as much (the interval includes zero)")
    forgets = _direction(forgot, "forgets more", "forgets less", "forgets about as much (the interval includes zero)")
    return f"{method} {learns} and {forgets} than {reference}"
