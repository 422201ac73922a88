"""Lesson 06's claims, asserted on the results of this test run's one execution of the notebook:
LoRA trains a small share of the model, its adapter is small, merging changes nothing, the adapter
changed the model, and the stated learn/forget conclusion follows from the per-seed values."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from lesson_results import recorded as recorded_lesson
from scipy.stats import t

ROOT = Path(__file__).resolve().parents[2]


def recorded() -> dict:
    return recorded_lesson("06_lora")


def test_06_lora_trains_a_small_share_and_saves_a_small_adapter():
    v = recorded()
    assert 0 < v["lora_trainable_fraction"] < 0.05
    assert v["lora_adapter_mb"] < 0.1 * v["full_checkpoint_mb"]


def test_06_the_merged_model_computes_what_the_trained_adapter_does():
    v = recorded()
    assert v["merge_max_abs_diff"] < 1e-4, "merging changes the outputs"
    assert v["lora_logit_shift"] > 1e-2, "and the adapter really changed the model (else merging proves nothing)"


def test_06_the_lora_classifier_is_reported_with_its_interval_next_to_full_fine_tuning():
    v = recorded()
    assert v["lora_macro_f1_low"] <= v["lora_macro_f1"] <= v["lora_macro_f1_high"]
    assert v["lora_minus_full_f1"] == pytest.approx(v["lora_macro_f1"] - v["full_macro_f1"], abs=1e-9)


def test_06_lora_rank_is_the_one_chosen_on_validation():
    log = json.loads((ROOT / "tools" / "logs" / "sweep_lora_smoke.json").read_text())
    assert recorded()["lora_rank"] == log["instruct"]["chosen"]["lora_rank"]


def _interval(differences):
    d = np.asarray(differences, dtype=float)
    half = t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
    return d.mean() - half, d.mean() + half


def _word(low, high, more, less, same):
    return more if low > 0 else less if high < 0 else same


def test_06_the_stated_learn_forget_conclusion_follows_from_the_per_seed_values():
    v = recorded()
    lora_em, full_em = np.array(v["lora_em_seeds"]), np.array(v["full_em_seeds"])
    lora_rise, full_rise = np.array(v["lora_ppl_rise_seeds"]), np.array(v["full_ppl_rise_seeds"])
    assert len(lora_em) == len(full_em) == len(v["seeds"]) >= 3, "at least 3 seeds, paired"
    assert v["lora_em"] == pytest.approx(lora_em.mean(), abs=1e-5)
    assert v["full_ppl_rise"] == pytest.approx(full_rise.mean(), abs=1e-4)
    learns = _word(*_interval(lora_em - full_em), "learns more", "learns less", "learns about as much")
    forgets = _word(*_interval(lora_rise - full_rise), "forgets more", "forgets less", "forgets about as much")
    stated = v["learn_forget_conclusion"]
    assert learns in stated and forgets in stated, stated
