"""Measuring what a model knows as a function (perplexity and masked-LM loss on fixed text) and
the remedies for forgetting; comparing settings at the same learning is in
:mod:`course_utils.comparisons`.

Forgetting is a change of function, so the course measures it with one procedure before and
after training: the same texts, the same windows, the same masked positions. It is never reported
without what was learned: :func:`course_utils.comparisons.compare_settings` reads each setting's forgetting against a
reference run's at the same learning, paired by seed.

>>> from transformers import AutoModelForCausalLM, AutoTokenizer
>>> from course_utils import corpus, models
>>> tok = AutoTokenizer.from_pretrained(models.TINY_GPT2)
>>> lm = AutoModelForCausalLM.from_pretrained(models.TINY_GPT2)
>>> round(perplexity(lm, tok, corpus.general_text("heldout")[:20]), 1)  # doctest: +SKIP
61.2
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from course_utils.models import context_length, device_of, eval_mode
from course_utils.stats import Interval, bootstrap_ci
from course_utils.validation import check_texts


def token_stream(tokenizer, texts: Sequence[str], separator_id: int | None) -> list[int]:
    """The texts' token ids, one after another, with ``separator_id`` between two texts."""
    stream: list[int] = []
    for i, text in enumerate(texts):
        if i and separator_id is not None:
            stream.append(separator_id)
        # verbose=False: a text longer than the context is expected, since callers cut the stream
        # into windows or blocks; the tokenizer's warning about it would only alarm a learner.
        stream.extend(tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])
    return stream


def _resolve_window(model, window: int | None) -> int:
    context = context_length(model)
    if window is None:
        window = min(context or 256, 256)
    if not isinstance(window, int) or window < 2:
        raise ValueError(f"window must be an integer of at least 2 tokens, got {window!r}.")
    if context is not None and window > context:
        raise ValueError(
            f"window={window} is longer than the model's context of {context} tokens; "
            f"pass window={context} or less."
        )
    return window


@torch.no_grad()
def causal_lm_nll(
    model, tokenizer, texts: Sequence[str], *, window: int | None = None, batch_size: int = 8
) -> tuple[float, int]:
    """Summed negative log-likelihood (nats) and the number of tokens it covers.

    The texts are tokenized one by one, joined with the EOS token into one stream and cut into
    consecutive windows of ``window`` tokens; every token but the first of each window is
    predicted from the tokens before it in its window.
    """
    check_texts(texts, "texts")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
    window = _resolve_window(model, window)
    stream = token_stream(tokenizer, texts, tokenizer.eos_token_id)
    if len(stream) < 2:
        raise ValueError("The texts give fewer than 2 tokens: perplexity needs at least 2.")
    windows = [stream[i : i + window] for i in range(0, len(stream), window)]
    windows = [w for w in windows if len(w) >= 2]
    device = device_of(model)
    # Full windows share one length, so they batch without padding; the last may be short.
    full = [w for w in windows if len(w) == window]
    batches = [full[i : i + batch_size] for i in range(0, len(full), batch_size)]
    batches += [[w] for w in windows if len(w) != window]
    total_nll, total_tokens = 0.0, 0
    with eval_mode(model):
        for batch in batches:
            ids = torch.tensor(batch, device=device)
            logits = model(input_ids=ids).logits.float()
            logprobs = torch.log_softmax(logits[:, :-1], dim=-1)
            target = ids[:, 1:]
            nll = -logprobs.gather(-1, target.unsqueeze(-1)).squeeze(-1)
            total_nll += nll.sum().item()
            total_tokens += target.numel()
    return total_nll, total_tokens


def perplexity(
    model, tokenizer, texts: Sequence[str], *, window: int | None = None, batch_size: int = 8
) -> float:
    """Token-weighted perplexity of a causal LM over fixed windows of ``window`` tokens.

    ``exp(total NLL / predicted tokens)`` with the windows of :func:`causal_lm_nll`; the window
    defaults to the model's context, at most 256. Dropout is off while measuring, and the
    model's train/eval mode is restored afterwards.
    """
    nll, count = causal_lm_nll(model, tokenizer, texts, window=window, batch_size=batch_size)
    return math.exp(nll / count)


