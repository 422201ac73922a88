import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from course_utils import models
from course_utils.models import device_of, eval_mode, load_pretrained, parameter_count


def test_load_pretrained_bundled():
    assert load_pretrained(AutoTokenizer, models.TINY_GPT2).eos_token == "<|endoftext|>"


def test_load_pretrained_offline_names_the_smoke_profile(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the Hub is unreachable here anyway; fail fast
    with pytest.raises(RuntimeError, match="COURSE_PROFILE=smoke"):
        load_pretrained(AutoModelForCausalLM, "gpt2-that-is-not-cached")


def test_load_pretrained_missing_folder():
    with pytest.raises(FileNotFoundError, match="path"):
        load_pretrained(AutoModelForCausalLM, "/no/such/model")


def test_load_pretrained_bad_name():
    with pytest.raises(TypeError, match="Hub id"):
        load_pretrained(AutoModelForCausalLM, None)


def test_parameter_count_counts_tied_weights_once(tiny_gpt2):
    model, _ = tiny_gpt2
    tied = model.get_input_embeddings().weight
    assert tied is model.get_output_embeddings().weight
    manual = sum(p.numel() for p in set(model.parameters()))
    assert parameter_count(model) == manual


def test_parameter_count_trainable_only():
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
    net[0].requires_grad_(False)
    assert parameter_count(net) == 15 + 8
    assert parameter_count(net, trainable_only=True) == 8


def test_parameter_count_equals_transformers_own_count(tiny_gpt2):
    model, _ = tiny_gpt2
    assert parameter_count(model) == model.num_parameters()


def test_device_of():
    assert device_of(torch.nn.Linear(2, 2)) == torch.device("cpu")
    assert device_of(torch.nn.ReLU()) == torch.device("cpu")  # no weights: the CPU


def test_eval_mode_restores_each_module_even_after_an_error():
    net = torch.nn.Sequential(torch.nn.Dropout(0.5), torch.nn.Dropout(0.5)).train()
    net[1].eval()  # a mixed state, as a frozen part of a model may be
    with pytest.raises(RuntimeError, match="inside"):
        with eval_mode(net):
            assert not any(m.training for m in net.modules())
            raise RuntimeError("inside")
    assert net.training and net[0].training and not net[1].training
