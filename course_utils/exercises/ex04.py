"""Exercise 04: perplexity before and after, freezing the last layers, replay, an anchor, and a
comparison paired by seed (lesson 04).

Perplexities of the pretrained model are recomputed here (the bundled tiny GPT-2 always; ``gpt2``
when it is already on this machine), as are parameter counts (any GPT-2 shape, built without a
download), the replay count and the anchor penalty. The trained models' perplexities come from
training, so they are checked for consistency: finite, changed, the domain one lower, and the
differences and intervals the learner reports agree with them.
"""

from __future__ import annotations

import math
from functools import lru_cache

from course_utils.exercises import checks, lm_checks
from course_utils.exercises.core import Question, QuestionSet, Wrong

REL_TOL = 1e-3


def _close(a: float, b: float, rel: float = REL_TOL) -> bool:
    return abs(a - b) <= rel * max(abs(b), 1e-12)


# ----------------------------------------------------------------------------- q1


@lru_cache(maxsize=None)
def reference_perplexities() -> dict:
    """``{model: {"general": ..., "domain": ...}}`` for the pretrained causal LMs on this machine."""
    from course_utils import corpus
    from course_utils.forgetting import perplexity

    general = corpus.general_text("heldout")
    domain = checks.test_frame()["text"].tolist()
    out = {}
    with lm_checks.course_threads():
        for name, model in lm_checks.pretrained_causal_lms():
            tokenizer = lm_checks.causal_tokenizers()[name]
            out[name] = {"general": perplexity(model, tokenizer, general),
                         "domain": perplexity(model, tokenizer, domain)}
    return out


def check_before(values, workdir):
    general = checks.number(values["ppl_general_before"], "ppl_general_before")
    domain = checks.number(values["ppl_domain_before"], "ppl_domain_before")
    refs = reference_perplexities()
    for name, ref in refs.items():
        if _close(general, ref["general"]) and _close(domain, ref["domain"]):
            return f"measured on {name}."
    for name, ref in refs.items():
        if _close(general, ref["domain"]) and _close(domain, ref["general"]):
            raise Wrong("your two perplexities are swapped: ppl_general_before is on the general text "
                        "(Python's documentation), ppl_domain_before on the held-out domain texts.")
        for value, key, var in ((general, "general", "ppl_general_before"), (domain, "domain", "ppl_domain_before")):
            if value > 0 and _close(math.exp(value), ref[key]):
                raise Wrong(f"{var} is {value:.3f}, the mean loss per token; perplexity is its exponential, "
                            "exp(loss). perplexity() returns it directly.")
    tiny = refs[lm_checks.CAUSAL_LMS[0]]
    raise Wrong(f"you have {general:.1f} (general) and {domain:.1f} (domain). With perplexity(model, tokenizer, "
                f"texts) and its default window, the pretrained {lm_checks.CAUSAL_LMS[0]} gives {tiny['general']:.1f} "
                f"on corpus.general_text('heldout') and {tiny['domain']:.1f} on splits['test']['text']. "
                "Measure a fresh model, before any training.")


# ----------------------------------------------------------------------------- q2


def check_after(values, workdir):
    names = ("ppl_general_before", "ppl_domain_before", "ppl_general_after", "ppl_domain_after")
    general0, domain0, general1, domain1 = (checks.number(values[n], n, low=1) for n in names)
    forgotten = checks.number(values["forgotten"], "forgotten")
    learned = checks.number(values["learned"], "learned")
    if _close(general1, general0, 1e-9) and _close(domain1, domain0, 1e-9):
        raise Wrong("the perplexities after are exactly those before: measure the model that "
                    "continue_pretraining trained (it trains the model you pass, in place).")
    if domain1 >= domain0:
        raise Wrong(f"the domain perplexity did not fall ({domain0:.1f} before, {domain1:.1f} after): the model "
                    "learned nothing on its domain. Train on domain_train with the recipe's high rate and "
                    "steps, and measure the trained model.")
    for value, want, var, how in ((forgotten, general1 - general0, "forgotten", "ppl_general_after - ppl_general_before"),
                                  (learned, domain0 - domain1, "learned", "ppl_domain_before - ppl_domain_after")):
        if abs(value - want) <= 1e-3 * max(1.0, abs(want)):
            continue
        if abs(value + want) <= 1e-3 * max(1.0, abs(want)):
            raise Wrong(f"{var} has the wrong sign: it is {how}.")
        raise Wrong(f"{var} is {value:.2f}, but by your perplexities {how} is {want:.2f}.")
    verdict = "rose" if general1 > general0 else "did not rise"
    return f"general perplexity {verdict} ({general0:.1f} to {general1:.1f}), domain fell ({domain0:.1f} to {domain1:.1f})."


