"""LoRA, the third type of fine-tuning: a frozen weight plus a trainable low-rank update.

A LoRA layer keeps the pretrained weight ``W`` (out x in) frozen and learns ``B @ A`` with
``A`` (r x in) and ``B`` (out x r), scaled by ``alpha / r``: the layer computes
``W x + (alpha / r) * B A x``. ``B`` starts at zero, so before training the model is exactly
the pretrained one. :class:`LowRankLinear` writes that out for one layer; :func:`add_lora` puts
``peft``'s version on a whole model, with the choices the usual examples get wrong made here:

- the attention projections to adapt, found in the model's first transformer block whatever the
  architecture calls them (:func:`query_value_modules`; :data:`TARGETS` lists what that finds in
  the architectures the course names), checked to exist;
- GPT-2's projections are ``Conv1D`` layers that store their weight as (in x out), the transpose
  of ``nn.Linear``'s, so ``peft`` is told ``fan_in_fan_out=True`` (found from the layers adapted,
  :func:`is_fan_in_fan_out`);
- every newly initialised module of a classifier (DistilBERT's ``pre_classifier`` as well as
  ``classifier``) is found from the model and trained and saved with the adapter
  (``modules_to_save``): a head left frozen at its random initialisation, or trained but not
  saved, is the classic silent LoRA bug. ``peft``'s defaults for classification are two names,
  ``classifier`` and ``score``, matched against the end of each module's name: DistilBERT's
  ``pre_classifier`` is caught only because its name happens to end in ``classifier``.

>>> import torch
>>> layer = LowRankLinear(torch.nn.Linear(8, 4), r=2, alpha=4)
>>> bool((layer.delta_weight() == 0).all()), layer.trainable_parameters()
(True, 24)
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import torch
from torch import nn

# The attention projections LoRA adapts by default (queries and values, as in the LoRA paper), as
# query_value_modules finds them in the architectures the course names (a test keeps the two equal).
TARGETS = {
    "distilbert": ("q_lin", "v_lin"),
    "bert": ("query", "value"),
    "roberta": ("query", "value"),
    "gpt2": ("c_attn",),
}
# peft 0.21 calls a transformers method deprecated in 5.x when it wraps a model: a notice for peft's
# authors, not for a learner, so add_lora and load_adapter keep it out of the lessons.
_DEPRECATION_NOTICE = r".*is_gradient_checkpointing.*"
# Architectures whose projections are ``transformers.pytorch_utils.Conv1D`` (weight stored in x out);
# add_lora reads it from the layers it adapts (is_fan_in_fan_out), this names the course's one.
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


def body_linear_modules(model) -> list[str]:
    """Names of every layer LoRA can adapt inside the pretrained body (attention and feed-forward),
    never a task head or the output layer: what ``targets="all-linear"`` adapts.

    >>> from transformers import GPT2Config, GPT2LMHeadModel
    >>> body_linear_modules(GPT2LMHeadModel(GPT2Config(n_embd=16, n_layer=1, n_head=2, vocab_size=64)))
    ['c_attn', 'c_fc', 'c_proj']
    """
    from transformers.pytorch_utils import Conv1D

    return sorted({name.rsplit(".", 1)[-1] for name, module in model.base_model.named_modules()
                   if isinstance(module, (nn.Linear, Conv1D)) and name})


def _in_out(layer) -> tuple[int, int]:
    """``(input width, output width)`` of an ``nn.Linear`` or a ``Conv1D`` (whose weight is in x out)."""
    if isinstance(layer, nn.Linear):
        return layer.in_features, layer.out_features
    return tuple(layer.weight.shape)


def query_value_modules(model) -> list[str]:
    """The names of the attention's query and value projections, LoRA's default targets, found
    in the model's first transformer block rather than looked up by architecture: the first module
    of the block with three or more projections that read the hidden state has separate query,
    key and value projections, defined in that order (BERT's ``query, key, value``, DistilBERT's
    ``q_lin, k_lin, v_lin``, Llama's ``q_proj, k_proj, v_proj``), so the first and third are taken;
    one with a single projection three times the hidden width computes all three at once (GPT-2's
    ``c_attn``), which is taken whole. An empty list when neither is there.

    >>> from transformers import ElectraConfig, ElectraModel
    >>> query_value_modules(ElectraModel(ElectraConfig(vocab_size=64, embedding_size=16, hidden_size=16,
    ...     num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)))
    ['query', 'value']
    """
    from transformers.pytorch_utils import Conv1D

    from course_utils.training import _layer_list

    try:
        block = _layer_list(model)[0]
    except ValueError:
        return []
    hidden = getattr(getattr(model, "config", None), "hidden_size", None)
    for _, module in block.named_modules():
        reading = [(name, child) for name, child in module.named_children()
                   if isinstance(child, (nn.Linear, Conv1D)) and (hidden is None or _in_out(child)[0] == hidden)]
        if len(reading) >= 3:
            return [reading[0][0], reading[2][0]]
        fused = [name for name, child in reading if hidden is not None and _in_out(child)[1] == 3 * hidden]
        if fused:
            return fused[:1]
    return []


def is_fan_in_fan_out(model, names) -> bool:
    """Whether the layers called ``names`` store their weight as (in x out), as GPT-2's ``Conv1D``
    does: what ``peft`` must be told (``fan_in_fan_out``) to adapt them.

    >>> from transformers import GPT2Config, GPT2LMHeadModel
    >>> is_fan_in_fan_out(GPT2LMHeadModel(GPT2Config(n_embd=16, n_layer=1, n_head=2, vocab_size=64)), ["c_attn"])
    True
    """
    from transformers.pytorch_utils import Conv1D

    layers = [m for n, m in model.named_modules() if n.rsplit(".", 1)[-1] in set(names)
              and isinstance(m, (nn.Linear, Conv1D))]
    return bool(layers) and all(isinstance(m, Conv1D) for m in layers)


def target_modules(model, targets=None) -> list[str]:
    """The module names to adapt: ``targets`` if given (``"all-linear"``: every layer of the body,
    :func:`body_linear_modules`), else the attention's queries and values as
    :func:`query_value_modules` finds them; each must name a layer LoRA can adapt, or a
    ``ValueError`` lists the ones that exist."""
    if targets == "all-linear":
        targets = body_linear_modules(model)
    if targets is None:
        targets = query_value_modules(model)
        if not targets:
            model_type = getattr(getattr(model, "config", None), "model_type", None)
            raise ValueError(f"Found no attention query and value projections in {type(model).__name__} "
                             f"(model type {model_type!r}) to adapt by default: pass targets=[...] from the "
                             f"layers it has: {', '.join(adaptable_modules(model)) or 'none'}.")
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
    values; ``"all-linear"``: every layer of the body), rank ``r``, scale ``alpha / r`` (``alpha`` defaults to ``2 * r``). ``task`` is
    ``"classification"`` (the new head is trained and saved with the adapter) or ``"causal_lm"``.

    >>> from transformers import DistilBertConfig, DistilBertForSequenceClassification
    >>> cfg = DistilBertConfig(vocab_size=64, dim=16, n_layers=1, n_heads=2, hidden_dim=32, num_labels=3)
    >>> peft_model = add_lora(DistilBertForSequenceClassification(cfg), r=2)
    >>> "pre_classifier" in peft_model.peft_config["default"].modules_to_save  # named, not caught by its name's end
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
        fan_in_fan_out=is_fan_in_fan_out(model, names), bias="none",
        task_type=TaskType.SEQ_CLS if task == "classification" else TaskType.CAUSAL_LM,
        modules_to_save=heads or None)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_DEPRECATION_NOTICE, category=FutureWarning)
        return get_peft_model(model, config)


def load_adapter(base_model, folder):
    """A saved adapter (``peft_model.save_pretrained(folder)``) put back onto ``base_model``, a fresh
    copy of the pretrained model it was trained from; ``merge_and_unload()`` folds it into the weights."""
    from pathlib import Path

    from peft import PeftModel

    if not (Path(folder) / "adapter_config.json").exists():
        raise FileNotFoundError(f"{folder} holds no adapter (adapter_config.json): save one there first with "
                                "peft_model.save_pretrained(folder).")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_DEPRECATION_NOTICE, category=FutureWarning)
        return PeftModel.from_pretrained(base_model, folder)


def trainable_fraction(model) -> float:
    """Trainable parameters over all parameters (a tied weight counted once, as
    :func:`course_utils.models.parameter_count` counts)."""
    from course_utils.models import parameter_count

    total = parameter_count(model)
    if not total:
        raise ValueError("The model has no parameters.")
    return parameter_count(model, trainable_only=True) / total


def lora_classifier(cfg, settings, *, seed: int = 0):
    """A new classifier for the course's labels (``cfg``'s encoder) with LoRA adapters: the
    pretrained body frozen, the LoRA matrices and the new head trainable."""
    from course_utils.classifier import new_classifier

    return add_lora(new_classifier(cfg.encoder, seed=seed), r=settings.r, alpha=settings.alpha,
                    targets=settings.targets)


def adapter_megabytes(folder) -> float:
    """Megabytes (10**6 bytes) on disk of the weight files in ``folder`` (``*.safetensors``, ``*.bin``):
    the size of a saved adapter or of a full checkpoint, without tokenizer or config files."""
    from pathlib import Path

    files = [p for p in Path(folder).iterdir() if p.suffix in (".safetensors", ".bin")]
    if not files:
        raise ValueError(f"No weight file (*.safetensors or *.bin) in {folder}: save the model there first "
                         "(model.save_pretrained(folder)).")
    return sum(p.stat().st_size for p in files) / 1e6


def max_logit_difference(model_a, model_b, batch) -> float:
    """The largest absolute difference between two models' logits on ``batch`` (a dict of tensors
    on the models' device), both in eval mode: 0 for models that compute the same function."""
    from course_utils.models import eval_mode

    with eval_mode(model_a), eval_mode(model_b), torch.no_grad():
        return float((model_a(**batch).logits - model_b(**batch).logits).abs().max())


