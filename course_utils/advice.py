"""What to do next, derived from a classifier's errors: one rule per measured property.

Each rule reads one piece of evidence (an interval, counts, a test) and returns an
:class:`Advice`: what the evidence shows (``finding``) and what to do about it (``action``),
which is ``None`` when the evidence does not support doing anything. The evidence comes from
the small measuring functions here; the rules are pure functions of plain values (what a
lesson records), so a test can recompute every recommendation from the recorded evidence.

>>> evidence = {"acc_hard": 0.70, "acc_other": 0.90, "diff": -0.20, "low": -0.35, "high": -0.05}
>>> print(hard_case_advice(evidence).action)
Add labelled cross-domain examples (texts of one domain written in the words of another) to the training data.
>>> print(hard_case_advice({**evidence, "high": 0.08}).action)  # the interval includes zero: no action
None
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from course_utils.stats import Interval, bootstrap_ci

LEVEL = 0.95


@dataclass(frozen=True)
class Advice:
    """One rule's output: the finding always, an action only when the evidence supports one."""

    rule: str
    finding: str
    action: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    def markdown(self) -> str:
        """One bullet: the action in bold first when there is one, then the finding it rests on.

        >>> Advice("x", "Nothing stands out.").markdown()
        '- *No action.* Nothing stands out.'
        """
        return f"- **{self.action}** {self.finding}" if self.action else f"- *No action.* {self.finding}"


def _ci(interval: Mapping) -> str:
    return f"{interval['diff']:.3f} ({LEVEL:.0%} CI {interval['low']:.3f} to {interval['high']:.3f})"


def _interval_dict(interval: Interval, **extra) -> dict:
    return {**extra, "diff": interval.estimate, "low": interval.low, "high": interval.high}


def _aligned(*arrays, names: Sequence[str]):
    arrays = [np.asarray(a) for a in arrays]
    if len({len(a) for a in arrays}) != 1:
        lengths = ", ".join(f"{n} {len(a)}" for n, a in zip(names, arrays))
        raise ValueError(f"These must be equally long (one entry per test text): {lengths}.")
    if len(arrays[0]) < 2:
        raise ValueError("Need at least 2 test texts to measure anything.")
    return arrays


# ------------------------------------------------------------------------------------ classes


def class_scores(true: Sequence[str], predicted: Sequence[str], labels: Sequence[str], *,
                 n_boot: int = 2000, seed: int = 0) -> dict[str, dict]:
    """Per class: support, recall and precision with bootstrap intervals, and the **recall gap**:
    the class's recall minus the accuracy on the other classes' texts, with its interval (each
    resample of the test texts computes both sides, so the gap keeps them together).

    >>> s = class_scores(["a"] * 40 + ["b"] * 40, ["a"] * 40 + ["b"] * 20 + ["a"] * 20, ["a", "b"])
    >>> s["b"]["recall"], s["b"]["gap_high"] < 0, s["a"]["precision"] < 1
    (0.5, True, True)
    """
    true, predicted = _aligned(true, predicted, names=("true", "predicted"))
    unknown = set(true) - set(labels)
    if unknown:
        raise ValueError(f"True labels {sorted(unknown)} are not in labels {list(labels)}.")
    correct = true == predicted
    scores = {}
    for label in labels:
        is_label, called = true == label, predicted == label
        if not is_label.any():
            raise ValueError(f"No test text is labelled {label!r}: its recall is undefined.")
        hit = is_label & called

        def recall(i, is_label=is_label, hit=hit):
            n = is_label[i].sum()
            return hit[i].sum() / n if n else np.nan

        def precision(i, called=called, hit=hit):
            n = called[i].sum()
            return hit[i].sum() / n if n else np.nan

        def gap(i, is_label=is_label):
            own, right = is_label[i], correct[i]
            if own.all() or not own.any():
                return np.nan
            return right[own].mean() - right[~own].mean()

        r = bootstrap_ci(recall, len(true), n_boot=n_boot, seed=seed, level=LEVEL)
        g = bootstrap_ci(gap, len(true), n_boot=n_boot, seed=seed, level=LEVEL)
        row = {"support": int(is_label.sum()), "recall": r.estimate, "recall_low": r.low, "recall_high": r.high,
               "gap": g.estimate, "gap_low": g.low, "gap_high": g.high}
        if called.any():
            p = bootstrap_ci(precision, len(true), n_boot=n_boot, seed=seed, level=LEVEL)
            row.update(precision=p.estimate, precision_low=p.low, precision_high=p.high)
        else:  # never predicted: no precision to estimate (JSON has no NaN)
            row.update(precision=None, precision_low=None, precision_high=None)
        scores[label] = row
    return scores