# ----------------------------------------------------------------------------- q3


def check_freeze_last(values, workdir):
    blocks = checks.int_list(values["frozen_blocks"], "frozen_blocks")
    trainable = checks.number(values["n_trainable_last"], "n_trainable_last", whole=True, low=0)
    total = checks.number(values["n_total_lm"], "n_total_lm", whole=True, low=1)
    lm = lm_checks.causal_lm_by_total(total, "n_total_lm")
    n_layers = lm_checks.causal_lm_counts(lm, 0)[2]
    half = n_layers // 2
    want_trainable, _, _, want_blocks = lm_checks.causal_lm_counts(lm, half, False, "last")
    first_blocks = lm_checks.causal_lm_counts(lm, half, False, "first")[3]
    if sorted(blocks) != list(want_blocks):
        if sorted(blocks) == list(first_blocks):
            raise Wrong(f"blocks {first_blocks} are the first {half}; which='last' freezes the last {half} "
                        f"of the {n_layers}: {list(want_blocks)}.")
        raise Wrong(f"frozen_blocks is {blocks}; {lm} has {n_layers} blocks, numbered from 0 at the input, and "
                    f"the last {half} are frozen. Read them from requires_grad, e.g. "
                    "[i for i, block in enumerate(model.transformer.h) if not any(p.requires_grad for p in block.parameters())].")
    if trainable == want_trainable:
        return None
    if trainable == total:
        raise Wrong("n_trainable_last equals n_total_lm: nothing is frozen. Call freeze_layers first, then count "
                    "the parameters with requires_grad=True.")
    if trainable == total - want_trainable:
        raise Wrong("that is the number of frozen parameters; count those that still train (requires_grad=True).")
    if trainable == lm_checks.causal_lm_counts(lm, half, True, "last")[0]:
        raise Wrong("the embeddings are frozen too (freeze_layers freezes them unless embeddings=False). GPT-2's "
                    "output layer is its input embedding matrix, tied, so that also froze the output layer: "
                    "the lesson keeps the embeddings trainable for this comparison.")
    raise Wrong(f"n_trainable_last is {trainable:,}; with the last {half} blocks frozen and the embeddings "
                f"trainable, {lm} trains {want_trainable:,} of its {total:,} parameters.")


# ----------------------------------------------------------------------------- q4

REPLAY_SHARE = 0.25


def _domain_sizes() -> list[int]:
    return sorted({len(texts) for texts, _ in checks.training_splits().values()})


