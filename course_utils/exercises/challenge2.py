"""Challenge 2 (level 2): fine-tune with and without the first layers frozen, and decide.

Parameter counts are recomputed for the encoder the learner used (recognised by its size);
scores come from training, so they are recomputed from the exported predictions and checked for
consistency; the recommendation is free text, checked for completeness and left to the instructor.
"""

from __future__ import annotations


from course_utils.exercises import checks
from course_utils.exercises.core import Question, QuestionSet, Wrong

NO_SOLUTION = ("A graded challenge shows no solution: the hints and lesson 02 have what you "
               "need, and your instructor shares a solution after the deadline.")

WANTED_FROZEN = 4


def frozen_layers_for(n_layers: int) -> int:
    """The first 4 layers, or all but the last when the model has 4 or fewer.

    >>> frozen_layers_for(6), frozen_layers_for(4), frozen_layers_for(2)
    (4, 3, 1)
    """
    return min(WANTED_FROZEN, n_layers - 1)


# ----------------------------------------------------------------------------- q1


def check_counts(values, workdir):
    n_layers = checks.number(values["n_layers"], "n_layers", whole=True, low=1)
    n_frozen = checks.number(values["n_frozen"], "n_frozen", whole=True, low=0)
    full = checks.number(values["trainable_full"], "trainable_full", whole=True, low=1)
    frozen = checks.number(values["trainable_frozen"], "trainable_frozen", whole=True, low=0)
    encoder = checks.encoder_by_total(full, "trainable_full")
    real_layers = checks.parameter_counts(encoder, 0)[2]
    if n_layers != real_layers:
        raise Wrong(f"n_layers is {n_layers}; {encoder} has {real_layers} transformer layers "
                    "(model.config.num_hidden_layers).")
    if n_frozen != frozen_layers_for(n_layers):
        raise Wrong(f"n_frozen is {n_frozen}; freeze the first {WANTED_FROZEN} layers, or all but the last "
                    f"if the model has {WANTED_FROZEN} or fewer: here {frozen_layers_for(n_layers)}.")
    want = checks.parameter_counts(encoder, n_frozen)[0]
    if frozen == want:
        return None
    if frozen == full - want:
        raise Wrong("trainable_frozen counts the frozen parameters; count those that still train.")
    if frozen == checks.parameter_counts(encoder, n_frozen, embeddings=False)[0]:
        raise Wrong("the embeddings were left trainable; freeze them with the first layers "
                    "(freeze_layers does by default).")
    raise Wrong(f"trainable_frozen is {frozen:,}; with the embeddings and the first {n_frozen} layers "
                f"frozen, {encoder} trains {want:,} parameters.")


# ----------------------------------------------------------------------------- q2

SETUPS = ("full", "frozen")


def _test_scores(values) -> dict:
    test = checks.test_frame()
    out = {}
    for setup in SETUPS:
        name = f"predictions_{setup}"
        predicted = checks.labels_by_id(values[name], name)
        out[setup] = checks.scores(test["label"], [predicted[i] for i in test["id"]])
    return out


def check_results(values, workdir):
    from course_utils.exercises.ex02 import majority_floor

    got = _test_scores(values)
    frame = checks.table(values["results"], "results", ("setup", "macro_f1", "seconds"))
    if sorted(frame["setup"]) != sorted(SETUPS):
        raise Wrong(f"results should have one row per setup, named {list(SETUPS)}; its setups are "
                    f"{frame['setup'].tolist()}.")
    floor = majority_floor()["macro_f1"]
    for setup, row in zip(frame["setup"], frame.itertuples(index=False)):
        macro = checks.fraction(row.macro_f1, f"{setup} macro_f1")
        if abs(macro - got[setup]["macro_f1"]) > 1e-3:
            raise Wrong(f"results gives {setup!r} macro-F1 {macro:.3f}, but predictions_{setup} score "
                        f"{got[setup]['macro_f1']:.3f} on the test split.")
        if macro <= floor:
            raise Wrong(f"the {setup!r} model scores {macro:.3f}, not above always answering 'medical' "
                        f"({floor:.3f}): it learned nothing.")
        checks.number(row.seconds, f"{setup} seconds", low=1e-9)
    return None


# ----------------------------------------------------------------------------- q3


