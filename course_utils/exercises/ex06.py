"""Exercise 06: LoRA counted, started, placed, oriented and merged (lesson 06).

Every reference is recomputed from the course's models: their shapes from the bundled tiny models'
configurations, or from ``transformers``' defaults for ``distilbert-base-uncased`` and ``gpt2``
(the cpu and gpu profiles' models, which have those shapes), built on PyTorch's ``meta`` device,
which allocates no weights: a check downloads nothing, whatever the model's size. The numbers a
run produces (the logits after a few training steps) cannot be recomputed; they are checked for
what must hold whatever the run: a merged model computes what the adapter model does, and a
trained adapter changed the model.

>>> lora_parameters(128, 512, r=4)  # A is 4 x 128, B is 512 x 4
2560
"""

from __future__ import annotations

from functools import lru_cache

from course_utils.exercises import checks
from course_utils.exercises.core import Question, QuestionSet, Wrong
from course_utils.exercises.lm_checks import CAUSAL_LMS

ENCODERS = checks.ENCODERS  # the tiny encoder, then distilbert-base-uncased
RANK = 4  # the rank every question uses
ALPHA = 8  # q2's alpha: a scale of 2, unlike r (4), alpha (8) and r / alpha (0.5)
# Merging folds the update into the weights in float32: the merged model's logits differ from the
# adapter model's by rounding only (a few millionths on the tiny GPT-2, more on gpt2's larger
# logits); dropout left on, or a comparison with another model, differs by far more.
MERGE_TOLERANCE = 1e-3
SHARE_TOLERANCE = 1e-5


def lora_parameters(in_features: int, out_features: int, r: int) -> int:
    """What a rank-``r`` update of one layer trains: A (r x in) and B (out x r).

    >>> lora_parameters(768, 768, r=8)
    12288
    """
    return r * in_features + out_features * r


# ----------------------------------------------------------------------------- the models' shapes


def _meta_model(auto_class, config):
    """``auto_class.from_config(config)`` on the meta device: the shapes and names, no weights."""
    import torch

    with torch.device("meta"):
        return auto_class.from_config(config)


def _encoder_config(encoder: str):
    from transformers import AutoConfig, DistilBertConfig

    from course_utils import data, models

    labels = dict(num_labels=len(data.LABELS), id2label=data.id2label(), label2id=data.label2id())
    if encoder == ENCODERS[0]:
        return AutoConfig.from_pretrained(models.TINY_ENCODER, **labels)
    return DistilBertConfig(**labels)  # its defaults are distilbert-base-uncased's shape


def _encoder_classifier(encoder: str):
    from transformers import AutoModelForSequenceClassification

    return _meta_model(AutoModelForSequenceClassification, _encoder_config(encoder))


@lru_cache(maxsize=None)
def ffn_shape(encoder: str) -> tuple[int, int]:
    """``(in_features, out_features)`` of ``ffn.lin1`` in ``encoder``'s transformer blocks.

    >>> ffn_shape(ENCODERS[0])
    (128, 512)
    """
    config = _encoder_config(encoder)
    return config.dim, config.hidden_dim


@lru_cache(maxsize=None)
def trainable_shares(encoder: str) -> dict[str, float]:
    """The trainable share of ``add_lora(classifier, r=RANK)`` on ``encoder``, and what the usual
    mistakes give: the model before wrapping as the total, the LoRA matrices alone, add_lora's default
    rank, and every layer of the body adapted."""
    from course_utils.lora import add_lora, body_linear_modules, trainable_fraction
    from course_utils.models import parameter_count

    model = _encoder_classifier(encoder)
    before = parameter_count(model)
    every_layer = body_linear_modules(model)
    peft_model = add_lora(model, r=RANK)
    lora_only = sum(p.numel() for name, p in peft_model.named_parameters() if "lora_" in name)
    return {"right": trainable_fraction(peft_model),
            "total before add_lora": parameter_count(peft_model, trainable_only=True) / before,
            "LoRA matrices only": lora_only / parameter_count(peft_model),
            "r=8": trainable_fraction(add_lora(_encoder_classifier(encoder))),
            "every layer": trainable_fraction(add_lora(_encoder_classifier(encoder), r=RANK,
                                                       targets=every_layer))}


