"""Exercise 07: the practical settings of ``TrainingArguments``, set and read back (lesson 07).

Nothing trains. Each question reads the ``TrainingArguments`` a learner built, exported as
``args.to_dict()`` (the settings as ``transformers`` resolved them, defaults filled in), or a
number worked out from them, and checks it against what ``Trainer`` does with those settings
in the installed ``transformers`` (5.24 and later): how many examples one optimizer step averages,
how many optimizer steps a run takes, what early stopping watches and what it reloads, and what
activation checkpointing (formerly "gradient checkpointing") trades.

>>> batch_problem(4, 8, fits=MEMORY_BUDGET, effective=EFFECTIVE_BATCH)  # 4 x 8 = 32, and 4 fit
>>> updates(2_000, batch_size=4, accumulation=8, epochs=3)  # 63 updates per epoch
189
"""

from __future__ import annotations

import math
import re

from course_utils.exercises import checks
from course_utils.exercises.core import Question, QuestionSet, Wrong

MEMORY_BUDGET = 4  # q1: the examples one forward and backward pass can hold on the learner's GPU
CHECKPOINTED_BUDGET = 16  # q4: what fits once activation checkpointing is on (a supposition)
EFFECTIVE_BATCH = 32  # q1, q4: the batch the recipe was tuned with
# q2: a run whose mistakes all give different counts (2,000 / 4 = 500 batches, 500 / 8 = 62.5)
TRAIN_EXAMPLES, BATCH, ACCUMULATION, EPOCHS = 2_000, 4, 8, 3
WARMUP_SHARE = 0.1
# q3: evaluate every EVAL_EVERY optimizer steps, stop after STOP_AFTER steps without improvement
EVAL_EVERY, STOP_AFTER, MAX_CHECKPOINTS = 50, 150, 2
ENABLE_METHOD, OLD_ENABLE_METHOD = "activation_checkpointing_enable", "gradient_checkpointing_enable"


def updates(train_examples: int, *, batch_size: int, accumulation: int, epochs: float) -> int:
    """The optimizer steps ``Trainer`` takes: ``ceil(batches / accumulation)`` per epoch (the epoch's
    last, shorter accumulation still makes an update), times the epochs, rounded up.

    ``Trainer.set_initial_training_values`` counts it so in transformers 5.24. Since
    ``ceil(ceil(n / b) / a) == ceil(n / (b * a))``, it is ``optimizer_steps`` with the effective batch.

    >>> updates(1_000, batch_size=4, accumulation=8, epochs=3)  # 250 batches, 32 updates per epoch
    96
    """
    from course_utils.training import optimizer_steps

    return optimizer_steps(train_examples, batch_size * accumulation, epochs)


def warmup_choices(n_updates: int, share: float = WARMUP_SHARE) -> set[int]:
    """The whole numbers of warmup steps that are ``share`` of ``n_updates``: rounded down, to the
    nearest or up (``base_args`` rounds to the nearest), and at least 1.

    >>> sorted(warmup_choices(189))
    [18, 19]
    """
    exact = share * n_updates
    return {max(1, math.floor(exact)), max(1, round(exact)), max(1, math.ceil(exact))}


# ----------------------------------------------------------------------------- reading settings


def settings(value, name: str, args_name: str, keys=("per_device_train_batch_size",)) -> dict:
    """An exported ``TrainingArguments.to_dict()``, or :class:`Wrong` saying what to give instead."""
    how = f"set {name} = {args_name}.to_dict()"
    if isinstance(value, str) and value.lstrip().startswith("{"):
        raise Wrong(f"`{name}` is text (to_json_string?); {how}, a dict.")
    if not isinstance(value, dict):
        raise Wrong(f"`{name}` should be the settings of your TrainingArguments: {how}.")
    missing = [key for key in keys if key not in value]
    if missing:
        raise Wrong(f"`{name}` lacks {', '.join(missing)}: it is not a TrainingArguments' settings. "
                    f"Build {args_name} with base_args(...) or TrainingArguments(...), then {how}.")
    return value


