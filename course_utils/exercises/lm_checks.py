"""Checker helpers for the exercises on causal language models (lessons 04 and 05, challenge 3):
the reference GPT-2s, their tokenizers and parameter counts, and instruction labels.

>>> CAUSAL_LMS[0]
'the bundled tiny GPT-2 (smoke profile)'
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from course_utils.exercises.checks import int_list, model_by_total
from course_utils.exercises.core import Wrong

CAUSAL_LMS = ("the bundled tiny GPT-2 (smoke profile)", "gpt2")


@lru_cache(maxsize=None)
def causal_tokenizers() -> dict:
    """GPT-2 tokenizers a learner may have used: the bundled tiny one always, ``gpt2``'s when it is
    already on this machine (the cpu and gpu profiles download it; nothing is downloaded here)."""
    from transformers import AutoTokenizer

    from course_utils import models

    found = {CAUSAL_LMS[0]: AutoTokenizer.from_pretrained(models.TINY_GPT2)}
    try:
        found[CAUSAL_LMS[1]] = AutoTokenizer.from_pretrained("gpt2", local_files_only=True)
    except Exception:  # not downloaded here: only the bundled tokenizer can be checked
        pass
    return found


@lru_cache(maxsize=None)
def pretrained_causal_lms() -> tuple:
    """``(name, model)`` for the pretrained causal LMs on this machine: the tiny GPT-2 always, ``gpt2``
    when it is already downloaded. Checkers must not train them (one copy is shared)."""
    from transformers import AutoModelForCausalLM

    from course_utils import models

    found = [(CAUSAL_LMS[0], AutoModelForCausalLM.from_pretrained(models.TINY_GPT2).eval())]
    try:
        found.append((CAUSAL_LMS[1], AutoModelForCausalLM.from_pretrained("gpt2", local_files_only=True).eval()))
    except Exception:  # not downloaded here
        pass
    return tuple(found)


def _new_causal_lm(name: str):
    """A causal LM shaped like ``name``, built without any download (random weights count the same)."""
    from transformers import AutoModelForCausalLM, GPT2Config

    from course_utils import models

    if name == CAUSAL_LMS[0]:
        return AutoModelForCausalLM.from_pretrained(models.TINY_GPT2)
    return AutoModelForCausalLM.from_config(GPT2Config())  # GPT2Config's defaults are gpt2's shape


@lru_cache(maxsize=None)
def causal_lm_counts(name: str, n_frozen: int, embeddings: bool = True, which: str = "first") -> tuple:
    """``(trainable, total, n_layers, frozen layer indices)`` after ``freeze_layers(model, n_frozen,
    embeddings=..., which=...)`` on a fresh ``name``; ``n_frozen`` is capped at its layers."""
    from course_utils.models import parameter_count
    from course_utils.training import freeze_layers

    model = _new_causal_lm(name)
    n_layers = model.config.n_layer
    n_frozen = min(n_frozen, n_layers)
    trainable = freeze_layers(model, n_frozen, embeddings=embeddings, which=which).trainable
    blocks = list(range(n_frozen)) if which == "first" else list(range(n_layers - n_frozen, n_layers))
    return trainable, parameter_count(model), n_layers, tuple(blocks)


def causal_lm_by_total(total: int, name: str) -> str:
    """Which causal LM a parameter total belongs to, or Wrong listing the totals known here."""
    return model_by_total(total, name, CAUSAL_LMS, lambda lm: causal_lm_counts(lm, 0)[1], "language model")


def instruction_labels(value, name: str, *, prompt_ids: Sequence[int], response_ids: Sequence[int],
                       eos_id: int) -> None:
    """Nothing when ``value`` is the labels of one instruction example (-100 on the prompt, then the
    response and EOS); otherwise :class:`Wrong` naming the mistake (prompt not masked, EOS missing,
    response masked too, padding left in, ...)."""
    from course_utils.instruct import IGNORE_INDEX as IGNORE

    given = int_list(value, name)
    prompt_ids, response_ids = list(prompt_ids), list(response_ids)
    right = [IGNORE] * len(prompt_ids) + response_ids + [eos_id]
    if given == right:
        return
    n_prompt, n_response = len(prompt_ids), len(response_ids)
    if given == prompt_ids + response_ids + [eos_id]:
        raise Wrong(f"the prompt is not masked: `{name}` repeats the input ids. The labels should be -100 on "
                    f"the {n_prompt} prompt tokens, so the loss trains on the response only.")
    if given == [IGNORE] * n_prompt + response_ids:
        raise Wrong(f"EOS is missing at the end of `{name}`: append the EOS token ({eos_id}) to the response "
                    "and keep its label, or the model never learns to stop.")
    if all(v == IGNORE for v in given[:n_prompt + n_response]) and len(given) >= n_prompt + n_response:
        raise Wrong("the response tokens are masked too: labels should be -100 only on the prompt, "
                    "and the response and its EOS keep their ids.")
    if len(given) > len(right) and given[:len(right)] == right and all(v == IGNORE for v in given[len(right):]):
        raise Wrong(f"`{name}` ends with padding (-100 after the EOS): give the labels of the example alone, "
                    "before any collator pads it.")
    if len(given) != len(right):
        raise Wrong(f"`{name}` has {len(given)} labels; the prompt ({n_prompt} tokens), the response "
                    f"({n_response}) and EOS make {len(right)}. Tokenize prompt and response separately "
                    "(add_special_tokens=False) and concatenate the ids.")
    masked = sum(v == IGNORE for v in given)
    if masked != n_prompt:
        raise Wrong(f"`{name}` has {masked} positions at -100, but the prompt is {n_prompt} tokens: "
                    "exactly the prompt's positions are masked.")
    first = next(i for i, (a, b) in enumerate(zip(given, right)) if a != b)
    raise Wrong(f"`{name}` differs from the expected labels first at position {first} ({given[first]} "
                f"instead of {right[first]}). Tokenize the prompt and the response separately and "
                "concatenate the ids, as encode_example does.")


class course_threads:
    """Torch's thread count as the course chooses it (``COURSE_THREADS``, pytest-xdist workers) for
    the duration of a recomputation, restored afterwards: a grader sharing its CPUs with kernels
    runs a perplexity many times slower with oversubscribed threads."""

    def __enter__(self):
        import torch

        from course_utils.profiles import choose_thread_count

        self._saved = torch.get_num_threads()
        torch.set_num_threads(min(self._saved, choose_thread_count()))
        return self

    def __exit__(self, *exc):
        import torch

        torch.set_num_threads(self._saved)
        return False