# ============================================================================ lesson 06's recipes
# Each method its own learning rate: LoRA trains few parameters and its update starts at zero, so
# it usually wants a higher rate than full fine-tuning. tools/sweep_lora.py chose the tiny models'
# values on the validation splits (its log is tools/logs/sweep_lora_smoke.json; a test keeps the
# two equal). A model the learner brings gets the usual values for real models.


@dataclass(frozen=True)
class LoraSettings:
    """LoRA's rank, the layers it adapts (None: the attention queries and values,
    :func:`query_value_modules`; ``"all-linear"``: every layer of the body) and its learning rate;
    alpha is ``2 * r`` (the scale ``alpha / r`` is 2)."""

    r: int
    targets: object
    learning_rate: float

    def __post_init__(self):
        _check_rank(self.r)
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate!r}.")

    @property
    def alpha(self) -> int:
        return 2 * self.r


@dataclass(frozen=True)
class Arm:
    """One method of lesson 06's learning-against-forgetting comparison: full fine-tuning
    (``lora=None``), LoRA, or full fine-tuning with one of lesson 04's remedies: the first half of
    the layers frozen (``freeze_first_half``, as lesson 04 freezes them: the embeddings stay
    trainable) or the L2 anchor to the pretrained weights (``anchor_strength``)."""

    name: str
    learning_rate: float
    lora: LoraSettings | None = None
    anchor_strength: float = 0.0
    freeze_first_half: bool = False