def check_replay(values, workdir):
    n = checks.number(values["n_replayed"], "n_replayed", whole=True, low=0)
    share = checks.fraction(values["replay_share"], "replay_share")
    sizes = _domain_sizes()
    for size in sizes:
        want = round(size * REPLAY_SHARE / (1 - REPLAY_SHARE))
        if n == want:
            actual = n / (size + n)
            if abs(share - actual) <= 1e-4:
                return f"{n} general texts among {size + n}."
            raise Wrong(f"replay_share is {share:.4f}; {n} general texts in a mix of {size + n} make "
                        f"{actual:.4f} (the count is rounded, so it need not be exactly {REPLAY_SHARE}).")
    for size in sizes:
        if n == round(size * REPLAY_SHARE):
            raise Wrong(f"{n} is {REPLAY_SHARE:.0%} of the {size} domain texts; replay_mix makes general text "
                        f"{REPLAY_SHARE:.0%} of the *mix*, so it adds n with n / ({size} + n) = {REPLAY_SHARE}.")
    expected = ", ".join(f"{round(s * REPLAY_SHARE / (1 - REPLAY_SHARE))} for {s} domain texts" for s in sizes)
    raise Wrong(f"n_replayed is {n}; replay_mix(domain_train, general_train, {REPLAY_SHARE}) adds {expected}. "
                "Count len(mixed) - len(domain_train).")


# ----------------------------------------------------------------------------- q5

ANCHOR_STRENGTH, SHIFT = 0.1, 0.01


def _last_block_size(lm: str) -> int:
    total = lm_checks.causal_lm_counts(lm, 0)[1]
    return total - lm_checks.causal_lm_counts(lm, 1, False, "last")[0]


@lru_cache(maxsize=None)
def _distance_to_zero() -> dict:
    """For the tiny GPT-2 with its last block shifted: strength * sum of squared weights (weight decay's
    pull toward zero), over the last block and over the whole model."""
    import torch

    model = lm_checks._new_causal_lm(lm_checks.CAUSAL_LMS[0])
    with torch.no_grad():
        for p in model.transformer.h[-1].parameters():
            p += SHIFT
    block = sum(float((p.detach().double() ** 2).sum()) for p in model.transformer.h[-1].parameters())
    every = sum(float((p.detach().double() ** 2).sum()) for p in model.parameters())
    return {"block": ANCHOR_STRENGTH * block, "model": ANCHOR_STRENGTH * every}


def check_anchor(values, workdir):
    value = checks.number(values["anchor_penalty"], "anchor_penalty", low=0)
    for lm in lm_checks.CAUSAL_LMS:
        if _close(value, ANCHOR_STRENGTH * _last_block_size(lm) * SHIFT ** 2):
            return None
    n = _last_block_size(lm_checks.CAUSAL_LMS[0])
    want = ANCHOR_STRENGTH * n * SHIFT ** 2
    total = lm_checks.causal_lm_counts(lm_checks.CAUSAL_LMS[0], 0)[1]
    zero = _distance_to_zero()
    if _close(value, n * SHIFT ** 2):
        raise Wrong(f"anchor_penalty is {value:.4g}: the strength ({ANCHOR_STRENGTH}) is missing.")
    if _close(value, ANCHOR_STRENGTH * math.sqrt(n) * SHIFT):
        raise Wrong("that is the strength times the distance (a square root); the penalty sums the *squared* "
                    "differences, with no square root.")
    if _close(value, ANCHOR_STRENGTH * SHIFT ** 2):
        raise Wrong("that is a mean over the weights; the penalty is a sum over every weight.")
    if _close(value, ANCHOR_STRENGTH * total * SHIFT ** 2):
        raise Wrong("that counts every parameter of the model as moved; only the last block was shifted.")
    if _close(value, zero["block"]) or _close(value, zero["model"]):
        raise Wrong("that measures the weights' distance to zero, which is what weight decay pulls toward; "
                    "the anchor measures the distance to the pretrained weights, w - w0.")
    raise Wrong(f"anchor_penalty is {value:.4g}; with strength {ANCHOR_STRENGTH} and every weight of the last "
                f"block moved by {SHIFT}, the tiny GPT-2 ({n:,} weights in that block) gives "
                f"{ANCHOR_STRENGTH} * {n:,} * {SHIFT}^2 = {want:.4g}.")


# ----------------------------------------------------------------------------- q6

MIN_SEEDS = 3