def check_difference(values, workdir):
    import numpy as np

    from course_utils.evaluation import difference_interval

    estimate = checks.number(values["f1_difference"], "f1_difference", low=-1, high=1)
    ci = values["f1_difference_ci"]
    if not (isinstance(ci, list) and len(ci) == 2):
        raise Wrong("f1_difference_ci should be [low, high], e.g. [interval.low, interval.high].")
    low, high = (checks.number(v, "f1_difference_ci") for v in ci)
    test = checks.test_frame()
    true = test["label"].to_numpy()
    preds = {}
    for setup in SETUPS:
        predicted = checks.labels_by_id(values[f"predictions_{setup}"], f"predictions_{setup}")
        preds[setup] = np.array([predicted[i] for i in test["id"]])
    want = difference_interval(true, [preds["frozen"]], [preds["full"]])
    if abs(estimate + want.estimate) <= 1e-6 and abs(want.estimate) > 1e-6:
        raise Wrong("f1_difference has the wrong sign: frozen minus full.")
    if abs(estimate - want.estimate) > 1e-3:
        raise Wrong(f"f1_difference is {estimate:.4f}; frozen minus full macro-F1 from your predictions is "
                    f"{want.estimate:.4f}.")
    if low > high:
        raise Wrong("f1_difference_ci is [high, low]; give [low, high].")
    if abs(low - want.low) > 1e-3 or abs(high - want.high) > 1e-3:
        raise Wrong(f"difference_interval(y_test, [frozen], [full]) with its defaults gives "
                    f"[{want.low:.4f}, {want.high:.4f}]; you have [{low:.4f}, {high:.4f}].")
    verdict = "separated from zero" if want.excludes(0) else "not separated from zero"
    return f"the difference is {verdict} on this test split."


# ----------------------------------------------------------------------------- q4


def check_speedup(values, workdir):
    frame = checks.table(values["results"], "results", ("setup", "seconds"))
    speedup = checks.number(values["speedup"], "speedup", low=1e-9)
    seconds = dict(zip(frame["setup"], frame["seconds"]))
    if set(seconds) != set(SETUPS):
        raise Wrong(f"results should have the setups {list(SETUPS)}; fix q2 first.")
    full, frozen = (checks.number(seconds[s], f"{s} seconds", low=1e-9) for s in SETUPS)
    want = full / frozen
    if abs(speedup - want) <= 0.01 * want:
        return None
    if abs(speedup - 1 / want) <= 0.01 / want:
        raise Wrong("speedup is upside down: full seconds divided by frozen seconds.")
    raise Wrong(f"speedup is {speedup:.3f}; by your results table it is {want:.3f} (full / frozen).")


# ----------------------------------------------------------------------------- q5


def check_recommendation(values, workdir):
    answer = checks.text(values["recommendation"], "recommendation", min_words=30)
    missing = checks.missing_topics(answer, {"the scores": r"f1|score|accura",
                                             "the training time": r"time|second|faster|slower|speed|cost",
                                             "the dataset size": r"example|data|size|texts"})
    if missing:
        raise Wrong("recommendation should weigh " + ", ".join(missing) + " too.")
    return "written."


# Raise when a question changes what it asks, its variables or its check: notebooks record the
# version they were made for, and the grader warns about a submission made for another one.
VERSION = 1

QUESTIONS = QuestionSet("challenge2", "Challenge 2 · To freeze or not to freeze", [
    Question(
        "q1", "Set `n_layers`, `n_frozen` (the first 4, or all but the last for a model with 4 or fewer), "
              "`trainable_full` and `trainable_frozen`.",
        ("n_layers", "n_frozen", "trainable_full", "trainable_frozen"), check_counts,
        hints=("`model.config.num_hidden_layers`; `freeze_layers(model, n_frozen)` returns a report with "
               "`.trainable` and `.total`.",)),
    Question(
        "q2", "Fine-tune both ways; set `predictions_full`, `predictions_frozen` (test label ids) and "
              "`results` (a DataFrame: setup ('full' / 'frozen'), macro_f1, seconds).",
        ("predictions_full", "predictions_frozen", "results"), check_results, points=2,
        hints=("Freeze a fresh classifier with freeze_layers, then train it with the same fine_tune call.",
               "`result.seconds` is the training time.")),
    Question(
        "q3", "Set `f1_difference` (frozen minus full test macro-F1) and `f1_difference_ci` ([low, high], "
              "its 95 % bootstrap interval from `difference_interval`).",
        ("predictions_full", "predictions_frozen", "f1_difference", "f1_difference_ci"), check_difference,
        hints=("`difference_interval(y_test, [predictions_frozen], [predictions_full])` pairs the two on the "
               "same test texts.",)),
    Question(
        "q4", "Set `speedup`: full training time divided by frozen training time, from `results`.",
        ("results", "speedup"), check_speedup,
        hints=("Index `results` by setup first.",)),
    Question(
        "q5", "Which is better for this dataset size, and why? Weigh macro-F1, its interval and the training "
              "time in `recommendation` (a few sentences).",
        ("recommendation",), check_recommendation, points=2, auto=False,
        hints=("Is the difference in macro-F1 separated from zero? Is the time saved worth it at this size?",)),
], version=VERSION, solutions_withheld=NO_SOLUTION)

bind = QUESTIONS.bind
