"""Checker helpers shared by the exercise sets: read an answer, compare it, say what is wrong.

Each helper raises :class:`~course_utils.exercises.core.Wrong` with a message in the learner's
terms. The ``recompute`` helpers rebuild reference values from the bundled data in the
grader's own process (cached, so a gradebook of many students computes them once).

>>> number(3, "n_rows", whole=True)
3
>>> fraction(0.5, "f1")
0.5
>>> close_to(0.812, 0.81, "macro_f1", tol=0.005)
>>> try:
...     fraction(87.5, "accuracy")
... except Wrong as wrong:
...     print(wrong)
`accuracy` is 87.5, which looks like a percentage: give it as a fraction between 0 and 1 (87.5% is 0.875).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

from course_utils.exercises.core import Wrong, frame_from_json

# ----------------------------------------------------------------------------- reading answers


def number(value, name: str, *, whole: bool = False, low: float | None = None,
           high: float | None = None):
    """``value`` as a number (an int when ``whole``), or :class:`Wrong` saying what it is instead."""
    if isinstance(value, bool):
        raise Wrong(f"`{name}` is {value}, a True/False value; it should be a number.")
    if isinstance(value, str):
        raise Wrong(f"`{name}` is the text {value[:40]!r}; it should be a number (no quotes).")
    if isinstance(value, (list, dict)):
        raise Wrong(f"`{name}` holds several values; it should be one number.")
    if not isinstance(value, (int, float)) or math.isnan(value):
        raise Wrong(f"`{name}` should be a number.")
    if whole:
        if value != int(value):
            raise Wrong(f"`{name}` is {value}; it counts things, so it should be a whole number.")
        value = int(value)
    if low is not None and value < low:
        raise Wrong(f"`{name}` is {value}; it cannot be below {low:g}.")
    if high is not None and value > high:
        raise Wrong(f"`{name}` is {value}; it cannot be above {high:g}.")
    return value


def fraction(value, name: str) -> float:
    """A score between 0 and 1 (accuracy, F1, a share); a percentage gets its own message."""
    value = number(value, name)
    if 1 < value <= 100:
        raise Wrong(f"`{name}` is {value:g}, which looks like a percentage: give it as a fraction "
                    f"between 0 and 1 ({value:g}% is {value / 100:g}).")
    if not 0 <= value <= 1:
        raise Wrong(f"`{name}` is {value:g}; a score like this lies between 0 and 1.")
    return float(value)


def close_to(value: float, expected: float, name: str, *, tol: float = 1e-3, how: str = "") -> None:
    """Nothing when ``|value - expected| <= tol``; otherwise :class:`Wrong` with both numbers."""
    if abs(value - expected) > tol:
        raise Wrong(f"`{name}` is {value:.4g}, but {how or 'the right value is'} {expected:.4g}.")


def text(value, name: str, *, min_words: int = 1) -> str:
    """Free text with at least ``min_words`` words."""
    if not isinstance(value, str):
        raise Wrong(f"`{name}` should be text (a string in quotes).")
    words = len(value.split())
    if words < min_words:
        raise Wrong(f"`{name}` has {words} word(s); write at least {min_words}, in full sentences.")
    return value.strip()


def missing_topics(answer: str, topics: dict) -> list[str]:
    """The topics (``{description: regex}``) a free-text answer never mentions, in order.

    >>> missing_topics("the f1 fell", {"the scores": r"f1|score", "the time": r"time|second"})
    ['the time']
    """
    import re

    lowered = answer.lower()
    return [what for what, pattern in topics.items() if not re.search(pattern, lowered)]


def id_list(value, name: str) -> list[str]:
    """A list of example ids (strings such as ``"doc-0003"``), without repeats."""
    if isinstance(value, dict):
        raise Wrong(f"`{name}` is a dict; give a list of ids, e.g. errors['id'].tolist().")
    if not isinstance(value, list):
        raise Wrong(f"`{name}` should be a list of ids such as 'doc-0003'.")
    if not all(isinstance(v, str) for v in value):
        raise Wrong(f"`{name}` should hold ids (text such as 'doc-0003'), not row numbers or labels.")
    if len(set(value)) != len(value):
        raise Wrong(f"`{name}` lists some ids more than once; each id once.")
    return list(value)


def compare_ids(given: Sequence[str], expected: Sequence[str], name: str, *, show: int = 3) -> None:
    """Wrong naming a few ids that are missing from ``given`` and a few that should not be in it."""
    given_set, expected_set = set(given), set(expected)
    missing, extra = sorted(expected_set - given_set), sorted(given_set - expected_set)
    if not missing and not extra:
        return
    parts = []
    if missing:
        parts.append(f"{len(missing)} id(s) are missing (e.g. {', '.join(missing[:show])})")
    if extra:
        parts.append(f"{len(extra)} should not be there (e.g. {', '.join(extra[:show])})")
    raise Wrong(f"`{name}` has {len(given_set)} ids where {len(expected_set)} are expected: "
                + " and ".join(parts) + ".")


def table(value, name: str, columns: Sequence[str] = ()):
    """A DataFrame from its exported form, with at least ``columns``."""
    try:
        frame = frame_from_json(value)
    except Wrong:
        raise Wrong(f"`{name}` should be a table (a pandas DataFrame).") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise Wrong(f"`{name}` lacks the column(s) {missing}; its columns are {list(frame.columns)}.")
    return frame


def matrix(value, name: str, size: int) -> list[list[float]]:
    """A ``size`` x ``size`` matrix given as a DataFrame, an array or a list of rows."""
    if isinstance(value, dict) and set(value) == {"columns", "rows"}:
        rows = value["rows"]
    elif isinstance(value, list):
        rows = value
    else:
        raise Wrong(f"`{name}` should be a {size} x {size} table (a DataFrame or an array).")
    if len(rows) != size or not all(isinstance(r, list) and len(r) == size for r in rows):
        shape = f"{len(rows)} rows" if isinstance(rows, list) else "an odd shape"
        raise Wrong(f"`{name}` has {shape}; it should be {size} x {size}, one row and one column per class.")
    return [[number(v, name) for v in row] for row in rows]


def labels_by_id(value, name: str, *, ids: Sequence[str] | None = None,
                 labels: Sequence[str] | None = None) -> dict[str, str]:
    """Predicted labels for the test split as ``{id: label name}``.

    Accepted forms: a dict ``{id: label}`` or a list in the test split's order; labels as names
    (``"legal"``) or as the course's label ids (``2``).
    """
    from course_utils import data

    ids = list(ids if ids is not None else test_frame()["id"])
    labels = list(labels if labels is not None else data.LABELS)
    if isinstance(value, list):
        if len(value) != len(ids):
            raise Wrong(f"`{name}` has {len(value)} predictions; the test split has {len(ids)} texts.")
        value = dict(zip(ids, value))
    if not isinstance(value, dict):
        raise Wrong(f"`{name}` should map each test id to its predicted label, e.g. "
                    "dict(zip(predictions['id'], predictions['predicted'])).")
    compare_ids(list(value), ids, name)
    out = {}
    for key, label in value.items():
        if isinstance(label, int) and not isinstance(label, bool) and 0 <= label < len(labels):
            label = labels[label]
        if label not in labels:
            raise Wrong(f"`{name}` predicts {label!r} for {key}; labels are {labels}.")
        out[key] = label
    return out


def scores(true: Sequence, predicted: Sequence) -> dict[str, float]:
    """Accuracy, macro-F1 and weighted-F1, as the course computes them."""
    from course_utils.evaluation import classification_metrics

    return classification_metrics(list(true), list(predicted))


# ----------------------------------------------------------------------------- recomputing


@lru_cache(maxsize=None)
def _domain_frame():
    from course_utils import data

    return data.load_domain_frame()


def domain_frame():
    """The bundled clean data (a copy: checkers may not change the cached one)."""
    return _domain_frame().copy()


def test_frame():
    """The clean test split, in id order (the order of ``load_domain_splits()["test"]``)."""
    frame = domain_frame()
    return frame[frame["split"] == "test"].sort_values("id").reset_index(drop=True)


@lru_cache(maxsize=None)
def _raw_frame():
    from course_utils import data

    return data.load_raw_domain_frame()


def raw_frame():
    return _raw_frame().copy()


@lru_cache(maxsize=None)
def training_splits() -> dict:
    """The training split each profile trains on, by a readable name, as ``(texts, labels)``.

    The smoke profile subsamples the training split; cpu and gpu use all of it. A checker
    accepts an answer computed on any of them: it cannot know which profile the learner ran.
    """
    from course_utils import data
    from course_utils.profiles import SIZES

    out = {}
    for profile, sizes in SIZES.items():
        n = sizes.max_train_examples
        key = "the whole training split" if n is None else f"the {profile} profile's {n} training texts"
        if key in out:
            continue
        train = data.load_domain_splits(max_train=n, max_eval=sizes.max_eval_examples)["train"]
        out[key] = (tuple(train["text"]), tuple(data.LABELS[i] for i in train["label"]))
    return out


@lru_cache(maxsize=None)
def tfidf_predictions(train_texts: tuple, train_labels: tuple, test_texts: tuple, *,
                      ngram_range: tuple = (1, 1), class_weight: str | None = None) -> tuple:
    """TF-IDF (sublinear tf) + logistic regression (``max_iter=2000``), the course's baseline."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(TfidfVectorizer(sublinear_tf=True, ngram_range=tuple(ngram_range)),
                          LogisticRegression(max_iter=2000, class_weight=class_weight))
    model.fit(list(train_texts), list(train_labels))
    return tuple(model.predict(list(test_texts)))