@torch.no_grad()
def masked_lm_window_losses(
    model,
    tokenizer,
    texts: Sequence[str],
    *,
    window: int = 128,
    mask_prob: float = 0.15,
    seed: int = 0,
    batch_size: int = 16,
) -> tuple[np.ndarray, np.ndarray]:
    """Per window: the summed cross-entropy (nats) over its masked positions, and how many there are.

    The texts become one stream of windows, each wrapped in the tokenizer's CLS and SEP; a
    seeded generator picks ``mask_prob`` of the positions in each window, which are all replaced
    by the mask token. The same texts, window and seed always mask the same positions, so a
    model measured before and after training answers the same questions, window by window:
    the pairing that :func:`loss_rise_interval` resamples.
    """
    check_texts(texts, "texts")
    if not 0 < mask_prob < 1:
        raise ValueError(f"mask_prob must be between 0 and 1, got {mask_prob}.")
    for name in ("mask_token_id", "cls_token_id", "sep_token_id"):
        if getattr(tokenizer, name, None) is None:
            raise ValueError(
                f"The tokenizer has no {name.removesuffix('_id')}: masked-LM loss needs a "
                "BERT-style tokenizer (CLS, SEP and MASK tokens). Load the encoder's own tokenizer "
                "(AutoTokenizer.from_pretrained(encoder)), or measure a causal LM with perplexity() instead."
            )
    context = context_length(model)
    if window < 4 or (context is not None and window > context):
        raise ValueError(f"window must be between 4 and the model's context ({context}).")
    stream = token_stream(tokenizer, texts, tokenizer.sep_token_id)
    body = window - 2
    chunks = [stream[i : i + body] for i in range(0, len(stream), body)]
    generator = torch.Generator().manual_seed(seed)
    device = device_of(model)
    sums, counts = [], []
    with eval_mode(model):
        for start in range(0, len(chunks), batch_size):
            group = chunks[start : start + batch_size]
            longest = max(len(c) for c in group) + 2
            ids = torch.full((len(group), longest), tokenizer.pad_token_id or 0, dtype=torch.long)
            attention = torch.zeros_like(ids)
            labels = torch.full_like(ids, -100)
            for row, chunk in enumerate(group):
                seq = [tokenizer.cls_token_id, *chunk, tokenizer.sep_token_id]
                ids[row, : len(seq)] = torch.tensor(seq)
                attention[row, : len(seq)] = 1
                chosen = torch.rand(len(chunk), generator=generator) < mask_prob
                if not chosen.any():  # every window asks at least one question
                    chosen[torch.randint(len(chunk), (1,), generator=generator)] = True
                positions = torch.nonzero(chosen).squeeze(-1) + 1
                labels[row, positions] = ids[row, positions]
                ids[row, positions] = tokenizer.mask_token_id
            logits = model(input_ids=ids.to(device), attention_mask=attention.to(device)).logits
            loss = torch.nn.functional.cross_entropy(
                logits.float().transpose(1, 2), labels.to(device), reduction="none"
            )  # (windows, positions), 0 where the label is -100
            sums.extend(loss.sum(dim=1).tolist())
            counts.extend((labels != -100).sum(dim=1).tolist())
    return np.asarray(sums, dtype=float), np.asarray(counts, dtype=float)


def masked_lm_loss(
    model,
    tokenizer,
    texts: Sequence[str],
    *,
    window: int = 128,
    mask_prob: float = 0.15,
    seed: int = 0,
    batch_size: int = 16,
) -> float:
    """Mean cross-entropy of a masked LM on a fixed set of masked positions (every masked
    position of every window counts the same); see :func:`masked_lm_window_losses`."""
    sums, counts = masked_lm_window_losses(model, tokenizer, texts, window=window, mask_prob=mask_prob,
                                           seed=seed, batch_size=batch_size)
    return float(sums.sum() / counts.sum())


