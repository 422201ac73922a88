"""LoRA, the third type of fine-tuning: a frozen weight plus a trainable low-rank update.

A LoRA layer keeps the pretrained weight ``W`` (out x in) frozen and learns ``B @ A`` with
``A`` (r x in) and ``B`` (out x r), scaled by ``alpha / r``: the layer computes
``W x + (alpha / r) * B A x``. ``B`` starts at zero, so before training the model is exactly
the pretrained one. :class:`LowRankLinear` writes that out for one layer; :func:`add_lora` puts
``peft``'s version on a whole model, with the choices the usual examples get wrong made here:

- the attention projections to adapt, per architecture (:data:`TARGETS`), checked to exist;
- GPT-2's projections are ``Conv1D`` layers that store their weight as (in x out), the transpose
  of ``nn.Linear``'s, so ``peft`` is told ``fan_in_fan_out=True``;
- every newly initialised module of a classifier (DistilBERT's ``pre_classifier`` as well as
  ``classifier``) is trained and saved with the adapter (``modules_to_save``): a head left frozen
  at its random initialisation, or trained but not saved, is the classic silent LoRA bug.

>>> import torch
>>> layer = LowRankLinear(torch.nn.Linear(8, 4), r=2, alpha=4)
>>> bool((layer.delta_weight() == 0).all()), layer.trainable_parameters()
(True, 24)
"""

from __future__ import annotations

import math

import torch
from torch import nn

# The attention projections LoRA adapts by default (queries and values, as in the LoRA paper),
# by ``config.model_type``.
TARGETS = {
    "distilbert": ("q_lin", "v_lin"),
    "bert": ("query", "value"),
    "roberta": ("query", "value"),
    "gpt2": ("c_attn",),
}
# Architectures whose projections are ``transformers.pytorch_utils.Conv1D`` (weight stored in x out).
FAN_IN_FAN_OUT = {"gpt2"}


class LowRankLinear(nn.Module):
    """A frozen ``nn.Linear`` plus a trainable update ``(alpha / r) * B @ A``; B starts at zero.

    >>> base = torch.nn.Linear(8, 4)
    >>> lora = LowRankLinear(base, r=2, alpha=4)
    >>> x = torch.randn(3, 8)
    >>> torch.equal(lora(x), base(x))  # B = 0: exactly the pretrained layer
    True
    """

    def __init__(self, base: nn.Linear, r: int, alpha: float | None = None, seed: int = 0):
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"LowRankLinear wraps an nn.Linear, got {type(base).__name__}.")
        _check_rank(r, min(base.in_features, base.out_features))
        self.base, self.r = base, r
        self.scale = (alpha if alpha is not None else r) / r
        for p in self.base.parameters():
            p.requires_grad_(False)
        generator = torch.Generator().manual_seed(seed)
        # A as in the LoRA paper (random), B at zero so that the update starts at zero
        self.A = nn.Parameter(torch.randn(r, base.in_features, generator=generator) / math.sqrt(base.in_features))
        self.B = nn.Parameter(torch.zeros(base.out_features, r))

    def delta_weight(self) -> torch.Tensor:
        """The update this layer adds to the frozen weight: ``scale * B @ A`` (out x in)."""
        return self.scale * self.B @ self.A

    def trainable_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + self.scale * (x @ self.A.T @ self.B.T)


def _check_rank(r, largest: int | None = None) -> None:
    if isinstance(r, bool) or not isinstance(r, int) or r < 1:
        raise ValueError(f"The LoRA rank r must be a whole number of at least 1, got {r!r}.")
    if largest is not None and r > largest:
        raise ValueError(f"A rank of {r} is no low-rank update for a layer whose smaller side is {largest}: "
                         f"choose r below {largest} (4 to 16 is usual).")


def adaptable_modules(model) -> list[str]:
    """Names of the modules LoRA can adapt (``nn.Linear`` and GPT-2's ``Conv1D``), for messages."""
    from transformers.pytorch_utils import Conv1D

    return sorted({name.rsplit(".", 1)[-1] for name, module in model.named_modules()
                   if isinstance(module, (nn.Linear, Conv1D)) and name})


