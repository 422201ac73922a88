"""Where the course's models live, and loading them with a message that says what to do.

In the smoke profile the model names are folders inside this package; in the cpu and gpu
profiles they are Hub names. Either way the same ``from_pretrained`` call loads them:

>>> from transformers import AutoTokenizer
>>> AutoTokenizer.from_pretrained(TINY_GPT2).pad_token is None   # like GPT-2's
True
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from importlib import resources

TINY_MODELS_DIR = str(resources.files("course_utils") / "pretrained")
TINY_ENCODER = f"{TINY_MODELS_DIR}/tiny-distilbert"
TINY_GPT2 = f"{TINY_MODELS_DIR}/tiny-gpt2"

_OFFLINE_HINT = (
    "Could not load {name!r} from the Hugging Face Hub ({error}). Is this machine online? "
    "Offline, run the course with the bundled tiny models: set COURSE_PROFILE=smoke "
    "(in a notebook: import os; os.environ['COURSE_PROFILE'] = 'smoke' before course_utils.setup())."
)


def is_local(name: str) -> bool:
    """Whether a model name means a folder on this machine rather than a Hub id.

    >>> is_local(TINY_GPT2), is_local("~/models/my-bert"), is_local("distilbert-base-uncased")
    (True, True, False)
    """
    return os.path.isabs(name) or name.startswith((".", "~")) or os.path.isdir(os.path.expanduser(name))


def load_pretrained(auto_class, name: str, **kwargs):
    """``auto_class.from_pretrained(name, **kwargs)``, with a clear message when offline.

    >>> from transformers import AutoModelForCausalLM
    >>> load_pretrained(AutoModelForCausalLM, TINY_GPT2).config.model_type
    'gpt2'
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a Hub id or a folder, got {name!r}.")
    try:
        return auto_class.from_pretrained(name, **kwargs)
    except OSError as error:
        if is_local(name):
            raise FileNotFoundError(
                f"No model or tokenizer at {name!r}: is the path right? The bundled models are "
                f"{TINY_ENCODER!r} and {TINY_GPT2!r}."
            ) from error
        raise RuntimeError(_OFFLINE_HINT.format(name=name, error=type(error).__name__)) from error


def parameter_count(model, trainable_only: bool = False) -> int:
    """Number of (trainable) parameters, counting tied weights once.

    ``model.parameters()`` yields a tensor shared by two modules (GPT-2's input embeddings and
    output layer) once, so summing over it counts the tie once.

    >>> import torch
    >>> parameter_count(torch.nn.Linear(3, 2))
    8
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def device_of(model) -> "torch.device":  # noqa: F821 (torch is imported on use)
    """The device a model's weights are on (``cpu`` for a model without parameters).

    >>> import torch
    >>> device_of(torch.nn.Linear(3, 2)).type
    'cpu'
    """
    import torch

    first = next(iter(model.parameters()), None)
    return first.device if first is not None else torch.device("cpu")


def context_length(model) -> int | None:
    """The most tokens one sequence can hold in ``model``, found from its position table; None for
    a model without one (rotary or relative positions have no fixed limit to read).

    The table's size is ``n_positions`` (GPT-2) or ``max_position_embeddings`` (BERT family), but
    RoBERTa-style models number their positions from ``padding_idx + 1``: the rows up to the
    padding index are never a position, so ``roberta-base``'s 514 rows hold 512 tokens. That is
    read from the position table itself (an embedding of that size, other than the token
    embeddings, with a padding index), not from the model's name.

    >>> from transformers import RobertaConfig, RobertaModel
    >>> context_length(RobertaModel(RobertaConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1,
    ...     num_attention_heads=2, intermediate_size=32, max_position_embeddings=66, pad_token_id=1)))
    64
    """
    from torch import nn

    config = getattr(model, "config", None)
    sizes = (getattr(config, name, None) for name in ("n_positions", "max_position_embeddings"))
    rows = next((value for value in sizes if isinstance(value, int) and not isinstance(value, bool) and value > 0),
                None)
    if rows is None:
        return None
    tokens = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    tables = [m for m in model.modules()
              if isinstance(m, nn.Embedding) and m is not tokens and m.num_embeddings == rows]
    if tables and all(m.padding_idx is not None for m in tables):
        return rows - (max(m.padding_idx for m in tables) + 1)
    return rows


# transformers sets model_max_length to int(1e30) when a tokenizer's files do not say: no limit known
_NO_LIMIT = 1_000_000


def tokenizer_context(tokenizer) -> int | None:
    """The context a tokenizer was saved with (``model_max_length``: 512 for ``bert-base-uncased``,
    1024 for ``gpt2``), or None where its files do not say.

    >>> from transformers import AutoTokenizer
    >>> tokenizer_context(AutoTokenizer.from_pretrained(TINY_GPT2))
    512
    """
    value = getattr(tokenizer, "model_max_length", None)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < _NO_LIMIT:
        return None
    return value


@contextmanager
def eval_mode(model):
    """Run the block with ``model`` in eval mode (no dropout), then put back the train/eval
    mode each of its modules had, whatever happens in the block.

    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Dropout(0.5)).train()
    >>> with eval_mode(net):
    ...     net.training
    False
    >>> net.training
    True
    """
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in modes:
            module.training = training