def loss_rise_interval(before: tuple[np.ndarray, np.ndarray], after: tuple[np.ndarray, np.ndarray], *,
                       n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> Interval:
    """How much the mean loss rose from ``before`` to ``after`` (each the ``(sums, counts)`` of
    :func:`masked_lm_window_losses` on the same texts and seed), with a paired bootstrap
    interval over the windows: each resample draws windows and scores both models on them.

    The interval covers which general texts were measured, not which training run: one model
    before, one after.

    >>> before = (np.array([2.0, 4.0, 3.0, 3.0]), np.array([1, 2, 1, 1]))
    >>> after = (np.array([2.5, 4.6, 3.4, 3.5]), np.array([1, 2, 1, 1]))
    >>> ci = loss_rise_interval(before, after)
    >>> round(ci.estimate, 2), ci.low > 0
    (0.4, True)
    """
    (sums0, counts0), (sums1, counts1) = before, after
    sums0, counts0, sums1, counts1 = (np.asarray(a, dtype=float) for a in (sums0, counts0, sums1, counts1))
    if not (len(sums0) == len(counts0) == len(sums1) == len(counts1)) or not np.array_equal(counts0, counts1):
        raise ValueError("before and after must cover the same windows and masked positions: measure both "
                         "with masked_lm_window_losses on the same texts, window and seed.")
    return bootstrap_ci(lambda i: sums1[i].sum() / counts1[i].sum() - sums0[i].sum() / counts0[i].sum(),
                        len(sums0), n_boot=n_boot, level=level, seed=seed)


# ----------------------------------------------------------------------------- prevention tools


def replay_mix(domain_texts: Sequence[str], general_texts: Sequence[str], share: float, *,
               seed: int = 0) -> list[str]:
    """Domain texts with general texts mixed in, so that ``share`` of the result is general text.

    Replay keeps showing the model what it should not forget.

    >>> mixed = replay_mix(["d"] * 8, ["g"] * 100, 0.2)
    >>> len(mixed), mixed.count("g")
    (10, 2)
    """
    check_texts(domain_texts, "domain_texts")
    if not 0 <= share < 1:
        raise ValueError(f"share must be in [0, 1), got {share}.")
    if share == 0:
        return list(domain_texts)
    check_texts(general_texts, "general_texts")
    n_general = round(len(domain_texts) * share / (1 - share))
    if n_general > len(general_texts):
        raise ValueError(f"share={share} needs {n_general} general texts; only {len(general_texts)} given.")
    rng = torch.Generator().manual_seed(seed)
    picks = torch.randperm(len(general_texts), generator=rng)[:n_general].tolist()
    mixed = list(domain_texts) + [general_texts[i] for i in picks]
    order = torch.randperm(len(mixed), generator=rng).tolist()
    return [mixed[i] for i in order]


class WeightAnchor:
    """An L2 penalty toward the weights a model had when the anchor was made.

    ``strength * sum((w - w_pretrained) ** 2)`` over the trainable weights. Unlike weight decay,
    which pulls every weight toward zero, this pulls toward what pretraining learned.

    >>> net = torch.nn.Linear(2, 1)
    >>> anchor = WeightAnchor(net, strength=1.0)
    >>> anchor.penalty(net).item()
    0.0
    """

    def __init__(self, model, strength: float):
        if strength < 0:
            raise ValueError(f"strength must be 0 or more, got {strength}.")
        self.strength = strength
        self.reference = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}

    def penalty(self, model) -> torch.Tensor:
        total = None
        for name, param in model.named_parameters():
            if name in self.reference and param.requires_grad:
                if param.shape != self.reference[name].shape:
                    raise ValueError(f"{name} has shape {tuple(param.shape)} but the anchor's has "
                                     f"{tuple(self.reference[name].shape)}: was it made from this model?")
                term = (param - self.reference[name].to(param.device)).pow(2).sum()
                total = term if total is None else total + term
        if total is None:
            raise ValueError("No trainable parameter matches the anchor's: was it made from this model?")
        return self.strength * total


def anchored_trainer_class():
    """A ``Trainer`` subclass whose loss adds a :class:`WeightAnchor` penalty (``anchor=``)."""
    from transformers import Trainer

    class AnchoredTrainer(Trainer):
        def __init__(self, *args, anchor: WeightAnchor, **kwargs):
            super().__init__(*args, **kwargs)
            self.anchor = anchor

        def compute_loss(self, model, inputs, return_outputs=False, **kwargs):
            loss, outputs = super().compute_loss(model, inputs, return_outputs=True, **kwargs)
            loss = loss + self.anchor.penalty(model)
            return (loss, outputs) if return_outputs else loss

    return AnchoredTrainer