@lru_cache(maxsize=None)
def tokenizers() -> dict:
    """Tokenizers a learner may have measured with: the bundled tiny one always, DistilBERT's
    when it is already on this machine (the cpu and gpu profiles download it; no network here)."""
    from transformers import AutoTokenizer

    from course_utils import models

    found = {"the bundled tiny tokenizer (smoke profile)": AutoTokenizer.from_pretrained(models.TINY_ENCODER)}
    try:
        found["distilbert-base-uncased"] = AutoTokenizer.from_pretrained("distilbert-base-uncased",
                                                                         local_files_only=True)
    except Exception:  # not downloaded here: only the bundled tokenizer can be checked
        pass
    return found


ENCODERS = ("the bundled tiny encoder (smoke profile)", "distilbert-base-uncased")


def _new_encoder_classifier(encoder: str):
    """A fresh course classifier for ``encoder``, built without any download."""
    from transformers import AutoModelForSequenceClassification, DistilBertConfig

    from course_utils import data, models
    from course_utils.classifier import new_classifier

    if encoder == ENCODERS[0]:
        return new_classifier(models.TINY_ENCODER)
    labels = dict(num_labels=len(data.LABELS), id2label=data.id2label(), label2id=data.label2id())
    # DistilBertConfig's defaults are distilbert-base-uncased's shape; random weights count the same
    return AutoModelForSequenceClassification.from_config(DistilBertConfig(**labels))