@lru_cache(maxsize=None)
def head_modules() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(new head modules, LoRA's default targets)`` of the course's DistilBERT classifier.

    >>> head_modules()
    (('classifier', 'pre_classifier'), ('q_lin', 'v_lin'))
    """
    from course_utils.lora import new_head_modules, target_modules

    model = _encoder_classifier(ENCODERS[0])  # both encoders are DistilBERTs: the same names
    return tuple(new_head_modules(model)), tuple(target_modules(model))


@lru_cache(maxsize=None)
def lm_sizes(lm: str) -> dict:
    """The shapes of ``lm`` that the questions ask about (a tied weight counted once in ``total``).

    >>> sizes = lm_sizes(CAUSAL_LMS[0])
    >>> sizes["c_attn"], sizes["total"]
    ((128, 384), 1383168)
    """
    from transformers import AutoConfig, AutoModelForCausalLM, GPT2Config

    from course_utils import models
    from course_utils.models import parameter_count

    config = AutoConfig.from_pretrained(models.TINY_GPT2) if lm == CAUSAL_LMS[0] else GPT2Config()
    model = _meta_model(AutoModelForCausalLM, config)
    c_attn = model.transformer.h[0].attn.c_attn
    return {"c_attn": tuple(c_attn.weight.shape), "total": parameter_count(model),
            "output_layer": model.lm_head.weight.numel(),
            "adapter": config.n_layer * lora_parameters(c_attn.nx, c_attn.nf, RANK)}


# ----------------------------------------------------------------------------- q1


def count_problem(n_lora, n_full, in_features: int, out_features: int, r: int = RANK) -> None:
    """Nothing when both counts are right for a layer of that shape; otherwise :class:`Wrong` naming
    the mistake.

    >>> try:  # doctest: +NORMALIZE_WHITESPACE
    ...     count_problem(512, 66048, 128, 512)
    ... except Wrong as wrong:
    ...     print(wrong)
    n_lora counts one matrix only (4 x 128 = 512, or 512 x 4 = 2048): LoRA trains two,
    A (r x in_features) and B (out_features x r), and adds their product.
    """
    lora = lora_parameters(in_features, out_features, r)
    weight, full = in_features * out_features, in_features * out_features + out_features
    if n_full == weight:
        raise Wrong("n_full leaves out the bias: full fine-tuning trains the layer's weight and its bias "
                    "(lin1.weight.numel() + lin1.bias.numel()).")
    if n_full == lora:
        raise Wrong("n_full is the LoRA count; it is what full fine-tuning trains in the layer: every entry of "
                    "its weight, and its bias.")
    if n_full != full:
        raise Wrong(f"n_full is {n_full}; count the entries of the layer's weight (out_features x in_features) "
                    "and of its bias (out_features).")
    if n_lora == lora:
        return
    if n_lora in (lora + weight, lora + full):
        raise Wrong("n_lora counts the pretrained weight too: it stays frozen under LoRA, so only A and B "
                    "train.")
    if n_lora in (r * in_features, out_features * r):
        raise Wrong(f"n_lora counts one matrix only ({r} x {in_features} = {r * in_features}, or {out_features} "
                    f"x {r} = {out_features * r}): LoRA trains two, A (r x in_features) and B "
                    "(out_features x r), and adds their product.")
    if n_lora in (2 * r * in_features, 2 * r * out_features) and in_features != out_features:
        raise Wrong(f"A and B are not the same size here: the layer maps {in_features} features to "
                    f"{out_features}, so A is r x {in_features} and B is {out_features} x r.")
    if n_lora == r * r:
        raise Wrong("r x r is neither matrix: A takes the layer's input down to r numbers (r x in_features), "
                    "B brings them up to its output (out_features x r).")
    raise Wrong(f"n_lora is {n_lora}; a rank-{r} update trains A (r x in_features) and B (out_features x r): "
                "read in_features and out_features from the layer.")


def check_counts(values, workdir):
    n_lora = checks.number(values["n_lora"], "n_lora", whole=True, low=1)
    n_full = checks.number(values["n_full"], "n_full", whole=True, low=1)
    shapes = {encoder: ffn_shape(encoder) for encoder in ENCODERS}
    # the encoder whose layer the learner counted: the one their n_full fits, else the tiny one
    encoder = next((e for e, (i, o) in shapes.items() if n_full == i * o + o), ENCODERS[0])
    count_problem(n_lora, n_full, *shapes[encoder])
    return f"{n_lora / n_full:.1%} of the layer's parameters, on {encoder}."


# ----------------------------------------------------------------------------- q2


def scale_problem(scale: float, r: int = RANK, alpha: float = ALPHA) -> None:
    """Nothing when ``scale`` is ``alpha / r``; otherwise :class:`Wrong` naming what it is instead.

    >>> scale_problem(2.0)
    >>> try:
    ...     scale_problem(0.5)
    ... except Wrong as wrong:
    ...     print(wrong)
    lora_scale is r / alpha, upside down: the update is multiplied by alpha / r.
    """
    if abs(scale - alpha / r) <= 1e-9:
        return
    if abs(scale - r / alpha) <= 1e-9:
        raise Wrong("lora_scale is r / alpha, upside down: the update is multiplied by alpha / r.")
    if scale == alpha:
        raise Wrong(f"lora_scale is alpha itself; the update is scaled by alpha / r, here {alpha:g} / {r}.")
    if scale == r:
        raise Wrong(f"lora_scale is the rank; the update is scaled by alpha / r, here {alpha:g} / {r}.")
    if scale == 1:
        raise Wrong(f"a scale of 1 is what alpha = r gives (LowRankLinear's default); the question sets "
                    f"alpha={alpha:g}.")
    raise Wrong(f"lora_scale is {scale:g}; the update is scaled by alpha / r (wrapped.scale holds it).")


def check_zero_start(values, workdir):
    diff = checks.number(values["max_diff_at_init"], "max_diff_at_init")
    scale = checks.number(values["lora_scale"], "lora_scale")
    if diff < 0:
        raise Wrong("max_diff_at_init is negative: take the absolute value of the difference before its maximum, "
                    "(a - b).abs().max().")
    if diff != 0:
        raise Wrong(f"max_diff_at_init is {diff:.3g}, but B starts at zero, so B A x is exactly zero and the "
                    "wrapped layer's output equals the original's, bit for bit. Compare the wrapped layer and the "
                    "layer it wraps on the same input, before any training step.")
    scale_problem(scale)
    return None


# ----------------------------------------------------------------------------- q3


def heads_problem(given, heads, targets) -> None:
    """Nothing when ``given`` names exactly the ``heads``; otherwise :class:`Wrong` saying what is
    missing or extra.

    >>> try:
    ...     heads_problem(["classifier"], ["classifier", "pre_classifier"], ["q_lin", "v_lin"])
    ... except Wrong as wrong:
    ...     print(str(wrong)[:75])
    pre_classifier is missing: DistilBERT's head has two layers, pre_classifier
    """
    if isinstance(given, str):
        raise Wrong("saved_heads is one string; give a list with one string per module name, such as "
                    "['first_module', 'second_module'].")
    if not isinstance(given, list) or not all(isinstance(name, str) for name in given):
        raise Wrong("saved_heads should be a list of module names (strings), such as ['some_module'].")
    names = {name.strip() for name in given}
    lora_targets = sorted(names & set(targets))
    if lora_targets:
        raise Wrong(f"{', '.join(lora_targets)} get LoRA matrices: their own weights stay frozen, and only A and "
                    "B train. List the modules that train in full, every weight of them.")
    if "score" in names and "score" not in heads:
        raise Wrong("this DistilBERT has no module named 'score': peft lists 'score' (the head's name in other "
                    "architectures) in modules_to_save for every classifier. List the modules of this model "
                    "whose parameters are trainable.")
    if "pre_classifier" in heads and "pre_classifier" not in names and "classifier" in names:
        raise Wrong("pre_classifier is missing: DistilBERT's head has two layers, pre_classifier and classifier, "
                    "both new and at random initial values. Each must train (a frozen one stays random) and be "
                    "saved with the adapter (or loading the adapter rebuilds it at random): the classic silent "
                    "LoRA bug.")
    missing, extra = sorted(set(heads) - names), sorted(names - set(heads))
    if missing or extra:
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
            [f"{', '.join(extra)} should not be there"] if extra else [])
        raise Wrong(f"saved_heads: {'; '.join(parts)}. List the modules outside the pretrained body whose "
                    "parameters are trainable (their names hold 'modules_to_save').")


def check_heads(values, workdir):
    heads, targets = head_modules()
    heads_problem(values["saved_heads"], heads, targets)
    share = checks.fraction(values["trainable_share"], "trainable_share")
    for encoder in ENCODERS:
        shares = trainable_shares(encoder)
        if abs(share - shares["right"]) <= SHARE_TOLERANCE:
            return f"on {encoder}."
        if abs(share - shares["total before add_lora"]) <= SHARE_TOLERANCE:
            return (f"on {encoder}, over the parameters before add_lora; trainable_fraction also counts the "
                    "frozen original peft keeps beside each head's trained copy, hence a slightly smaller share.")
    for encoder in ENCODERS:
        shares = trainable_shares(encoder)
        if abs(share - shares["LoRA matrices only"]) <= SHARE_TOLERANCE:
            raise Wrong("that counts the LoRA matrices only: the new head (pre_classifier and classifier) trains "
                        "too, in full. Count every parameter with requires_grad, or call trainable_fraction.")
        if abs(share - shares["r=8"]) <= SHARE_TOLERANCE:
            raise Wrong(f"that is the share at r=8, add_lora's default; the question uses r={RANK}.")
        if abs(share - shares["every layer"]) <= SHARE_TOLERANCE:
            raise Wrong("that adapts every layer of the body; the question keeps add_lora's default targets, the "
                        "attention's queries and values (q_lin and v_lin).")
    raise Wrong(f"trainable_share is {share:.4g}; build add_lora(fresh_classifier(), r={RANK}) and give "
                "trainable_fraction of it (trainable parameters over all of them), unrounded.")


# ----------------------------------------------------------------------------- q4


def check_conv1d(values, workdir):
    shape = values["c_attn_weight_shape"]
    if not isinstance(shape, list) or len(shape) != 2:
        raise Wrong("c_attn_weight_shape should be the weight's shape, two numbers: tuple(c_attn.weight.shape).")
    shape = tuple(checks.number(n, "c_attn_weight_shape", whole=True, low=1) for n in shape)
    flag = values["fan_in_fan_out"]
    if not isinstance(flag, bool):
        raise Wrong("fan_in_fan_out should be True or False, without quotes.")
    sizes = {lm: lm_sizes(lm)["c_attn"] for lm in CAUSAL_LMS}
    which = next((lm for lm, right in sizes.items() if shape == right), None)
    if which is None:
        for right in sizes.values():
            if shape == right[::-1]:
                raise Wrong(f"{shape} is the nn.Linear orientation, (out_features, in_features). GPT-2's c_attn is "
                            "a Conv1D, which stores its weight the other way round, (in_features, out_features): "
                            "print its weight's shape rather than assume it.")
            if shape == (right[0], right[0]):
                raise Wrong(f"c_attn computes the queries, the keys and the values in one layer: its output is "
                            f"three times as wide as its input of {right[0]}.")
        raise Wrong("c_attn_weight_shape is not the shape of a course GPT-2's c_attn weight: "
                    "print(model.transformer.h[0].attn.c_attn.weight.shape).")
    if not flag:
        raise Wrong("fan_in_fan_out says how the layer stores its weight. A Conv1D stores it (in_features, "
                    "out_features), the transpose of nn.Linear's, so it must be True: with False, the update B A, "
                    "shaped (out, in), would be added to a weight shaped (in, out). peft corrects this for "
                    "Conv1D with a warning, but code that merges by hand, or a square layer such as c_proj, "
                    "would add the transposed update without complaint.")
    return f"on {which}."


# ----------------------------------------------------------------------------- q5


def check_merge(values, workdir):
    diff = checks.number(values["merge_max_diff"], "merge_max_diff", low=0)
    change = checks.number(values["max_change"], "max_change", low=0)
    n_params = checks.number(values["n_params_merged"], "n_params_merged", whole=True, low=1)
    if change == 0:
        raise Wrong("max_change is 0: the merged model computes exactly what the pretrained one does. Were the "
                    "base logits computed after merging? add_lora and merge_and_unload change the model you pass "
                    "them in place, so compute the base logits first. Or did no training step run? B starts at "
                    "zero: an untrained adapter changes nothing.")
    if diff > MERGE_TOLERANCE:
        if diff == change:
            raise Wrong("merge_max_diff equals max_change: it compares the merged model with the pretrained one. "
                        "Compare the merged model's logits with the adapter model's, computed before merging.")
        raise Wrong(f"merge_max_diff is {diff:.3g}, but merging adds (alpha / r) B A to each adapted weight, so "
                    "the merged model computes the same function up to rounding (below 1e-3). Compute both sets "
                    "of logits in eval mode (dropout makes every forward pass in train mode differ), on the same "
                    "batch, the adapter model's before merge_and_unload.")
    for lm in CAUSAL_LMS:
        sizes = lm_sizes(lm)
        if n_params == sizes["total"]:
            return f"on {lm}: merging folded the update into the weights and added no parameter."
    for lm in CAUSAL_LMS:
        sizes = lm_sizes(lm)
        if n_params == sizes["total"] + sizes["adapter"]:
            raise Wrong("n_params_merged still counts the LoRA matrices: merge_and_unload adds B A into the "
                        "weights and removes the adapter, so count the parameters of the model it returns.")
        if n_params == sizes["total"] + sizes["output_layer"]:
            raise Wrong("n_params_merged counts the output layer's weight a second time: GPT-2's output layer "
                        "shares its weight with the input embeddings. model.parameters() lists a shared weight "
                        "once; a state_dict lists it under both names.")
    raise Wrong(f"n_params_merged is {n_params:,}, which is not the size of a course GPT-2. Count the model "
                "merge_and_unload returns: sum(p.numel() for p in merged.parameters()).")


# Raise when a question changes what it asks, its variables or its check: notebooks record the
# version they were made for, and the grader warns about a submission made for another one.
VERSION = 1

QUESTIONS = QuestionSet("ex06", "Exercise 06 · LoRA, counted and checked", [
    Question(
        "q1", f"The first feed-forward layer of the encoder's first block, `ffn.lin1`, takes the model's width to "
              f"the feed-forward width. Set `n_lora` (the parameters a rank-{RANK} LoRA update of it trains) and "
              "`n_full` (the parameters full fine-tuning trains in it).",
        ("n_lora", "n_full"), check_counts,
        hints=("`lin1.in_features` and `lin1.out_features` give its shape; A is r x in_features, B is "
               "out_features x r.",
               "Full fine-tuning trains the weight (out x in) and the bias (out). "
               "`LowRankLinear(lin1, r=4).trainable_parameters()` counts A and B for you.")),
    Question(
        "q2", f"Wrap the first block's `q_lin` with `LowRankLinear(q_lin, r={RANK}, alpha={ALPHA})` and run both "
              "on the same random batch. Set `max_diff_at_init` (the largest absolute difference between the "
              "wrapped layer's output and the original's) and `lora_scale` (the factor the update is multiplied by).",
        ("max_diff_at_init", "lora_scale"), check_zero_start,
        hints=("`(wrapped(x) - q_lin(x)).abs().max().item()`, under `torch.no_grad()`.",
               "Which of A and B starts at zero? The scale is a ratio of alpha and r.")),
    Question(
        "q3", f"Put LoRA on a fresh classifier with `add_lora(fresh_classifier(), r={RANK})`. Set `saved_heads` "
              "(the names of the modules that train in full, besides the LoRA matrices) and `trainable_share` "
              "(the trainable parameters' share of all of them).",
        ("saved_heads", "trainable_share"), check_heads,
        hints=("List the names of the parameters with `requires_grad` that are not `lora_` matrices.",
               "`lora.trainable_fraction(peft_model)` gives the share; a name such as "
               "`base_model.model.X.modules_to_save...` belongs to module X.")),
    Question(
        "q4", "GPT-2's attention projection `c_attn` is a `Conv1D`, not an `nn.Linear`. Set `c_attn_weight_shape` "
              "(the shape of the first block's `c_attn` weight) and `fan_in_fan_out` (True or False: the value "
              "peft's `LoraConfig` needs for it).",
        ("c_attn_weight_shape", "fan_in_fan_out"), check_conv1d,
        hints=("`tuple(lm.transformer.h[0].attn.c_attn.weight.shape)`; compare with the layer's input width, "
               "`lm.config.n_embd`.",
               "An nn.Linear stores its weight (out_features, in_features); fan_in_fan_out=True tells peft the "
               "layer stores it (in_features, out_features).")),
    Question(
        "q5", f"Train a rank-{RANK} adapter on the causal LM for 3 steps, then merge it with `merge_and_unload()`. "
              "Set `merge_max_diff` (the largest absolute difference between the merged model's logits and the "
              "adapter model's), `max_change` (the same between the merged model's and the pretrained model's) "
              "and `n_params_merged` (the merged model's parameter count).",
        ("merge_max_diff", "max_change", "n_params_merged"), check_merge,
        hints=("Compute the pretrained logits before add_lora (it changes the model in place), and every logit "
               "in eval mode on the same batch.",
               "After merging, the LoRA matrices are gone: count the parameters of the model merge_and_unload "
               "returns.")),
], version=VERSION)

bind = QUESTIONS.bind
