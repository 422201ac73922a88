"""Shared fixtures: the bundled tiny models, loaded once per test process."""

import pytest
import torch

from course_utils import models


@pytest.fixture(scope="session")
def tiny_gpt2():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(1)
    return (AutoModelForCausalLM.from_pretrained(models.TINY_GPT2).eval(),
            AutoTokenizer.from_pretrained(models.TINY_GPT2))


@pytest.fixture(scope="session")
def tiny_encoder():
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    torch.set_num_threads(1)
    return (AutoModelForMaskedLM.from_pretrained(models.TINY_ENCODER).eval(),
            AutoTokenizer.from_pretrained(models.TINY_ENCODER))