def flag(value, name: str) -> bool:
    if not isinstance(value, bool):
        raise Wrong(f"`{name}` should be True or False, without quotes.")
    return value


# ----------------------------------------------------------------------------- q1 and q4


def batch_problem(per_device, accumulation, *, fits: int, effective: int) -> None:
    """Nothing when ``per_device`` examples fit and ``per_device x accumulation`` is ``effective``;
    otherwise :class:`Wrong` naming the mistake.

    >>> try:  # doctest: +NORMALIZE_WHITESPACE
    ...     batch_problem(4, 32, fits=4, effective=32)
    ... except Wrong as wrong:
    ...     print(wrong)
    gradient_accumulation_steps=32 on top of batches of 4 averages 128 examples per optimizer step:
    accumulation counts batches, not examples. The effective batch is per_device_train_batch_size
    x gradient_accumulation_steps.
    """
    per_device = checks.number(per_device, "per_device_train_batch_size", whole=True, low=1)
    accumulation = checks.number(accumulation, "gradient_accumulation_steps", whole=True, low=1)
    product = per_device * accumulation
    if per_device > fits:
        raise Wrong(f"per_device_train_batch_size is {per_device}, but at most {fits} examples fit in memory: "
                    "it is what one forward and backward pass holds, so it must stay within the budget. Reach "
                    f"{effective} examples per update with gradient_accumulation_steps instead.")
    if product == effective:
        return
    if accumulation == effective:
        raise Wrong(f"gradient_accumulation_steps={accumulation} on top of batches of {per_device} averages "
                    f"{product} examples per optimizer step: accumulation counts batches, not examples. The "
                    "effective batch is per_device_train_batch_size x gradient_accumulation_steps.")
    if accumulation == 1:
        raise Wrong(f"without accumulation each optimizer step averages the gradients of {per_device} examples "
                    f"only; the recipe was tuned with {effective}. Accumulate the gradients of several batches "
                    "before each step: gradient_accumulation_steps.")
    raise Wrong(f"{per_device} x {accumulation} = {product} examples per optimizer step; the recipe wants "
                f"{effective}: the effective batch is per_device_train_batch_size x gradient_accumulation_steps.")


def check_memory(values, workdir):
    s = settings(values["memory_settings"], "memory_settings", "memory_args", ("per_device_train_batch_size",
                                                                                "gradient_accumulation_steps"))
    per_device, accumulation = s["per_device_train_batch_size"], s["gradient_accumulation_steps"]
    batch_problem(per_device, accumulation, fits=MEMORY_BUDGET, effective=EFFECTIVE_BATCH)
    if per_device < MEMORY_BUDGET:
        return (f"{per_device} x {accumulation} is the same update; {MEMORY_BUDGET} x "
                f"{EFFECTIVE_BATCH // MEMORY_BUDGET} takes it in fewer, fuller passes.")
    return f"{per_device} x {accumulation} = {EFFECTIVE_BATCH} examples per optimizer step."


# ----------------------------------------------------------------------------- q2