def weak_class_advice(scores: Mapping[str, Mapping]) -> Advice:
    """A class is weak when its recall-gap interval lies wholly below zero: its texts are found
    less often than the other classes' texts, beyond what the test set's size leaves open.

    >>> weak_class_advice({"a": {"recall": 0.95, "gap_low": 0.1, "gap_high": 0.3},
    ...                    "b": {"recall": 0.60, "gap_low": -0.4, "gap_high": -0.2}}).action
    'Add training examples of b, like the b texts it missed.'
    >>> weak_class_advice({"a": {"recall": 0.9, "gap_low": -0.05, "gap_high": 0.1},
    ...                    "b": {"recall": 0.85, "gap_low": -0.1, "gap_high": 0.05}}).action is None
    True
    """
    if not scores:
        raise ValueError("No class scores: pass class_scores(...) of the test predictions.")
    weak = [label for label, s in scores.items() if s["gap_high"] < 0]
    if not weak:
        return Advice("weak_class", "No class's recall is separated from the others': every class's recall "
                                    "gap interval includes zero or lies above it, so nothing class-specific "
                                    "is called for.")
    described = "; ".join(f"{label} recall {scores[label]['recall']:.3f}, gap {scores[label]['gap_low']:.3f} to "
                          f"{scores[label]['gap_high']:.3f}" for label in weak)
    names = " and ".join(weak)
    return Advice("weak_class",
                  f"The recall of {names} lies below the other classes' beyond the interval ({described}).",
                  f"Add training examples of {names}, like the {names} texts it missed.")


# ------------------------------------------------------------------------------------ confusions