@lru_cache(maxsize=None)
def parameter_counts(encoder: str, n_frozen: int, embeddings: bool = True) -> tuple[int, int, int]:
    """``(trainable after freeze_layers(model, n_frozen, embeddings=...), total, n_layers)``;
    ``n_frozen`` is capped at the model's number of layers."""
    from course_utils.models import parameter_count
    from course_utils.training import freeze_layers

    model = _new_encoder_classifier(encoder)
    n_layers = model.config.num_hidden_layers
    trainable = freeze_layers(model, min(n_frozen, n_layers), embeddings=embeddings).trainable
    return trainable, parameter_count(model), n_layers


def model_by_total(total: int, name: str, candidates, count, kind: str) -> str:
    """The candidate whose parameter total (``count(candidate)``) is ``total``, or Wrong listing
    the totals known here. Candidates are tried in order, so the big model is built only if needed."""
    totals = {}
    for candidate in candidates:
        totals[count(candidate)] = candidate
        if total in totals:
            return totals[total]
    known = ", ".join(f"{t:,} ({c})" for t, c in totals.items())
    raise Wrong(f"`{name}` is {total:,}, which is not the size of a course {kind} ({known}). "
                "Count every parameter: sum(p.numel() for p in model.parameters()).")


def encoder_by_total(total: int, name: str) -> str:
    """Which encoder a parameter total belongs to, or Wrong listing the totals known here."""
    return model_by_total(total, name, ENCODERS, lambda e: parameter_counts(e, 0)[1], "classifier")


# ----------------------------------------------------------------------------- classifier runs and baselines (ex02, challenges 1 and 2)


class RunCurve:
    """What a classifier's log history says: validation macro-F1 per epoch, the peak learning rate.

    ``best_epoch`` is the epoch ``Trainer`` keeps with ``load_best_model_at_end``: the first with
    the highest validation macro-F1, since a later tie is no improvement.
    """

    def __init__(self, val_macro_f1: Sequence[float], peak_learning_rate: float | None):
        self.val_macro_f1 = list(val_macro_f1)
        self.peak_learning_rate = peak_learning_rate
        self.epochs_run = len(self.val_macro_f1)
        self.best_epoch = self.val_macro_f1.index(max(self.val_macro_f1)) + 1

    def stopped_early(self, patience: int) -> bool:
        """Validation had not improved for ``patience`` epochs when the run ended."""
        return self.epochs_run - self.best_epoch >= patience