def _per_seed(value, name: str) -> list[float]:
    if not isinstance(value, (list, tuple)):
        raise Wrong(f"`{name}` should be a list with one number per seed, e.g. [12.1, 14.0, 13.2].")
    numbers = [checks.number(v, f"{name}[{i}]") for i, v in enumerate(value)]
    if len(numbers) < MIN_SEEDS:
        raise Wrong(f"`{name}` has {len(numbers)} value(s); run at least {MIN_SEEDS} seeds.")
    if max(numbers) - min(numbers) < 1e-9:
        raise Wrong(f"every value of `{name}` is the same: each run needs its own seed (seed=seed).")
    return [float(v) for v in numbers]


def check_paired(values, workdir):
    from scipy import stats

    high = _per_seed(values["forgotten_high"], "forgotten_high")
    low = _per_seed(values["forgotten_low"], "forgotten_low")
    if len(high) != len(low):
        raise Wrong(f"forgotten_high has {len(high)} seeds and forgotten_low {len(low)}: run both rates for the "
                    "same seeds, so that each seed gives one pair.")
    given = [checks.number(values[n], n) for n in ("diff_mean", "diff_low", "diff_high")]
    n = len(high)
    diffs = [h - l for h, l in zip(high, low)]
    mean = sum(diffs) / n
    sd = stats.tstd(diffs)  # ddof=1
    half = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
    width = max(half, 1e-9)

    def near(a, b):
        return abs(a - b) <= 1e-3 * max(width, abs(b), 1e-6)

    if near(given[0], -mean):
        raise Wrong("diff_mean has the wrong sign: it is high minus low, seed by seed.")
    if not near(given[0], mean):
        raise Wrong(f"diff_mean is {given[0]:.3f}; the mean of the per-seed differences (high minus low) of your "
                    f"lists is {mean:.3f}.")
    if near(given[1], mean - half) and near(given[2], mean + half):
        verdict = ("above zero: the high rate forgets more" if mean - half > 0 else
                   "below zero: the low rate forgets more" if mean + half < 0 else "includes zero: not separated")
        return f"high minus low {mean:.2f} (95 % t-interval {mean - half:.2f} to {mean + half:.2f}, {n} seeds): {verdict}."
    lo_hi = (given[1], given[2])
    unpaired = stats.t.ppf(0.975, n - 1) * math.sqrt(stats.tvar(high) / n + stats.tvar(low) / n)
    wrongs = {
        "z": (1.96 * sd / math.sqrt(n), f"that interval uses 1.96, the normal distribution's value; with {n} seeds "
              f"use Student's t with {n - 1} degrees of freedom: scipy.stats.t.ppf(0.975, {n - 1}) = "
              f"{stats.t.ppf(0.975, n - 1):.2f}."),
        "ddof0": (stats.t.ppf(0.975, n - 1) * math.sqrt(sum((d - mean) ** 2 for d in diffs) / n) / math.sqrt(n),
                  "the standard deviation divides by n; a sample's divides by n - 1 (ddof=1)."),
        "no_sqrt": (stats.t.ppf(0.975, n - 1) * sd, "that half-width is t times the standard deviation; the "
                    "standard error of the mean divides it by the square root of the number of seeds."),
        "unpaired": (unpaired, "that interval treats the two lists as independent samples. The runs are paired: "
                     "the same seed gives the same batch order to both rates, so take the differences seed by "
                     "seed first and put the interval on their mean."),
    }
    for other, message in wrongs.values():
        if near(lo_hi[0], mean - other) and near(lo_hi[1], mean + other):
            raise Wrong(message)
    raise Wrong(f"diff_low and diff_high are {lo_hi[0]:.3f} and {lo_hi[1]:.3f}; the 95 % t-interval of your "
                f"{n} paired differences is {mean - half:.3f} to {mean + half:.3f}: mean +/- t.ppf(0.975, n - 1) * "
                "sd(ddof=1) / sqrt(n).")


# Raise when a question changes what it asks, its variables or its check: notebooks record the
# version they were made for, and the grader warns about a submission made for another one.
VERSION = 2

