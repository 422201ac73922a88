"""Challenge 2 (level 2): fine-tune with and without the first layers frozen, and decide.

Each arm trains with its own recipe from lesson 02 (full fine-tuning's, and partial freezing's
for the embeddings and the first half of the layers frozen) until validation stops improving:
the exported log histories show the rate each trained at and that early stopping ended both.
Parameter counts are recomputed for the encoder the learner used (recognised by its size);
scores come from training, so they are recomputed from the exported predictions and checked for
consistency; the recommendation is free text, checked for completeness and left to the instructor.
"""

from __future__ import annotations


from course_utils.exercises import checks
from course_utils.exercises.core import Question, QuestionSet, Wrong

NO_SOLUTION = ("A graded challenge shows no solution: the hints and lesson 02 have what you "
               "need, and your instructor shares a solution after the deadline.")


def frozen_layers_for(n_layers: int) -> int:
    """The first half of the layers, rounded down: what lesson 02's partial-freezing recipe freezes
    (``course_utils.recipes.train_method(cfg, "partial", ...)``) and was chosen on validation for.

    >>> frozen_layers_for(6), frozen_layers_for(12), frozen_layers_for(5)
    (3, 6, 2)
    """
    return n_layers // 2


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
        raise Wrong(f"n_frozen is {n_frozen}; freeze the first half of the layers, rounded down (n_layers // 2), "
                    "as lesson 02's partial-freezing recipe does.")
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

SETUPS = {"full": "full", "frozen": "partial"}  # setup -> lesson 02's method, whose recipe it trains with
HOW = {"full": "fine_tune's default recipe, full fine-tuning's", "frozen": "classifier_recipe(cfg, 'partial')"}


def _curves(values) -> dict:
    histories = values["histories"]
    if not isinstance(histories, dict) or sorted(histories) != sorted(SETUPS):
        raise Wrong("histories should be a dict with one log history per setup: "
                    "{'full': result_full.history, 'frozen': result_frozen.history}.")
    return {setup: checks.run_curve(histories[setup], f"histories['{setup}']") for setup in SETUPS}


def check_training(values, workdir):
    curves = _curves(values)
    models = {setup: checks.recipe_of(curves[setup], method, f"histories['{setup}']", HOW[setup])
              for setup, method in SETUPS.items()}
    if len(set(models.values())) > 1:
        raise Wrong(f"the two runs trained at the rates of different models ({models['full']} for 'full', "
                    f"{models['frozen']} for 'frozen'): train both from the same encoder, cfg.encoder.")
    for setup, method in SETUPS.items():
        patience = checks.method_recipes(method)[models[setup]].patience
        checks.early_stopped(curves[setup], f"histories['{setup}']", patience, f"Train it with {HOW[setup]}")
    return "; ".join(f"{setup}: {c.epochs_run} epochs, epoch {c.best_epoch} kept" for setup, c in curves.items())


# ----------------------------------------------------------------------------- q3


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
    curves = _curves(values)
    frame = checks.table(values["results"], "results", ("setup", "epochs_run", "macro_f1", "seconds"))
    if sorted(frame["setup"]) != sorted(SETUPS):
        raise Wrong(f"results should have one row per setup, named {list(SETUPS)}; its setups are "
                    f"{frame['setup'].tolist()}.")
    floor = majority_floor()["macro_f1"]
    for row in frame.itertuples(index=False):
        setup = row.setup
        macro = checks.fraction(row.macro_f1, f"{setup} macro_f1")
        if abs(macro - got[setup]["macro_f1"]) > 1e-3:
            raise Wrong(f"results gives {setup!r} macro-F1 {macro:.3f}, but predictions_{setup} score "
                        f"{got[setup]['macro_f1']:.3f} on the test split.")
        if macro <= floor:
            raise Wrong(f"the {setup!r} model scores {macro:.3f}, not above always answering 'medical' "
                        f"({floor:.3f}): it learned nothing.")
        epochs = checks.number(row.epochs_run, f"{setup} epochs_run", whole=True, low=1)
        if epochs != curves[setup].epochs_run:
            raise Wrong(f"results gives {setup!r} {epochs} epochs, but histories['{setup}'] has validation scores "
                        f"for {curves[setup].epochs_run}.")
        checks.number(row.seconds, f"{setup} seconds", low=1e-9)
    return None


# ----------------------------------------------------------------------------- q4


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


# ----------------------------------------------------------------------------- q5