@dataclass(frozen=True)
class LearnForgetRecipe:
    """Lesson 06's comparison: every arm trains for ``epochs`` on the same records (equal steps);
    ``arms[0]`` is full fine-tuning (the reference) and ``arms[1]`` LoRA at ``lora_rank`` (the
    primary comparison)."""

    epochs: int
    arms: tuple
    why: str

    @property
    def lora_rank(self) -> int:
        return self.arms[1].lora.r


# Lesson 04's remedy that forgot least at matched learning in its smoke run (a test checks it
# against course_utils/snapshot/04_catastrophic_forgetting.json): full fine-tuning with the first half frozen.
REMEDY = "full, first half of the layers frozen"
# The tiny models of the smoke profile, chosen on validation by tools/sweep_lora.py.
CLASSIFIER_TINY = LoraSettings(r=8, targets=None, learning_rate=3e-3)
# Real encoders: rank 8 on the attention queries and values at 5e-4, in the range the LoRA paper
# used for RoBERTa-base (4e-4 to 5e-4), ten times full fine-tuning's rate.
CLASSIFIER_REAL = LoraSettings(r=8, targets=None, learning_rate=5e-4)
LEARN_FORGET_TINY = LearnForgetRecipe(
    epochs=10,
    arms=(Arm("full fine-tuning", 1e-3),
          Arm("LoRA r=8", 3e-3, LoraSettings(8, "all-linear", 3e-3)),
          Arm("LoRA r=32", 1e-3, LoraSettings(32, "all-linear", 1e-3)),
          Arm(REMEDY, 1e-3, freeze_first_half=True)),
    why=("full fine-tuning's rate and epochs are lesson 05's (chosen on validation), and the remedy is lesson 04's "
         "best at matched learning, with the same recipe; each LoRA rank's rate "
         "was chosen on validation the same way (the lowest rate within one validation prompt of that rank's best); "
         "lora_rank has the lowest validation loss among the LoRA settings within one prompt of the best"))