def run_curve(history, name: str) -> RunCurve:
    """Read a ``Trainer`` log history (``result.history``, ``trainer.state.log_history``) as exported.

    >>> rows = [{"loss": 1.0, "learning_rate": 3e-4, "epoch": 1.0}, {"eval_macro_f1": 0.5, "epoch": 1.0},
    ...         {"loss": 0.5, "learning_rate": 2e-4, "epoch": 2.0}, {"eval_macro_f1": 0.7, "epoch": 2.0}]
    >>> curve = run_curve(rows, "history")
    >>> curve.epochs_run, curve.best_epoch, curve.peak_learning_rate
    (2, 2, 0.0003)
    """
    if not isinstance(history, list) or not all(isinstance(row, dict) for row in history):
        raise Wrong(f"`{name}` should be the trainer's log history: result.history (or "
                    "result.trainer.state.log_history), a list of dicts.")
    evals = [row for row in history if "eval_macro_f1" in row]
    if not evals:
        raise Wrong(f"`{name}` has no validation scores (eval_macro_f1): train with fine_tune, which "
                    "evaluates after every epoch, and export the whole log history.")
    epochs = [round(number(row.get("epoch"), f"{name} epoch")) for row in evals]
    if epochs != list(range(1, len(evals) + 1)):
        raise Wrong(f"`{name}` has validation scores after epochs {epochs}; a run evaluated after every epoch "
                    f"has them after 1, 2, ... {len(evals)}, once each: export one run's whole log history.")
    if not any("loss" in row for row in history):
        raise Wrong(f"`{name}` has no training loss: export the whole log history, not only the evaluations.")
    rates = [number(row["learning_rate"], f"{name} learning_rate") for row in history if "learning_rate" in row]
    return RunCurve([fraction(row["eval_macro_f1"], f"{name} eval_macro_f1") for row in evals],
                    max(rates) if rates else None)


def method_recipes(method: str) -> dict:
    """``{which model: Recipe}``: ``method``'s recipe for the tiny encoder and for a real model."""
    from course_utils.recipes import REAL, TINY

    return {"the bundled tiny encoder": TINY[method], "a real model such as DistilBERT": REAL[method]}


def recipe_of(curve: RunCurve, method: str, name: str, how: str) -> str:
    """Which model's ``method`` recipe trained the run (by its peak learning rate), or Wrong.

    The logged rate peaks once warmup ends (the first epoch), then decays, so the peak of a run
    of two epochs or more is within a fraction of a percent of the recipe's rate.
    """
    if curve.peak_learning_rate is None:
        raise Wrong(f"`{name}` has no learning rates: export the whole log history.")
    recipes = method_recipes(method)
    for model, recipe in recipes.items():
        if abs(curve.peak_learning_rate - recipe.learning_rate) <= 0.05 * recipe.learning_rate:
            return model
    rates = ", ".join(f"{r.learning_rate:g} for {model}" for model, r in recipes.items())
    raise Wrong(f"the run in `{name}` peaked at learning rate {curve.peak_learning_rate:.3g}; {how} trains at "
                f"{rates}. Lesson 02 gives each method its own recipe: use it rather than another rate.")


def early_stopped(curve: RunCurve, name: str, patience: int, how: str) -> None:
    """Nothing when early stopping ended the run (``patience`` epochs without improvement after the
    best, then the end); otherwise Wrong saying what ended it instead. ``how`` says how to train it."""
    n, best = curve.epochs_run, curve.best_epoch
    if n - best < patience:
        raise Wrong(f"the run in `{name}` ended at epoch {n}, {n - best} after its best (epoch {best}): validation "
                    f"had not gone {patience} epochs without improving, so early stopping did not end it. {how}; a "
                    "run that reaches the recipe's epoch cap needs a higher one: "
                    "recipe=dataclasses.replace(recipe, max_epochs=...).")
    if n - best > patience:
        raise Wrong(f"the run in `{name}` went on {n - best} epochs after its best (epoch {best}); the course's "
                    f"recipe stops after {patience} without improvement: keep fine_tune's early stopping as it is.")


@lru_cache(maxsize=None)
def validation_split() -> tuple[tuple, tuple]:
    """The bundled validation split as ``(texts, label names)``: every profile validates on all of it."""
    from course_utils import data

    validation = data.load_domain_splits()["validation"]
    return tuple(validation["text"]), tuple(data.LABELS[i] for i in validation["label"])


@lru_cache(maxsize=None)
def tfidf_on_validation(train_texts: tuple, train_labels: tuple, val_texts: tuple, val_labels: tuple):
    """Lesson 02's baseline recomputed: ``choose_c(tfidf_model, ...)``, its ``C`` chosen on validation."""
    from course_utils.baselines import choose_c, tfidf_model

    return choose_c(tfidf_model, list(train_texts), list(train_labels), list(val_texts), list(val_labels))