def check_speedup(values, workdir):
    frame = checks.table(values["results"], "results", ("setup", "epochs_run", "seconds"))
    speedup = checks.number(values["speedup_per_epoch"], "speedup_per_epoch", low=1e-9)
    rows = {row.setup: row for row in frame.itertuples(index=False)}
    if set(rows) != set(SETUPS):
        raise Wrong(f"results should have the setups {list(SETUPS)}; fix q3 first.")
    seconds = {s: checks.number(rows[s].seconds, f"{s} seconds", low=1e-9) for s in SETUPS}
    epochs = {s: checks.number(rows[s].epochs_run, f"{s} epochs_run", whole=True, low=1) for s in SETUPS}
    want = (seconds["full"] / epochs["full"]) / (seconds["frozen"] / epochs["frozen"])
    if abs(speedup - want) <= 0.01 * want:
        return None
    if abs(speedup - 1 / want) <= 0.01 / want:
        raise Wrong("speedup_per_epoch is upside down: full seconds per epoch divided by frozen seconds per epoch.")
    whole_runs = seconds["full"] / seconds["frozen"]
    if epochs["full"] != epochs["frozen"] and abs(speedup - whole_runs) <= 0.01 * whole_runs:
        raise Wrong(f"that is the ratio of the whole runs, but they trained {epochs['full']} and {epochs['frozen']} "
                    "epochs before early stopping ended them: divide each run's seconds by its epochs first.")
    raise Wrong(f"speedup_per_epoch is {speedup:.3f}; by your results table it is {want:.3f} "
                "((full seconds / full epochs) / (frozen seconds / frozen epochs)).")


# ----------------------------------------------------------------------------- q6


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
VERSION = 2

QUESTIONS = QuestionSet("challenge2", "Challenge 2 · To freeze or not to freeze", [
    Question(
        "q1", "Set `n_layers`, `n_frozen` (the first half of the layers, n_layers // 2, as lesson 02's partial "
              "freezing), `trainable_full` and `trainable_frozen`.",
        ("n_layers", "n_frozen", "trainable_full", "trainable_frozen"), check_counts,
        hints=("`model.config.num_hidden_layers`; `freeze_layers(model, n_frozen)` returns a report with "
               "`.trainable` and `.total`.",)),
    Question(
        "q2", "Fine-tune a fresh classifier both ways, each with its own recipe from lesson 02 (full fine-tuning's; "
              "partial freezing's for the frozen one), until validation stops improving; set `histories`, "
              "{'full': log history, 'frozen': log history}.",
        ("histories",), check_training, points=2,
        hints=("Each method has its own recipe: `classifier_recipe(cfg, 'full')` and `classifier_recipe(cfg, "
               "'partial')`.",
               "Freeze a fresh classifier with freeze_layers, then `fine_tune(..., recipe=classifier_recipe(cfg, "
               "'partial'))`; `result.history` is the log history. `train_method(cfg, 'partial', ...)` does both.")),
    Question(
        "q3", "Set `predictions_full`, `predictions_frozen` (test label ids) and `results` (a DataFrame: setup "
              "('full' / 'frozen'), epochs_run, macro_f1, seconds).",
        ("predictions_full", "predictions_frozen", "histories", "results"), check_results,
        hints=("`result.trainer.predict(encoded['test']).predictions.argmax(-1)`; `result.seconds` is the "
               "training time.",)),
    Question(
        "q4", "Set `f1_difference` (frozen minus full test macro-F1) and `f1_difference_ci` ([low, high], "
              "its 95 % bootstrap interval from `difference_interval`).",
        ("predictions_full", "predictions_frozen", "f1_difference", "f1_difference_ci"), check_difference,
        hints=("`difference_interval(y_test, [predictions_frozen], [predictions_full])` pairs the two on the "
               "same test texts.",)),
    Question(
        "q5", "Set `speedup_per_epoch`: full fine-tuning's seconds per epoch divided by the frozen model's, "
              "from `results`.",
        ("results", "speedup_per_epoch"), check_speedup,
        hints=("Early stopping ends the two runs after different numbers of epochs: compare the cost of one "
               "epoch.", "Index `results` by setup first.")),
    Question(
        "q6", "Which is better for this dataset size, and why? Weigh macro-F1, its interval and the training "
              "time in `recommendation` (a few sentences).",
        ("recommendation",), check_recommendation, points=2, auto=False,
        hints=("Is the difference in macro-F1 separated from zero? Is the time saved worth it at this size?",)),
], version=VERSION, solutions_withheld=NO_SOLUTION)

bind = QUESTIONS.bind