def confusion_pairs(true: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> list[dict]:
    """Every off-diagonal cell of the confusion matrix, most frequent first: ``true``,
    ``predicted``, ``count``, its ``share`` of all errors and that share's Wilson interval.
    Every cell is tested, so each interval is Bonferroni-widened to 1 - 0.05 / cells.

    >>> pairs = confusion_pairs(list("aaaabbbb"), list("abbbbbba"), ["a", "b"])
    >>> [(p["true"], p["predicted"], p["count"]) for p in pairs]
    [('a', 'b', 3), ('b', 'a', 1)]
    """
    from scipy.stats import binomtest

    true, predicted = _aligned(true, predicted, names=("true", "predicted"))
    cells = len(labels) * (len(labels) - 1)
    if cells == 0:
        raise ValueError("Need at least two labels for a confusion.")
    n_errors = int((true != predicted).sum())
    pairs = []
    for t in labels:
        for p in labels:
            if t == p:
                continue
            count = int(((true == t) & (predicted == p)).sum())
            row = {"true": t, "predicted": p, "count": count, "n_errors": n_errors}
            if n_errors:
                ci = binomtest(count, n_errors).proportion_ci(confidence_level=1 - (1 - LEVEL) / cells,
                                                              method="wilson")
                row.update(share=count / n_errors, share_low=float(ci.low), share_high=float(ci.high))
            else:
                row.update(share=0.0, share_low=0.0, share_high=0.0)
            pairs.append(row)
    return sorted(pairs, key=lambda r: (-r["count"], r["true"], r["predicted"]))


def confusion_advice(pairs: Sequence[Mapping]) -> Advice:
    """A confusion dominates when the lower end of its share of the errors lies above an even
    spread over all the cells (1 / cells): the errors concentrate there.

    >>> p = confusion_pairs(["a"] * 10 + ["b"] * 10 + ["c"] * 10, ["a"] * 2 + ["b"] * 8 + ["b"] * 10 + ["c"] * 10,
    ...                     ["a", "b", "c"])
    >>> confusion_advice(p).action
    'Add a training texts like the 8 a texts read as b, the boundary most errors cross; read those 8 first for what they have in common.'
    >>> even = confusion_pairs(list("aabbcc"), list("bcacab"), ["a", "b", "c"])
    >>> confusion_advice(even).action is None
    True
    """
    if not pairs:
        raise ValueError("No confusion cells: pass confusion_pairs(...) of the test predictions.")
    n_errors = pairs[0]["n_errors"]
    if n_errors == 0:
        return Advice("confusion", "The model made no errors on the test split: no confusion to act on.")
    even = 1 / len(pairs)
    dominant = [p for p in pairs if p["share_low"] > even]
    top = pairs[0]
    if not dominant:
        return Advice("confusion", f"The most frequent confusion, {top['true']} read as {top['predicted']}, holds "
                                   f"{top['count']} of {n_errors} errors; its share's interval "
                                   f"({top['share_low']:.2f} to {top['share_high']:.2f}) does not exclude an even "
                                   f"spread over the {len(pairs)} confusions ({even:.2f}): no pair stands out.")
    described = "; ".join(f"{p['true']} read as {p['predicted']}: {p['count']} of {n_errors} errors "
                          f"(share {p['share_low']:.2f} to {p['share_high']:.2f})" for p in dominant)
    action = " ".join(f"Add {p['true']} training texts like the {p['count']} {p['true']} texts read as "
                      f"{p['predicted']}, the boundary most errors cross; read those {p['count']} first for what "
                      "they have in common." for p in dominant)
    return Advice("confusion", f"The errors concentrate beyond an even spread ({even:.2f} each): {described}.",
                  action)


# ------------------------------------------------------------------------------------ cue words

_STOP_WORDS: frozenset[str] | None = None


def words(text: str) -> set[str]:
    """The distinct content words of a text: lower-cased, three letters or more, no stop words.

    >>> sorted(words("The patient's invoice was paid; the patient is fine."))
    ['fine', 'invoice', 'paid', 'patient']
    """
    global _STOP_WORDS
    if _STOP_WORDS is None:
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        _STOP_WORDS = frozenset(ENGLISH_STOP_WORDS)
    return {w for w in re.findall(r"[a-z]{3,}", text.lower().replace("'s", "")) if w not in _STOP_WORDS}


def class_markers(texts: Sequence[str], labels: Sequence[str], *, min_texts: int = 3,
                  purity: float = 0.8) -> dict[str, str]:
    """Words that mark a class in the *training* texts: found in at least ``min_texts`` texts,
    at least ``purity`` of them of one class. Returns ``{word: class}``.

    >>> class_markers(["tumour scan", "tumour biopsy", "tumour ward", "bond yield"], ["med"] * 3 + ["fin"],
    ...               min_texts=3)
    {'tumour': 'med'}
    """
    texts, labels = _aligned(texts, labels, names=("texts", "labels"))
    seen: dict[str, Counter] = {}
    for text, label in zip(texts, labels):
        for w in words(str(text)):
            seen.setdefault(w, Counter())[label] += 1
    markers = {}
    for w, by_class in seen.items():
        total = sum(by_class.values())
        label, top = by_class.most_common(1)[0]
        if total >= min_texts and top / total >= purity:
            markers[w] = str(label)  # a plain str, not NumPy's, so it prints and saves as one
    return dict(sorted(markers.items()))


def cue_evidence(texts: Sequence[str], true: Sequence[str], predicted: Sequence[str], markers: Mapping[str, str],
                 *, min_count: int = 3, n_boot: int = 2000, seed: int = 0) -> dict:
    """Do the errors carry the words of another class more often than correct predictions do?

    A text *carries foreign words* when it holds a marker (:func:`class_markers`) of a class other
    than its own. ``rate_errors``: the share of misclassified texts that do; ``rate_correct``: the
    same share among correctly classified texts **of the same true classes**, weighted as the
    errors are (a class whose texts all carry foreign words cannot make a cue out of them);
    ``diff`` and its interval (``low``, ``high``): their difference over bootstrap resamples of
    the test texts. ``words``: markers of the predicted class found in at least ``min_count``
    misclassified texts, with their counts.

    >>> m = {"tumour": "med", "bond": "fin"}
    >>> e = cue_evidence(["tumour bond"] * 5 + ["bond"] * 20 + ["tumour"] * 20, ["fin"] * 25 + ["med"] * 20,
    ...                  ["med"] * 5 + ["fin"] * 20 + ["med"] * 20, m)
    >>> e["rate_errors"], e["rate_correct"], e["low"] > 0, e["words"]
    (1.0, 0.0, True, [{'word': 'tumour', 'read_as': 'med', 'count': 5}])
    """
    texts, true, predicted = _aligned(texts, true, predicted, names=("texts", "true", "predicted"))
    found = [words(str(t)) for t in texts]
    foreign = np.array([any(markers.get(w, label) != label for w in ws) for ws, label in zip(found, true)])
    wrong = true != predicted

    def rates(i) -> tuple[float, float]:
        t, f, w = true[i], foreign[i], wrong[i]
        if not w.any():
            return np.nan, np.nan
        expected = 0.0
        for label in np.unique(t[w]):
            right = (t == label) & ~w
            if not right.any():  # no correct text of that class to compare with
                return np.nan, np.nan
            expected += (t[w] == label).mean() * f[right].mean()
        return float(f[w].mean()), float(expected)

    counts = Counter((w, p) for ws, p, bad in zip(found, predicted, wrong) if bad
                     for w in ws if markers.get(w) == p)
    cue_words = [{"word": w, "read_as": str(p), "count": c} for (w, p), c in
                 sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if c >= min_count]
    rate_errors, rate_correct = rates(np.arange(len(texts)))
    out = {"n_errors": int(wrong.sum()), "n_markers": len(markers), "min_count": min_count, "words": cue_words}
    if np.isnan(rate_errors):
        return {**out, "rate_errors": None, "rate_correct": None, "diff": None, "low": None, "high": None}
    interval = bootstrap_ci(lambda i: np.subtract(*rates(i)), len(texts), n_boot=n_boot, seed=seed, level=LEVEL)
    return {**out, "rate_errors": rate_errors, "rate_correct": rate_correct, **_interval_dict(interval)}


def cue_word_advice(evidence: Mapping) -> Advice:
    """Name cue words only when the misclassified texts hold other classes' marker words more
    often than the correct ones (the difference interval lies above zero) and some marker of
    the predicted class recurs in at least ``min_count`` errors.

    >>> cue_word_advice({"rate_errors": 0.9, "rate_correct": 0.2, "diff": 0.7, "low": 0.5, "high": 0.9,
    ...                  "min_count": 3, "words": [{"word": "tumour", "read_as": "med", "count": 5}]}).action
    "Add training texts that use these words in another class's context: 'tumour' (read as med, 5 errors)."
    >>> cue_word_advice({"rate_errors": 0.3, "rate_correct": 0.25, "diff": 0.05, "low": -0.1, "high": 0.2,
    ...                  "min_count": 3, "words": [{"word": "bond", "read_as": "fin", "count": 3}]}).action is None
    True
    """
    if evidence.get("diff") is None:
        return Advice("cue_words", "There are no errors (or no correct predictions) to compare: no word cue "
                                   "can be measured.")
    rates = (f"{evidence['rate_errors']:.0%} of the misclassified texts hold a marker word of another class, "
             f"against {evidence['rate_correct']:.0%} of correctly classified texts of the same classes; "
             f"difference {_ci(evidence)}")
    if not evidence["low"] > 0:
        return Advice("cue_words", f"{rates}, which does not exclude zero: the errors do not show a word cue.")
    if not evidence["words"]:
        return Advice("cue_words", f"{rates}, but no single marker of the predicted class recurs in "
                                   f"{evidence['min_count']} or more errors: no word to name.")
    named = ", ".join(f"'{w['word']}' (read as {w['read_as']}, {w['count']} errors)" for w in evidence["words"])
    return Advice("cue_words", f"{rates}: the errors carry other classes' words.",
                  f"Add training texts that use these words in another class's context: {named}.")


# ------------------------------------------------------------------------------------ hard cases


def accuracy_difference(correct: Sequence[bool], in_group: Sequence[bool], *, n_boot: int = 2000,
                        seed: int = 0) -> dict:
    """Accuracy on a group of test texts minus accuracy on the rest, with a bootstrap interval
    (each resample of the test texts scores both groups): ``acc_hard``, ``acc_other``, ``n_hard``,
    ``n_other``, ``diff``, ``low``, ``high``.

    >>> d = accuracy_difference([True] * 80 + [False] * 20, [False] * 70 + [True] * 30)
    >>> d["acc_hard"], d["acc_other"], d["high"] < 0
    (0.3333333333333333, 1.0, True)
    """
    correct, group = _aligned(correct, in_group, names=("correct", "in_group"))
    correct, group = correct.astype(bool), group.astype(bool)
    if group.all() or not group.any():
        raise ValueError("in_group must mark some test texts and leave others unmarked.")

    def diff(i):
        g = group[i]
        if g.all() or not g.any():
            return np.nan
        return correct[i][g].mean() - correct[i][~g].mean()

    return _interval_dict(bootstrap_ci(diff, len(correct), n_boot=n_boot, seed=seed, level=LEVEL),
                          acc_hard=float(correct[group].mean()), acc_other=float(correct[~group].mean()),
                          n_hard=int(group.sum()), n_other=int((~group).sum()))


def hard_case_advice(difference: Mapping) -> Advice:
    """Recommend cross-domain training examples only if hard cases are measurably harder: the
    interval of (accuracy on hard) - (accuracy on the others) lies below zero.

    >>> print(hard_case_advice({"acc_hard": 0.7, "acc_other": 0.9, "diff": -0.2, "low": -0.35, "high": -0.05}).finding)
    Hard cross-domain cases score 0.700 against 0.900 for the others; the difference, -0.200 (95% CI -0.350 to -0.050), excludes zero: they are harder.
    """
    finding = (f"Hard cross-domain cases score {difference['acc_hard']:.3f} against {difference['acc_other']:.3f} "
               f"for the others; the difference, {_ci(difference)}, ")
    if difference["high"] < 0:
        return Advice("hard_cases", finding + "excludes zero: they are harder.",
                      "Add labelled cross-domain examples (texts of one domain written in the words of another) "
                      "to the training data.")
    if difference["low"] > 0:
        return Advice("hard_cases", finding + "lies above zero: they are easier here, nothing to add for them.")
    return Advice("hard_cases", finding + "includes zero: this test set does not show them to be harder, so "
                                          "nothing is called for on their account.")


# ------------------------------------------------------------------------------------ calibration


def confidence_gap(confidence: Sequence[float], correct: Sequence[bool], *, n_boot: int = 2000,
                   seed: int = 0) -> dict:
    """Mean confidence minus accuracy with a bootstrap interval: above zero the model is
    overconfident, below zero underconfident. Returns ``mean_confidence``, ``accuracy``,
    ``diff``, ``low``, ``high``.

    >>> g = confidence_gap([0.5] * 100, [True] * 90 + [False] * 10)
    >>> round(g["diff"], 2), g["high"] < 0
    (-0.4, True)
    """
    confidence, correct = _aligned(confidence, correct, names=("confidence", "correct"))
    confidence, correct = confidence.astype(float), correct.astype(float)
    interval = bootstrap_ci(lambda i: confidence[i].mean() - correct[i].mean(), len(correct),
                            n_boot=n_boot, seed=seed, level=LEVEL)
    return _interval_dict(interval, mean_confidence=float(confidence.mean()), accuracy=float(correct.mean()))


def calibration_advice(gap: Mapping, ece: float, scaled: Mapping | None = None) -> Advice:
    """Recommend temperature scaling only when the confidence gap's interval excludes zero (its
    sign says which way) and, when ``scaled`` gives the test ECE after a temperature fitted on
    validation (``temperature``, ``ece_after``), only if that lowers it.

    >>> gap = {"mean_confidence": 0.55, "accuracy": 0.9, "diff": -0.35, "low": -0.4, "high": -0.3}
    >>> calibration_advice(gap, ece=0.35).finding.split(":")[0]
    'Mean confidence 0.550 against accuracy 0.900 (ECE 0.350)'
    >>> print(calibration_advice(gap, ece=0.35, scaled={"temperature": 0.4, "ece_after": 0.05}).action)
    Divide the logits by the temperature fitted on validation (T = 0.40): it brings the test ECE from 0.350 to 0.050.
    >>> calibration_advice({"mean_confidence": 0.9, "accuracy": 0.89, "diff": 0.01, "low": -0.02,
    ...                     "high": 0.04}, ece=0.03).action is None
    True
    """
    head = (f"Mean confidence {gap['mean_confidence']:.3f} against accuracy {gap['accuracy']:.3f} "
            f"(ECE {ece:.3f}): the gap is {_ci(gap)}")
    if not (gap["low"] > 0 or gap["high"] < 0):
        return Advice("calibration", f"{head}, which includes zero: confidence matches accuracy on average; "
                                     "no calibration step is called for.")
    way, temperature = ("over", "above 1 softens") if gap["low"] > 0 else ("under", "below 1 sharpens")
    finding = f"{head}, so the model is {way}confident"
    if scaled is None:
        return Advice("calibration", f"{finding}.",
                      f"Fit a temperature on the validation split (a temperature {temperature} the "
                      "probabilities) and divide the logits by it before trusting the confidences.")
    if scaled["ece_after"] >= ece:
        return Advice("calibration", f"{finding}, but a temperature fitted on validation (T = "
                                     f"{scaled['temperature']:.2f}) does not lower the test ECE ({ece:.3f} to "
                                     f"{scaled['ece_after']:.3f}): no calibration step is shown to help.")
    return Advice("calibration", f"{finding}.",
                  f"Divide the logits by the temperature fitted on validation (T = {scaled['temperature']:.2f}): "
                  f"it brings the test ECE from {ece:.3f} to {scaled['ece_after']:.3f}.")


# ------------------------------------------------------------------------------------ shared errors


def error_overlap(model_wrong: Sequence[bool], baseline_wrong: Sequence[bool]) -> dict:
    """How many texts two models both get wrong, against what independent errors would give
    (``expected``), and the one-sided Fisher exact test of "more shared than chance".

    >>> o = error_overlap([True] * 10 + [False] * 90, [True] * 8 + [False] * 92)
    >>> o["n_shared"], o["expected"], o["p_value"] < 0.001
    (8, 0.8, True)
    """
    from scipy.stats import fisher_exact

    a, b = _aligned(model_wrong, baseline_wrong, names=("model_wrong", "baseline_wrong"))
    a, b = a.astype(bool), b.astype(bool)
    table = [[int((a & b).sum()), int((a & ~b).sum())], [int((~a & b).sum()), int((~a & ~b).sum())]]
    p_value = float(fisher_exact(table, alternative="greater").pvalue)
    return {"n": len(a), "n_model": int(a.sum()), "n_baseline": int(b.sum()), "n_shared": table[0][0],
            "expected": float(a.sum() * b.sum() / len(a)), "p_value": p_value}


def shared_error_advice(overlap: Mapping, *, alpha: float = 0.05, min_shared: int = 2) -> Advice:
    """Texts both models get wrong point at the data (a doubtful label, an ambiguous text) only
    when they share more errors than chance would give (Fisher's test below ``alpha``) and at
    least ``min_shared`` of them.

    >>> shared_error_advice(error_overlap([True] * 10 + [False] * 90, [True] * 8 + [False] * 92)).action
    'Read the shared errors for doubtful labels or genuinely ambiguous texts; fix or drop those before adding data.'
    >>> shared_error_advice(error_overlap([True] * 10 + [False] * 90, [True, False] * 50)).action is None
    True
    """
    head = (f"The two models share {overlap['n_shared']} errors (the fine-tuned model makes {overlap['n_model']}, "
            f"the TF-IDF baseline {overlap['n_baseline']}); independent errors would share "
            f"{overlap['expected']:.1f} (one-sided Fisher test p = {overlap['p_value']:.2g})")
    if overlap["p_value"] < alpha and overlap["n_shared"] >= min_shared:
        return Advice("shared_errors", f"{head}: more than chance.",
                      "Read the shared errors for doubtful labels or genuinely ambiguous texts; fix or "
                      "drop those before adding data.")
    return Advice("shared_errors", f"{head}: no more than chance, so they do not single out texts to audit.")


def next_steps(evidence: Mapping) -> list[Advice]:
    """Every rule applied to a lesson's recorded evidence, in the lesson's order. ``evidence``
    holds ``class_scores``, ``confusions``, ``cues``, ``hard``, ``gap``, ``ece``, ``overlap`` and,
    optionally, ``scaled`` (the test ECE after temperature scaling)."""
    missing = {"class_scores", "confusions", "cues", "hard", "gap", "ece", "overlap"} - set(evidence)
    if missing:
        raise ValueError(f"The evidence lacks {sorted(missing)}: record each before deriving the advice.")
    return [weak_class_advice(evidence["class_scores"]), confusion_advice(evidence["confusions"]),
            cue_word_advice(evidence["cues"]), hard_case_advice(evidence["hard"]),
            calibration_advice(evidence["gap"], evidence["ece"], evidence.get("scaled")),
            shared_error_advice(evidence["overlap"])]


def scores_table(scores: Mapping[str, Mapping]) -> pd.DataFrame:
    """:func:`class_scores` as a table, one row per class, for display."""
    return pd.DataFrame(scores).T[["support", "recall", "recall_low", "recall_high", "precision",
                                   "precision_low", "precision_high", "gap", "gap_low", "gap_high"]]