LEARN_FORGET_REAL = LearnForgetRecipe(
    epochs=3,
    arms=(Arm("full fine-tuning", 2e-5),
          Arm("LoRA r=8", 2e-4, LoraSettings(8, "all-linear", 2e-4)),
          Arm("LoRA r=32", 2e-4, LoraSettings(32, "all-linear", 2e-4)),
          Arm(REMEDY, 2e-5, freeze_first_half=True)),
    why=("the usual values for GPT-2-sized models, not tuned here: full fine-tuning at 2e-5 (lesson 05's), LoRA at "
         "ten times that on every layer of the body"))
QUICK_EPOCHS = 1  # QUICK = True in lesson 06's parameters cell


def classifier_settings(cfg) -> LoraSettings:
    """The LoRA classifier's settings for ``cfg``'s encoder (the tiny one's, or a real model's)."""
    from course_utils.recipes import uses_tiny_recipe

    return CLASSIFIER_TINY if uses_tiny_recipe(cfg) else CLASSIFIER_REAL


def learn_forget_recipe(cfg, *, quick: bool = False) -> LearnForgetRecipe:
    """Lesson 06's comparison for ``cfg``'s causal LM; ``quick=True`` caps the epochs."""
    from dataclasses import replace

    from course_utils.recipes import uses_tiny_causal_lm

    recipe = LEARN_FORGET_TINY if uses_tiny_causal_lm(cfg) else LEARN_FORGET_REAL
    return replace(recipe, epochs=min(recipe.epochs, QUICK_EPOCHS)) if quick else recipe


def tune_arm(cfg, arm: Arm, tokenizer, examples, *, epochs: int, output_dir: str, seed: int = 0, measure=None,
             measure_every: int = 1):
    """A fresh pretrained causal LM (``cfg.causal_lm``) instruction-tuned with ``arm``'s method on
    encoded ``examples`` (lesson 05's :func:`course_utils.instruct.instruction_tune`: response-only
    loss, EOS, per-batch padding). Returns the :class:`~course_utils.instruct.TuningRun`; its
    ``model`` is a ``peft`` model for a LoRA arm."""
    from transformers import AutoModelForCausalLM

    from course_utils.forgetting import WeightAnchor
    from course_utils.instruct import instruction_tune
    from course_utils.models import load_pretrained
    from course_utils.profiles import seed_everything

    if not isinstance(arm, Arm):
        raise TypeError(f"arm must be a course_utils.lora.Arm, got {type(arm).__name__}.")
    seed_everything(seed)  # LoRA's A matrices and dropout start from the seed
    model = load_pretrained(AutoModelForCausalLM, cfg.causal_lm).to(cfg.device)
    if arm.lora is not None:
        model = add_lora(model, r=arm.lora.r, alpha=arm.lora.alpha, targets=arm.lora.targets, task="causal_lm")
    if arm.freeze_first_half:
        from course_utils.training import freeze_layers

        freeze_layers(model, model.config.num_hidden_layers // 2, embeddings=False)
    anchor = WeightAnchor(model, arm.anchor_strength) if arm.anchor_strength else None
    return instruction_tune(cfg, model, tokenizer, examples, learning_rate=arm.learning_rate, epochs=epochs,
                            output_dir=output_dir, anchor=anchor, seed=seed, measure=measure,
                            measure_every=measure_every)


def first_target_layer(model, targets=None):
    """``(name, layer)`` of the first layer LoRA would adapt in ``model`` (see :func:`target_modules`),
    found from the model, whatever its architecture names it.

    >>> from transformers import DistilBertConfig, DistilBertForSequenceClassification
    >>> cfg = DistilBertConfig(vocab_size=64, dim=16, n_layers=1, n_heads=2, hidden_dim=32, num_labels=3)
    >>> first_target_layer(DistilBertForSequenceClassification(cfg))[0]
    'distilbert.transformer.layer.0.attention.q_lin'
    """
    names = target_modules(model, targets)
    return next((name, module) for name, module in model.named_modules() if name.rsplit(".", 1)[-1] in names)


def saved_modules(peft_model) -> list[str]:
    """The modules a ``peft`` model trains in full and saves with its adapter (``modules_to_save``)
    that exist in the model: ``peft``'s config also lists default names the model may not have."""
    return sorted({name.split(".modules_to_save")[0].rsplit(".", 1)[-1]
                   for name, _ in peft_model.named_parameters() if ".modules_to_save." in name})