def new_head_modules(model) -> list[str]:
    """The top-level modules of a task model that hold weights of their own, outside the pretrained
    body: what a classification model initialises at random and must train and save with its adapter.

    >>> from transformers import DistilBertConfig, DistilBertForSequenceClassification
    >>> cfg = DistilBertConfig(vocab_size=64, dim=16, n_layers=1, n_heads=2, hidden_dim=32, num_labels=3)
    >>> new_head_modules(DistilBertForSequenceClassification(cfg))
    ['classifier', 'pre_classifier']
    """
    body = model.base_model  # the pretrained body, as freeze_backbone finds it
    shared = {id(p) for p in body.parameters()}
    # a module whose weights are all the body's (GPT-2's lm_head, tied to the embeddings) is not new
    return sorted(name for name, child in model.named_children()
                  if child is not body and any(id(p) not in shared for p in child.parameters()))


def target_modules(model, targets=None) -> list[str]:
    """The module names to adapt: ``targets`` if given, else the architecture's (:data:`TARGETS`);
    each must name a layer LoRA can adapt, or a ``ValueError`` lists the ones that exist."""
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    if targets is None:
        if model_type not in TARGETS:
            raise ValueError(f"No default LoRA targets for model type {model_type!r}: pass targets=[...] from "
                             f"the layers it has: {', '.join(adaptable_modules(model))}.")
        targets = TARGETS[model_type]
    targets = [targets] if isinstance(targets, str) else list(targets)
    known = set(adaptable_modules(model))
    unknown = [t for t in targets if t not in known]
    if not targets or unknown:
        raise ValueError(f"Unknown LoRA target module(s) {unknown or targets} for {type(model).__name__}; "
                         f"the layers it has are: {', '.join(sorted(known))}.")
    return targets


def add_lora(model, *, r: int = 8, alpha: float | None = None, dropout: float = 0.05, targets=None,
             task: str = "classification"):
    """``model`` with ``peft`` LoRA adapters on ``targets`` (default: its attention queries and
    values), rank ``r``, scale ``alpha / r`` (``alpha`` defaults to ``2 * r``). ``task`` is
    ``"classification"`` (the new head is trained and saved with the adapter) or ``"causal_lm"``.

    >>> from transformers import DistilBertConfig, DistilBertForSequenceClassification
    >>> cfg = DistilBertConfig(vocab_size=64, dim=16, n_layers=1, n_heads=2, hidden_dim=32, num_labels=3)
    >>> peft_model = add_lora(DistilBertForSequenceClassification(cfg), r=2)
    >>> "pre_classifier" in peft_model.peft_config["default"].modules_to_save  # peft's defaults miss it
    True
    """
    from peft import LoraConfig, TaskType, get_peft_model

    _check_rank(r)
    if task not in ("classification", "causal_lm"):
        raise ValueError(f"task must be 'classification' or 'causal_lm', got {task!r}.")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}.")
    names = target_modules(model, targets)
    heads = new_head_modules(model) if task == "classification" else []
    if task == "classification" and not heads:
        raise ValueError(f"{type(model).__name__} has no classification head to train: load it with "
                         "AutoModelForSequenceClassification, or pass task='causal_lm'.")
    config = LoraConfig(
        r=r, lora_alpha=alpha if alpha is not None else 2 * r, lora_dropout=dropout, target_modules=names,
        fan_in_fan_out=model.config.model_type in FAN_IN_FAN_OUT, bias="none",
        task_type=TaskType.SEQ_CLS if task == "classification" else TaskType.CAUSAL_LM,
        modules_to_save=heads or None)
    return get_peft_model(model, config)


def trainable_fraction(model) -> float:
    """Trainable parameters over all parameters (a tied weight counted once, as
    :func:`course_utils.models.parameter_count` counts)."""
    from course_utils.models import parameter_count

    total = parameter_count(model)
    if not total:
        raise ValueError("The model has no parameters.")
    return parameter_count(model, trainable_only=True) / total
