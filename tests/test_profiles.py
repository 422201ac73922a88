import pytest

import course_utils
from course_utils import profiles
from course_utils.profiles import (check_versions, choose_precision, choose_thread_count,
                                   select_profile)


@pytest.mark.parametrize(
    "env, cuda, online, expected",
    [
        ({}, False, True, "cpu"),
        ({}, True, True, "gpu"),
        ({}, True, False, "smoke"),  # a GPU without the Hub still cannot download the models
        ({"CI": "true"}, True, True, "smoke"),
        ({"HF_HUB_OFFLINE": "1"}, False, True, "smoke"),
        ({"COURSE_PROFILE": "gpu", "CI": "true"}, False, False, "gpu"),  # the override wins
        ({"COURSE_PROFILE": " CPU "}, True, False, "cpu"),
    ],
)
def test_profile_selection(env, cuda, online, expected):
    profile, reason = select_profile(env, has_cuda=cuda, online=online)
    assert profile == expected
    assert reason


def test_unknown_profile_lists_the_valid_ones():
    with pytest.raises(ValueError, match="smoke, cpu, gpu"):
        select_profile({"COURSE_PROFILE": "tpu"})


def test_offline_reason_names_the_hub():
    assert "huggingface.co" in select_profile({}, has_cuda=False, online=False)[1]


@pytest.mark.parametrize(
    "device, capability, expected",
    [("cpu", None, "fp32"), ("cuda", (7, 5), "fp16"), ("cuda", (8, 0), "bf16"),
     ("cuda", (9, 0), "bf16"), ("cuda", (6, 1), "fp16")],
)
def test_precision_rule(device, capability, expected):
    assert choose_precision(device, capability) == expected


def test_precision_unknown_device():
    with pytest.raises(ValueError, match="cpu"):
        choose_precision("tpu")


def test_precision_reads_the_device_capability(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: (7, 5))
    assert choose_precision("cuda") == "fp16"
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: (8, 6))
    assert choose_precision("cuda") == "bf16"


def test_thread_count():
    assert choose_thread_count({}, cpus=2) == 2
    assert choose_thread_count({"PYTEST_XDIST_WORKER_COUNT": "2"}, cpus=2) == 1
    assert choose_thread_count({"PYTEST_XDIST_WORKER_COUNT": "4"}, cpus=2) == 1
    assert choose_thread_count({"PYTEST_XDIST_WORKER_COUNT": "2"}, cpus=16) == 8
    assert choose_thread_count({"COURSE_THREADS": "3"}, cpus=2) == 3
    with pytest.raises(ValueError, match="COURSE_THREADS"):
        choose_thread_count({"COURSE_THREADS": "many"}, cpus=2)


def test_version_check():
    floor_t, _ = profiles.SUPPORTED_VERSIONS["transformers"]
    floor_d, _ = profiles.SUPPORTED_VERSIONS["datasets"]
    assert check_versions({"transformers": floor_t, "datasets": floor_d}) == []
    assert check_versions({"transformers": "5.99.0", "datasets": "5.9.1"}) == []
    old = check_versions({"transformers": "4.57.1", "datasets": floor_d})
    assert len(old) == 1 and "older" in old[0] and "pip install -U" in old[0]
    new = check_versions({"transformers": "6.0.0rc1", "datasets": floor_d})
    assert len(new) == 1 and "not been tested" in new[0]
    missing = check_versions({"transformers": None, "datasets": floor_d})
    assert "not installed" in missing[0]


def test_installed_versions_are_supported():
    assert check_versions() == []


def test_setup_smoke(capsys):
    cfg = course_utils.setup(profile="smoke")
    out = capsys.readouterr().out
    assert cfg.profile == "smoke" and cfg.device == "cpu" and cfg.precision == "fp32"
    assert cfg.precision_args == {}
    assert cfg.encoder.endswith("tiny-distilbert") and cfg.causal_lm.endswith("tiny-gpt2")
    assert "profile    smoke" in out and len(out.splitlines()) <= 12
    assert cfg.ready


def test_setup_seeds_everything():
    import random

    import numpy as np
    import torch

    course_utils.setup(profile="smoke", seed=7, verbose=False)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    course_utils.setup(profile="smoke", seed=7, verbose=False)
    assert first == (random.random(), np.random.rand(), torch.rand(1).item())


def test_setup_overrides_and_bad_override():
    cfg = course_utils.setup(profile="cpu", verbose=False, lm_epochs=2)
    assert cfg.sizes.lm_epochs == 2 and cfg.encoder == "distilbert-base-uncased"
    with pytest.raises(TypeError, match="lm_epochs"):
        course_utils.setup(profile="smoke", verbose=False, epoch=1)


def test_setup_gpu_without_cuda_is_a_clear_error(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="COURSE_PROFILE=cpu"):
        course_utils.setup(profile="gpu", verbose=False)


def test_setup_bad_profile():
    with pytest.raises(ValueError, match="Valid values"):
        course_utils.setup(profile="large")


def test_a_model_the_learner_names_is_checked_before_any_lesson_runs(tmp_path):
    from course_utils.profiles import choose_model

    with pytest.raises(FileNotFoundError, match="no config.json"):
        choose_model("encoder", str(tmp_path), "cpu", env={})
    with pytest.raises(ValueError, match="smoke profile is offline"):
        choose_model("encoder", "bert-base-uncased", "smoke", env={})
    with pytest.raises(ValueError, match="Hub id"):
        choose_model("causal_lm", "  ", "cpu", env={})
    with pytest.raises(ValueError, match="Unknown model role"):
        choose_model("decoder", None, "cpu", env={})
    assert choose_model("encoder", "roberta-base", "gpu", env={"COURSE_ENCODER": "bert-base-uncased"}) == "roberta-base"
    assert choose_model("encoder", None, "gpu", env={"COURSE_ENCODER": "bert-base-uncased"}) == "bert-base-uncased"


def test_course_precision_overrides_only_what_the_device_can_do():
    from course_utils.profiles import precision_override

    assert precision_override("cuda", {"COURSE_PRECISION": "FP16"}, capability=(8, 0)) == "fp16"
    assert precision_override("cuda", {"COURSE_PRECISION": "bf16"}, capability=(9, 0)) == "bf16"
    assert precision_override("cpu", {"COURSE_PRECISION": "fp32"}) == "fp32"
    with pytest.raises(ValueError, match="compute capability 8.0"):
        precision_override("cuda", {"COURSE_PRECISION": "bf16"}, capability=(7, 5))
    with pytest.raises(ValueError, match="needs a CUDA GPU"):
        precision_override("cpu", {"COURSE_PRECISION": "fp16"})
    with pytest.raises(ValueError, match="not a precision"):
        precision_override("cuda", {"COURSE_PRECISION": "half"}, capability=(8, 0))