def updates_problem(n_updates: int) -> None:
    """Nothing when ``n_updates`` is what ``Trainer`` takes for q2's run; otherwise :class:`Wrong`
    naming what was counted instead.

    >>> try:
    ...     updates_problem(1_500)
    ... except Wrong as wrong:
    ...     print(str(wrong)[:70])
    n_updates counts batches (1,500 over 3 epochs): with accumulation, the
    """
    right = updates(TRAIN_EXAMPLES, batch_size=BATCH, accumulation=ACCUMULATION, epochs=EPOCHS)
    if n_updates == right:
        return
    batches = math.ceil(TRAIN_EXAMPLES / BATCH)
    per_epoch = updates(TRAIN_EXAMPLES, batch_size=BATCH, accumulation=ACCUMULATION, epochs=1)
    all_at_once = EPOCHS * TRAIN_EXAMPLES / (BATCH * ACCUMULATION)
    if n_updates == batches * EPOCHS:
        raise Wrong(f"n_updates counts batches ({n_updates:,} over {EPOCHS} epochs): with accumulation, the "
                    f"optimizer steps once every {ACCUMULATION} batches, and the learning-rate schedule counts "
                    "those steps.")
    if n_updates in (batches, per_epoch):
        raise Wrong(f"{n_updates} is one epoch's count; the run trains for {EPOCHS} epochs.")
    if n_updates in (math.floor(all_at_once), math.ceil(all_at_once)):
        raise Wrong(f"n_updates divides all {EPOCHS * TRAIN_EXAMPLES:,} examples of the run by the effective "
                    f"batch at once ({all_at_once:g}); Trainer counts per epoch: each epoch ends with a shorter "
                    f"accumulation of its last batches, which still makes an update, so every epoch has "
                    f"ceil({batches} / {ACCUMULATION}) = {per_epoch}.")
    if n_updates == (batches // ACCUMULATION) * EPOCHS:
        raise Wrong(f"n_updates rounds each epoch's {batches} / {ACCUMULATION} = {batches / ACCUMULATION:g} "
                    f"down; the epoch's last {batches % ACCUMULATION} batches still make an update of their own, "
                    "so round up.")
    if n_updates == TRAIN_EXAMPLES * EPOCHS:
        raise Wrong("n_updates counts examples; an optimizer step averages the gradients of a whole effective "
                    "batch.")
    raise Wrong(f"n_updates is {n_updates:,}; count the batches of an epoch, the optimizer steps they make with "
                f"gradient_accumulation_steps={ACCUMULATION} (rounded up), then the {EPOCHS} epochs.")


def check_updates(values, workdir):
    n_updates = checks.number(values["n_updates"], "n_updates", whole=True, low=1)
    warmup = checks.number(values["warmup"], "warmup", low=0)
    updates_problem(n_updates)
    if warmup in warmup_choices(n_updates):
        return f"{n_updates} optimizer steps, {int(warmup)} of them warming up."
    if 0 < warmup < 1:
        raise Wrong(f"warmup is {warmup:g}, a fraction of the run: TrainingArguments takes warmup in steps "
                    f"(warmup_steps; the ratio argument is gone since transformers 5.15). Give "
                    f"{WARMUP_SHARE:.0%} of n_updates, as a whole number of steps.")
    if warmup == round(100 * WARMUP_SHARE):
        raise Wrong(f"warmup is {warmup:g}, the percentage itself; give {WARMUP_SHARE:.0%} of n_updates, in steps.")
    if math.isclose(warmup, 100 * WARMUP_SHARE * n_updates):
        raise Wrong(f"warmup is n_updates x {100 * WARMUP_SHARE:g}, longer than the run: {WARMUP_SHARE:.0%} is "
                    f"{WARMUP_SHARE:g} of it.")
    if warmup != int(warmup):
        raise Wrong(f"warmup is {warmup:g}: warmup_steps counts whole optimizer steps; round it.")
    if warmup == 0:
        raise Wrong("warmup is 0: a run with warmup starts from at least one step.")
    if warmup in warmup_choices(math.ceil(TRAIN_EXAMPLES / BATCH) * EPOCHS):
        raise Wrong("warmup is 10% of the batches; the schedule counts optimizer steps, n_updates.")
    raise Wrong(f"warmup is {warmup:g}; {WARMUP_SHARE:.0%} of {n_updates} steps is {WARMUP_SHARE * n_updates:g}, "
                "as a whole number.")


# ----------------------------------------------------------------------------- q3

LOSS_NAMES = ("loss", "eval_loss")


def stopping_problem(s: dict) -> None:
    """Nothing when the settings ``s`` (a ``to_dict()``) evaluate every ``EVAL_EVERY`` steps, keep a
    checkpoint of every evaluation (at most ``MAX_CHECKPOINTS`` on disk) and reload the one with the
    lowest validation loss; otherwise :class:`Wrong` naming the first mistake.

    >>> good = dict(eval_strategy="steps", eval_steps=50, save_strategy="steps", save_steps=50,
    ...             logging_steps=500, load_best_model_at_end=True, metric_for_best_model="eval_loss",
    ...             greater_is_better=False, save_total_limit=2)
    >>> stopping_problem(good)
    >>> try:
    ...     stopping_problem({**good, "greater_is_better": True})
    ... except Wrong as wrong:
    ...     print(str(wrong)[:68])
    greater_is_better=True with a loss keeps the checkpoint with the hig
    """
    eval_strategy, save_strategy = s["eval_strategy"], s["save_strategy"]
    if eval_strategy == "no":
        raise Wrong("eval_strategy is 'no': the run never evaluates, so early stopping has no validation score "
                    "to watch (EarlyStoppingCallback refuses to start). Evaluate every 50 steps: "
                    "eval_strategy='steps', eval_steps=50.")
    if eval_strategy != "steps":
        raise Wrong(f"eval_strategy is {eval_strategy!r}; the question evaluates every {EVAL_EVERY} optimizer steps: "
                    f"eval_strategy='steps', eval_steps={EVAL_EVERY}.")
    if s["eval_steps"] != EVAL_EVERY:
        unset = (" (left unset, eval_steps falls back on logging_steps)"
                 if s["eval_steps"] == s.get("logging_steps") else "")
        raise Wrong(f"eval_steps is {s['eval_steps']}{unset}; the question evaluates every {EVAL_EVERY} steps.")
    metric = s["metric_for_best_model"]
    if metric is None:
        raise Wrong("metric_for_best_model is not set: early stopping and the best model need a validation score "
                    "to compare (EarlyStoppingCallback refuses to start without one). Watch the validation loss.")
    if "train" in metric.lower():
        raise Wrong(f"metric_for_best_model is {metric!r}, the training loss. It keeps falling while the model "
                    "memorises its training data, so it cannot say when to stop; and Trainer looks it up among the "
                    f"evaluation's metrics (as 'eval_{metric}'), which stops the run with a KeyError at the first "
                    "evaluation. Watch the validation loss: 'eval_loss'.")
    if metric not in LOSS_NAMES:
        raise Wrong(f"metric_for_best_model is {metric!r}; the question watches the validation loss, 'eval_loss' "
                    "(Trainer adds the 'eval_' prefix itself, so 'loss' names it too).")
    if s["greater_is_better"]:
        raise Wrong("greater_is_better=True with a loss keeps the checkpoint with the highest validation loss, the "
                    "worst, and counts every improvement as a miss. A loss is better lower: greater_is_better=False "
                    "(or leave it unset: transformers sets False for a metric whose name ends in 'loss').")
    if save_strategy == "no":
        raise Wrong("save_strategy is 'no': without checkpoints there is no best model to reload at the end.")
    if save_strategy != "best" and save_strategy != eval_strategy:
        raise Wrong(f"save_strategy is {save_strategy!r} and eval_strategy {eval_strategy!r}: the best evaluation "
                    "may fall where no checkpoint was saved. load_best_model_at_end requires them to match "
                    "(or save_strategy='best').")
    if not s["load_best_model_at_end"]:
        raise Wrong(f"load_best_model_at_end is False: the run ends on its last model, {STOP_AFTER} steps past the "
                    "best one, which may already overfit. Set it to True to reload the best checkpoint.")
    if save_strategy == "steps" and s["save_steps"] != s["eval_steps"]:
        raise Wrong(f"save_steps is {s['save_steps']} and eval_steps {s['eval_steps']}: a best evaluation between "
                    "two saves has no checkpoint to reload, and early stopping waits for the next save. Save at "
                    f"every evaluation: save_steps={EVAL_EVERY} (or save_strategy='best').")
    limit = s.get("save_total_limit")
    if limit is None:
        raise Wrong(f"save_total_limit is not set: every checkpoint, one each {EVAL_EVERY} steps, stays on disk, "
                    f"and a long run fills a Colab disk. Keep at most {MAX_CHECKPOINTS} (the best is always kept).")
    if not 1 <= limit <= MAX_CHECKPOINTS:
        raise Wrong(f"save_total_limit is {limit}; the question keeps at most {MAX_CHECKPOINTS} checkpoints on disk.")


def patience_problem(patience) -> None:
    """Nothing when ``patience`` evaluations span ``STOP_AFTER`` steps; otherwise :class:`Wrong`.

    >>> try:
    ...     patience_problem(150)
    ... except Wrong as wrong:
    ...     print(str(wrong)[:59])
    patience is 150: early_stopping_patience counts evaluations
    """
    patience = checks.number(patience, "patience", whole=True, low=1)
    right = STOP_AFTER // EVAL_EVERY
    if patience == right:
        return
    if patience == STOP_AFTER:
        raise Wrong(f"patience is {patience}: early_stopping_patience counts evaluations without improvement, not "
                    f"optimizer steps. With one evaluation every {EVAL_EVERY} steps, {STOP_AFTER} steps are "
                    f"{STOP_AFTER} / {EVAL_EVERY} evaluations.")
    if patience == 1:
        raise Wrong(f"a patience of 1 stops at the first evaluation without improvement, {EVAL_EVERY} steps after "
                    f"the best, where one noisy validation score is enough to end the run. The question waits "
                    f"{STOP_AFTER} steps.")
    raise Wrong(f"patience is {patience}; it counts evaluations, one every {EVAL_EVERY} steps, and the question "
                f"stops after {STOP_AFTER} steps without improvement.")


def check_stopping(values, workdir):
    keys = ("eval_strategy", "eval_steps", "save_strategy", "save_steps", "load_best_model_at_end",
            "metric_for_best_model", "greater_is_better")
    stopping_problem(settings(values["stopping_settings"], "stopping_settings", "stopping_args", keys))
    patience_problem(values["patience"])
    return None


# ----------------------------------------------------------------------------- q4


def method_problem(name) -> str | None:
    """Nothing (or a remark) when ``name`` is the model method ``Trainer`` calls to turn activation
    checkpointing on; otherwise :class:`Wrong`.

    >>> method_problem("model.activation_checkpointing_enable()")
    >>> method_problem("gradient_checkpointing_enable")[:56]
    'gradient_checkpointing_enable works, but in transformers'
    """
    from transformers import PreTrainedModel

    if not isinstance(name, str):
        raise Wrong("enable_method should be the method's name, as text in quotes.")
    name = re.sub(r"^\s*(\w+\.)*|\(.*\)\s*$", "", name.strip().strip("'\""))
    exists = callable(getattr(PreTrainedModel, name, None))
    if name == ENABLE_METHOD and exists:
        return None
    if name == OLD_ENABLE_METHOD and exists:
        return (f"{OLD_ENABLE_METHOD} works, but in transformers 5.24 it is a deprecated alias of {ENABLE_METHOD}, "
                "which Trainer calls; the old name goes in v6.")
    if name in ("activation_checkpointing", "gradient_checkpointing"):
        raise Wrong(f"{name} is the TrainingArguments flag; enable_method asks for the model's method that Trainer "
                    "calls when the flag is set.")
    if name in ("supports_gradient_checkpointing", "is_activation_checkpointing", "is_gradient_checkpointing"):
        raise Wrong(f"{name} says whether the model can or does checkpoint; it turns nothing on.")
    raise Wrong(f"{name!r} is not the method that turns checkpointing on: list them with "
                "[n for n in dir(PreTrainedModel) if 'checkpointing' in n] and read their docstrings.")


def check_checkpointing(values, workdir):
    s = settings(values["checkpointing_settings"], "checkpointing_settings", "checkpointed_args",
                 ("per_device_train_batch_size", "gradient_accumulation_steps"))
    on = s.get("activation_checkpointing", s.get("gradient_checkpointing"))
    if not on:
        raise Wrong("activation checkpointing is off in checkpointed_args: set activation_checkpointing=True "
                    "(gradient_checkpointing is its older name, a deprecated alias in transformers 5.24).")
    per_device = checks.number(s["per_device_train_batch_size"], "per_device_train_batch_size", whole=True, low=1)
    accumulation = checks.number(s["gradient_accumulation_steps"], "gradient_accumulation_steps", whole=True, low=1)
    kept = EFFECTIVE_BATCH // MEMORY_BUDGET  # q1's accumulation, for batches of MEMORY_BUDGET
    if MEMORY_BUDGET < per_device <= CHECKPOINTED_BUDGET and accumulation == kept:
        raise Wrong(f"{per_device} x {accumulation} = {per_device * accumulation} examples per optimizer step: "
                    f"gradient_accumulation_steps={kept} was for batches of {MEMORY_BUDGET}. With {per_device} per "
                    f"pass, {EFFECTIVE_BATCH} examples take {EFFECTIVE_BATCH} / {per_device} passes.")
    batch_problem(per_device, accumulation, fits=CHECKPOINTED_BUDGET, effective=EFFECTIVE_BATCH)
    if per_device < CHECKPOINTED_BUDGET:
        raise Wrong(f"{per_device} x {accumulation} is the right update, but {CHECKPOINTED_BUDGET} examples fit now: "
                    f"{CHECKPOINTED_BUDGET} x {EFFECTIVE_BATCH // CHECKPOINTED_BUDGET} makes it in "
                    f"{EFFECTIVE_BATCH // CHECKPOINTED_BUDGET} forward and backward passes instead of {accumulation}. "
                    "Use the memory checkpointing frees.")
    remark = method_problem(values["enable_method"])
    if not flag(values["saves_memory"], "saves_memory"):
        raise Wrong("saves_memory: the forward pass normally keeps every activation inside each layer for the "
                    "backward pass; with checkpointing it keeps only each checkpointed layer's input and drops the "
                    "rest. That is the memory saved, and what lets a larger batch fit.")
    if not flag(values["adds_time"], "adds_time"):
        raise Wrong("adds_time: the activations dropped in the forward pass are needed for the gradients, so the "
                    "backward pass runs each checkpointed layer's forward again: about one more forward pass per "
                    "step (transformers' documentation estimates some 20% slower training).")
    return remark


# ----------------------------------------------------------------------------- q5


def check_contradiction(values, workdir):
    answer = checks.text(values["contradicted_rule"], "contradicted_rule", min_words=20)
    missing = checks.missing_topics(answer, {
        "which rule (a setting such as the learning rate, the batch or the epochs)":
            r"learning rate|\blr\b|rate|warmup|batch|epoch|patience|decay|rank|accumulat|checkpoint|example|data",
        "why the tiny models would differ (their size or their pretraining)":
            r"tiny|small|size|parameter|pretrain|million|brief|short|capacity|layer|width"})
    if missing:
        raise Wrong("contradicted_rule should say " + " and ".join(missing) + ".")
    return "written."


# Raise when a question changes what it asks, its variables or its check: notebooks record the
# version they were made for, and the grader warns about a submission made for another one.
VERSION = 1

QUESTIONS = QuestionSet("ex07", "Exercise 07 · Practical TrainingArguments, set and checked", [
    Question(
        "q1", f"At most {MEMORY_BUDGET} examples fit in your GPU's memory per step, and the recipe was tuned with "
              f"batches of {EFFECTIVE_BATCH}. Build `memory_args` (with `base_args`) so that every optimizer step "
              f"averages the gradients of {EFFECTIVE_BATCH} examples and no forward pass holds more than "
              f"{MEMORY_BUDGET}; set `memory_settings = memory_args.to_dict()`.",
        ("memory_settings",), check_memory,
        hints=("`per_device_train_batch_size` is what one forward and backward pass holds; "
               "`gradient_accumulation_steps` is how many of those passes add up their gradients before a step.",
               "The effective batch is their product.")),
    Question(
        "q2", f"A run trains on {TRAIN_EXAMPLES:,} examples for {EPOCHS} epochs with "
              f"`per_device_train_batch_size={BATCH}` and `gradient_accumulation_steps={ACCUMULATION}`, on one device. "
              f"Set `n_updates` (the optimizer steps Trainer takes) and `warmup` ({WARMUP_SHARE:.0%} of them: the "
              "value for `warmup_steps`, a whole number, at least 1).",
        ("n_updates", "warmup"), check_updates,
        hints=("Count the batches of one epoch (the last may be short), then the optimizer steps they make: one per "
               f"{ACCUMULATION} batches, and one more for a shorter remainder.",
               "`optimizer_steps(train_examples, batch_size, epochs)` from course_utils.training counts one step per "
               "batch: give it the effective batch. `warmup_steps` is a number of steps, not a share.")),
    Question(
        "q3", f"Build `stopping_args` (with `base_args`, a run of at most 1,000 optimizer steps) that evaluate on the "
              f"validation split every {EVAL_EVERY} optimizer steps, stop once the validation loss has not improved "
              f"for {STOP_AFTER} steps, reload the best model at the end and keep at most {MAX_CHECKPOINTS} "
              "checkpoints on disk, and `stopper`, the `EarlyStoppingCallback` for it. Set `stopping_settings = "
              "stopping_args.to_dict()` and `patience = stopper.early_stopping_patience`.",
        ("stopping_settings", "patience"), check_stopping,
        hints=("`eval_strategy`, `eval_steps`, `save_strategy`, `save_steps`, `load_best_model_at_end`, "
               "`metric_for_best_model`, `greater_is_better`, `save_total_limit`.",
               "A loss is better when lower. `early_stopping_patience` counts evaluations, not steps.")),
    Question(
        "q4", f"Suppose that with activation checkpointing on, {CHECKPOINTED_BUDGET} examples fit per step. Build "
              f"`checkpointed_args` with checkpointing on and an effective batch of {EFFECTIVE_BATCH} in as few "
              "accumulation steps as fit; set `checkpointing_settings = checkpointed_args.to_dict()`, "
              "`enable_method` (the name of the model's method that Trainer calls to turn checkpointing on) and "
              "`saves_memory`, `adds_time` (True or False: does checkpointing save memory? does it add time?).",
        ("checkpointing_settings", "enable_method", "saves_memory", "adds_time"), check_checkpointing,
        hints=("In transformers 5.24 the TrainingArguments flag is `activation_checkpointing` (formerly "
               "`gradient_checkpointing`).",
               "`[n for n in dir(PreTrainedModel) if 'checkpointing' in n]` lists the model's methods; their "
               "docstrings say which is current. What does the backward pass need that checkpointing dropped?")),
    Question(
        "q5", "Lesson 07 checks rules of thumb against the course's own runs. In `contradicted_rule` (a few "
              "sentences): which rule do you expect the tiny models of the smoke profile to contradict, and why?",
        ("contradicted_rule",), check_contradiction, auto=False,
        hints=("Compare the recipes of course_utils.recipes: `REAL` (for DistilBERT-sized models) and `TINY` (the "
               "tiny encoder's, chosen on validation); `WHY_TINY` says why they differ.",)),
], version=VERSION)

bind = QUESTIONS.bind