@lru_cache(maxsize=None)
def tfidf_test_predictions(train_texts: tuple, train_labels: tuple, test_texts: tuple, c: float) -> tuple:
    """Test predictions of ``tfidf_model(c)`` fitted on the training texts."""
    from threadpoolctl import threadpool_limits

    from course_utils.baselines import tfidf_model

    with threadpool_limits(1):  # as choose_c: a small fit, on a machine shared with kernels
        return tuple(tfidf_model(c).fit(list(train_texts), list(train_labels)).predict(list(test_texts)))


def validated_tfidf(c, macro, *, test, trains: dict, validation: tuple, c_name: str, f1_name: str) -> str:
    """Check a baseline whose ``C`` was chosen on validation, as lesson 02 does; return the training
    split it matches (a name of ``trains``, ``{name: (texts, labels)}``), or raise Wrong saying how
    the ``C`` was chosen instead (on test, a tie taken the other way, the default).

    ``c`` must be the validation-best ``C`` of ``C_GRID`` for that training split (ties: the smaller)
    and ``macro`` the test macro-F1 of ``tfidf_model(c)`` refitted on it.
    """
    from course_utils.baselines import C_GRID

    c = number(c, c_name, low=1e-12)
    macro = fraction(macro, f1_name)
    on_grid = [g for g in C_GRID if math.isclose(c, g, rel_tol=1e-9)]
    if not on_grid:
        raise Wrong(f"`{c_name}` is {c:g}; choose it from the values lesson 02 searches, C_GRID = {C_GRID}.")
    c = on_grid[0]

    def test_f1(which: str, value: float) -> float:
        return scores(test["label"], tfidf_test_predictions(*trains[which], tuple(test["text"]), value))["macro_f1"]

    # The training split the learner used: the one on which their C scores their number.
    used = [which for which in trains if abs(test_f1(which, c) - macro) <= 1e-3]
    for which in used:
        if tfidf_on_validation(*trains[which], *validation).c == c:
            return which
    chosen_right = [which for which in trains if tfidf_on_validation(*trains[which], *validation).c == c]
    if chosen_right:
        found = "; ".join(f"{test_f1(which, c):.3f} trained on {which}" for which in chosen_right)
        raise Wrong(f"`{c_name}` = {c:g} is the right choice, but `{f1_name}` is {macro:.3f}: tfidf_model({c:g}) "
                    f"refitted on the training split scores test macro-F1 {found}.")
    which = used[0] if used else next(iter(trains))
    choice = tfidf_on_validation(*trains[which], *validation)
    table = choice.table.set_index("C")["val_macro_f1"]
    wrong_c(c, c_name, tied=table[c] >= table.max(), best_on_test=c == max(C_GRID, key=lambda v: test_f1(which, v)))


def wrong_c(c: float, c_name: str, *, tied: bool, best_on_test: bool):
    """Raise the :class:`Wrong` that says why ``C = c`` is not the validation choice: a tie taken the
    wrong way (``tied``: it scores the best, but a smaller C does too), chosen on test
    (``best_on_test``), or neither (the default, or no search)."""
    if tied:
        raise Wrong(f"C = {c:g} ties on validation with a smaller C; on a tie lesson 02 keeps the smaller C, "
                    "the stronger regularisation (choose_c does: it scans C_GRID in increasing order).")
    if best_on_test:
        raise Wrong(f"C = {c:g} is the best C on the test split, not on validation: a setting chosen on test makes "
                    "the test score optimistic. Score each C on the validation split instead.")
    default = " 1 is LogisticRegression's default, not a choice." if c == 1.0 else ""
    raise Wrong(f"`{c_name}` = {c:g} does not have the highest validation macro-F1.{default} Fit tfidf_model(C) on "
                "the training split for each C in C_GRID, score macro-F1 on the validation split and keep the "
                "best (ties: the smaller C), or let choose_c do it.")


# ----------------------------------------------------------------------------- causal LMs (ex04, ex05, challenge 3)

def int_list(value, name: str) -> list[int]:
    """A list of whole numbers (token ids, labels, layer indices)."""
    if isinstance(value, dict):
        raise Wrong(f"`{name}` is a dict; give the list itself (for a dict from encode_example, "
                    "pick one entry, e.g. example['labels']).")
    if not isinstance(value, list):
        raise Wrong(f"`{name}` should be a list of whole numbers.")
    if value and isinstance(value[0], list):
        raise Wrong(f"`{name}` is a list of lists (a batch?); give the one example's list.")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise Wrong(f"`{name}` should hold whole numbers only.")
    return list(value)