QUESTIONS = QuestionSet("ex04", "Exercise 04 · Forgetting, measured and prevented", [
    Question(
        "q1", "Measure the pretrained language model's perplexity on the general text and on the held-out "
              "domain texts. Set `ppl_general_before` and `ppl_domain_before`.",
        ("ppl_general_before", "ppl_domain_before"), check_before,
        hints=("`perplexity(model, tokenizer, texts)` from course_utils.forgetting, with its default window.",
               "General text: `corpus.general_text('heldout')`; domain: `splits['test']['text']`.")),
    Question(
        "q2", "Continue pretraining a fresh model on the domain training texts with the lesson's recipe (the high "
              "rate, `recipe.steps` steps of `recipe.batch_size` blocks) and measure it again. Set "
              "`ppl_general_after`, `ppl_domain_after`, `forgotten` (general after minus before) and `learned` "
              "(domain before minus after).",
        ("ppl_general_before", "ppl_domain_before", "ppl_general_after", "ppl_domain_after", "forgotten", "learned"),
        check_after,
        hints=("`continue_pretraining(cfg, model, tokenizer, domain_train, name=..., learning_rate=recipe.high_rate, "
               "max_steps=recipe.steps, batch_size=recipe.batch_size, output_dir=...)` trains `model` in place.",
               "Forgotten is a rise in general perplexity; learned is a fall in domain perplexity.")),
    Question(
        "q3", "Freeze the last half of a fresh model's blocks, embeddings kept trainable. Set `frozen_blocks` "
              "(indices of the frozen blocks), `n_trainable_last` and `n_total_lm`.",
        ("frozen_blocks", "n_trainable_last", "n_total_lm"), check_freeze_last,
        hints=("`freeze_layers(model, n_layers // 2, embeddings=False, which='last')`.",
               "A block is frozen when none of its parameters has requires_grad=True; the blocks are "
               "`model.transformer.h`.")),
    Question(
        "q4", "Mix general text into the domain training texts with `replay_mix(..., 0.25)`. Set `n_replayed` "
              "(general texts added) and `replay_share` (their share of the mix).",
        ("n_replayed", "replay_share"), check_replay,
        hints=("The mix holds every domain text plus the general ones: count len(mixed) - len(domain_train).",)),
    Question(
        "q5", "Write the anchor penalty `strength * sum((w - w0) ** 2)` yourself and evaluate it with strength 0.1 "
              "after moving every weight of a fresh model's last block by +0.01. Set `anchor_penalty`.",
        ("anchor_penalty",), check_anchor,
        hints=("Keep `{n: p.detach().clone() for n, p in model.named_parameters()}` before moving anything.",
               "Sum `((p - reference[n]) ** 2).sum()` over every parameter, then multiply by the strength. "
               "An `anchor = WeightAnchor(model, 0.1)` made before the move should agree: `anchor.penalty(model)`.")),
    Question(
        "q6", "Run the high and the low learning rate (the recipe's) for seeds 0, 1 and 2, each from a fresh model, "
              "and measure only the general perplexity. Set `forgotten_high` and `forgotten_low` (lists, seed by "
              "seed: general perplexity after minus before) and the paired difference, high minus low: its mean "
              "`diff_mean` and its 95 % t-interval over the seeds, `diff_low` and `diff_high`.",
        ("forgotten_high", "forgotten_low", "diff_mean", "diff_low", "diff_high"), check_paired,
        hints=("Loop `for seed in range(3)`, and inside it over the two rates; pass `seed=seed` to "
               "`continue_pretraining` so that both rates see the same batch order for the same seed.",
               "Pair by seed first: `d = [h - l for h, l in zip(forgotten_high, forgotten_low)]`. The interval is "
               "mean(d) +/- t.ppf(0.975, n - 1) * sd(d, ddof=1) / sqrt(n) with `from scipy.stats import t`; "
               "`course_utils.comparisons.t_interval(d)` computes the same.")),
], version=VERSION)

bind = QUESTIONS.bind