def relative_weight_change(before: dict, model):
    """Per parameter tensor: ``||w_after - w_before|| / ||w_before||``, with the layer it belongs to.

    ``before`` is ``{name: tensor.clone()}`` taken before training. Supporting evidence for a
    change of function, never the measure of forgetting itself.
    """
    import re

    import pandas as pd

    rows = []
    for name, param in model.named_parameters():
        if name not in before:
            continue
        old = before[name].float()
        change = (param.detach().float().cpu() - old.cpu()).norm() / old.norm().clamp_min(1e-12)
        match = re.search(r"\.(\d+)\.", name)
        rows.append({"parameter": name, "layer": int(match.group(1)) if match else None,
                     "relative_change": float(change)})
    if not rows:
        raise ValueError("No parameter of the model is in `before`: take it with "
                         "{n: p.detach().clone() for n, p in model.named_parameters()}.")
    return pd.DataFrame(rows)


def load_masked_lm(name: str):
    """The pretrained masked-LM model (encoder and its word-prediction head) of ``name``, a Hub id or
    a folder; a ``ValueError`` when the checkpoint has no trained head to load.

    Measuring an encoder's forgetting (lessons 00, 04 and 06) asks it to fill in masked words. A
    checkpoint saved without that head (a bare ``AutoModel``, or a fine-tuned classifier) would load
    with a randomly initialised one, and its loss would measure nothing.

    >>> from course_utils import models
    >>> type(load_masked_lm(models.TINY_ENCODER)).__name__
    'DistilBertForMaskedLM'
    """
    from transformers import AutoModelForMaskedLM
    from transformers.utils import logging as hf_logging

    from course_utils.models import load_pretrained

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the load report is what is checked below, in plain words
    try:
        model, info = load_pretrained(AutoModelForMaskedLM, name, output_loading_info=True)
    except ValueError as error:  # a config with no masked-LM class (GPT-2, for one)
        raise ValueError(f"{name} has no masked-LM form ({error}). The forgetting measures of lessons 04 and "
                         "06 need an encoder pretrained with masked-word prediction (BERT, RoBERTa, "
                         "DistilBERT...): choose one as ENCODER.") from None
    finally:
        hf_logging.set_verbosity(verbosity)
    missing = list(info.get("missing_keys", []))
    if missing:
        raise ValueError(
            f"{name} has no trained masked-LM head: {len(missing)} weights would start random "
            f"({', '.join(sorted(missing)[:3])}...). Its masked-LM loss would measure nothing. Use the "
            "pretrained checkpoint the encoder came from (saved from AutoModelForMaskedLM), not a bare "
            "encoder or a fine-tuned classifier.")
    return model


def masked_lm_from_classifier(classifier, pretrained_name: str):
    """The pretrained masked-LM model with the classifier's (fine-tuned) encoder put in its place.

    A sequence classifier has dropped the masked-LM head, so its encoder cannot be asked to fill
    in masked words. This loads the pretrained masked-LM model (encoder + head) and copies the
    classifier's encoder weights over its encoder: any change in masked-LM loss is then the
    encoder's doing, since the head is the pretrained one in both measurements.
    """
    mlm = load_masked_lm(pretrained_name)
    source = classifier.base_model.state_dict()
    target = mlm.base_model.state_dict()
    # A classifier's body may hold more than the masked-LM body (BERT's pooler, used only by the
    # classification head); every weight of the masked-LM body must come from the classifier.
    missing = sorted(set(target) - set(source))
    if missing:
        raise ValueError(f"The classifier's encoder does not match {pretrained_name}'s (weights it lacks: "
                         f"{missing[:3]}): fine-tune a classifier from the same pretrained model.")
    mlm.base_model.load_state_dict({name: source[name] for name in target})
    return mlm.to(device_of(classifier)).eval()


def weight_norm(model) -> float:
    """The Euclidean norm of the weights weight decay acts on: every matrix (and embedding)
    parameter, as ``Trainer`` excludes biases and LayerNorm weights from decay.

    Shows whether a weight decay setting moved anything: compare the norm after training with
    and without it.

    >>> net = torch.nn.Linear(3, 4)
    >>> with torch.no_grad():
    ...     _ = net.weight.fill_(0.5)
    >>> weight_norm(net)  # sqrt(12 * 0.25); the bias is not counted
    1.7320508075688772
    """
    total = 0.0
    found = False
    for param in model.parameters():
        if param.dim() >= 2:
            total += float(param.detach().double().pow(2).sum())
            found = True
    if not found:
        raise ValueError(f"{type(model).__name__} has no matrix parameters to take a norm of.")
    return math.sqrt(total)
