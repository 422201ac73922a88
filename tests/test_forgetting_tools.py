import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from course_utils import comparisons as cmp
from course_utils import forgetting as fg
from course_utils.forgetting import WeightAnchor, anchored_trainer_class, relative_weight_change, replay_mix
from course_utils.stats import Interval


def test_replay_mix_share_and_determinism():
    domain, general = [f"d{i}" for i in range(30)], [f"g{i}" for i in range(100)]
    mixed = replay_mix(domain, general, 0.25, seed=1)
    assert len(mixed) == 40 and sum(t.startswith("g") for t in mixed) == 10
    assert set(domain) <= set(mixed) and mixed == replay_mix(domain, general, 0.25, seed=1)
    assert replay_mix(domain, general, 0.0) == domain
    with pytest.raises(ValueError, match="share"):
        replay_mix(domain, general, 1.0)
    with pytest.raises(ValueError, match="only 100"):
        replay_mix(domain, general, 0.9)


def test_weight_anchor_pulls_toward_the_reference_not_zero():
    net = torch.nn.Linear(3, 1)
    anchor = WeightAnchor(net, strength=0.5)
    with torch.no_grad():
        net.weight += 1.0
    expected = 0.5 * 3 * 1.0  # three weights moved by 1, the bias did not move
    assert anchor.penalty(net).item() == pytest.approx(expected)
    net.weight.grad = None
    anchor.penalty(net).backward()
    assert torch.allclose(net.weight.grad, torch.full_like(net.weight, 1.0))  # d/dw 0.5 (w-w0)^2 = w - w0
    with pytest.raises(ValueError):
        WeightAnchor(net, strength=-1)
    with pytest.raises(ValueError, match="this model"):
        anchor.penalty(torch.nn.Linear(2, 2))


def test_anchored_trainer_adds_the_penalty(tiny_gpt2, tmp_path):
    from transformers import TrainingArguments

    model, tok = tiny_gpt2
    ids = tok("The court ruled.", return_tensors="pt")["input_ids"]
    inputs = {"input_ids": ids, "labels": ids}
    anchor = WeightAnchor(model, strength=10.0)
    trainer = anchored_trainer_class()(model=model, args=TrainingArguments(str(tmp_path), report_to="none",
                                       use_cpu=True), anchor=anchor)
    base = model(**inputs).loss.item()
    assert trainer.compute_loss(model, inputs).item() == pytest.approx(base)  # nothing moved yet
    with torch.no_grad():
        model.transformer.h[0].mlp.c_fc.bias += 0.1
    try:
        moved = model(**inputs).loss.item()
        n = model.transformer.h[0].mlp.c_fc.bias.numel()
        assert trainer.compute_loss(model, inputs).item() == pytest.approx(moved + 10.0 * n * 0.01, rel=1e-4)
    finally:
        with torch.no_grad():
            model.transformer.h[0].mlp.c_fc.bias -= 0.1


def test_relative_weight_change_per_layer():
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    with torch.no_grad():
        net[1].weight.mul_(2)
    table = relative_weight_change(before, net)
    changed = table.set_index("parameter")["relative_change"]
    assert changed["1.weight"] == pytest.approx(1.0) and changed["0.weight"] == 0.0
    with pytest.raises(ValueError, match="before"):
        relative_weight_change({}, net)


# ----------------------------------------------------------------------------- comparing settings over seeds


def test_t_interval_is_the_textbook_one():
    values = [3.0, 5.0, 4.5, 6.0, 5.5]
    ci = cmp.t_interval(values)
    low, high = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
    assert ci.estimate == pytest.approx(np.mean(values))
    assert (ci.low, ci.high) == (pytest.approx(low), pytest.approx(high))
    assert cmp.t_interval([2.0, 2.0, 2.0]).low == cmp.t_interval([2.0, 2.0, 2.0]).high == 2.0


@pytest.mark.parametrize("values, message", [([1.0], "at least 2"), ([1.0, float("nan")], "NaN"), ([], "at least 2")])
def test_t_interval_bad_input(values, message):
    with pytest.raises(ValueError, match=message):
        cmp.t_interval(values)


def test_forgetting_at_interpolates_the_first_crossing():
    curve = [(0, 0), (10, 2), (8, 3), (20, 8)]  # learning can dip between two measurements
    assert cmp.forgetting_at(curve, 5) == pytest.approx(1.0)
    assert cmp.forgetting_at(curve, 10) == pytest.approx(2.0)
    assert cmp.forgetting_at(curve, 14) == pytest.approx(3 + 5 * (14 - 8) / 12)
    assert cmp.forgetting_at(curve, 30) == 8  # beyond the curve: its end
    assert cmp.forgetting_at(curve, -1) == 0  # a setting that learned nothing: the start
    with pytest.raises(ValueError, match="2 points"):
        cmp.forgetting_at([(0, 0)], 1)
    with pytest.raises(ValueError, match="finite"):
        cmp.forgetting_at([(0, 0), (1, float("inf"))], 1)


def test_weight_norm_counts_matrices_only():
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.LayerNorm(2))
    with torch.no_grad():
        net[0].weight.fill_(1.0)
    assert fg.weight_norm(net) == pytest.approx(2.0)  # 4 ones; the biases and LayerNorm are not decayed
    with pytest.raises(ValueError, match="no matrix"):
        fg.weight_norm(torch.nn.LayerNorm(3))


def _runs_and_curves():
    """Three seeds. The reference learns 10 and forgets 10; along the way it had forgotten 2 at
    learning 5. 'careful' learns 5 and forgets 1 (less than the reference at 5); 'lazy' learns 2
    and forgets 0.1; 'same' learns 10 and forgets 10."""
    rows, curve = [], []
    for seed, noise in enumerate((-0.1, 0.0, 0.1)):
        for setting, learned, forgotten in (("ref", 10, 10), ("careful", 5, 1), ("lazy", 2, 0.1), ("same", 10, 10)):
            rows.append({"setting": setting, "seed": seed, "learned": learned + noise, "forgotten": forgotten + noise})
        curve += [{"seed": seed, "step": s, "learned": a, "forgotten": b + noise}
                  for s, (a, b) in enumerate([(0, 0), (5, 2), (10.0 + noise, 10)])]
    return pd.DataFrame(rows), pd.DataFrame(curve)


def test_compare_settings_reads_the_reference_at_matched_learning():
    runs, curves = _runs_and_curves()
    table = cmp.compare_settings(runs, curves, reference="ref", learning_floor=0.8).set_index("setting")
    assert table.loc["ref", "verdict"] == "the reference" and table.loc["ref", "learning_kept"] == pytest.approx(1)
    assert table.loc["careful", "vs_reference"] == pytest.approx(-9)
    assert table.loc["careful", "learning_kept"] == pytest.approx(0.5)
    assert table.loc["careful", "verdict"] == cmp.LEARNED_TOO_LITTLE  # forgets less, but learned half
    assert table.loc["same", "matched"] == pytest.approx(0) and table.loc["same", "verdict"] == cmp.NO_CLEAR_DIFFERENCE
    lenient = cmp.compare_settings(runs, curves, reference="ref", learning_floor=0.4).set_index("setting")
    assert lenient.loc["careful", "matched"] == pytest.approx(-1.0, abs=0.05)  # 1 against 2 at learning 5
    assert lenient.loc["careful", "verdict"] == cmp.FORGETS_LESS
    assert lenient.loc["lazy", "verdict"] == cmp.LEARNED_TOO_LITTLE


def test_compare_settings_bad_input():
    runs, curves = _runs_and_curves()
    with pytest.raises(ValueError, match="reference"):
        cmp.compare_settings(runs, curves, reference="nope", learning_floor=0.8)
    with pytest.raises(ValueError, match="same seeds"):
        cmp.compare_settings(runs.drop(index=0), curves, reference="ref", learning_floor=0.8)
    with pytest.raises(ValueError, match="columns"):
        cmp.compare_settings(runs.drop(columns="learned"), curves, reference="ref", learning_floor=0.8)
    with pytest.raises(ValueError, match="learning_floor"):
        cmp.verdict(0.5, Interval(0, -1, 1, 0.95), 0)


def test_paired_by_seed_pairs_and_refuses_unpaired_runs():
    runs, _ = _runs_and_curves()
    assert cmp.paired_by_seed(runs, "ref", "careful").estimate == pytest.approx(9)
    assert cmp.paired_by_seed(runs, "ref", "careful", "learned").estimate == pytest.approx(5)
    with pytest.raises(ValueError, match="No runs"):
        cmp.paired_by_seed(runs, "ref", "missing")
    with pytest.raises(ValueError, match="same seeds"):
        cmp.paired_by_seed(runs[~((runs["setting"] == "ref") & (runs["seed"] == 0))], "ref", "careful")


def test_recommendations_follow_the_table():
    runs, curves = _runs_and_curves()
    runs = pd.concat([runs, runs[runs["setting"] == "careful"].assign(setting="low"),
                      runs[runs["setting"] == "same"].assign(setting="first"),
                      runs[runs["setting"] == "same"].assign(setting="last", forgotten=lambda f: f["forgotten"] + 3)])
    table = cmp.compare_settings(runs, curves, reference="ref", learning_floor=0.8)
    primary = cmp.paired_by_seed(runs, "ref", "low")
    hypothesis = cmp.paired_by_seed(runs, "first", "last")
    lines = cmp.recommendations(table, reference="ref", primary=("low", primary), hypothesis=("first", "last", hypothesis),
                               learning_floor=0.8, seeds=3)
    assert lines[0].startswith("**ref vs low** (the primary comparison)") and "the low forgets less" in lines[0]
    assert "learned too little" in lines[0]
    assert "hypothesis is supported" in lines[1]
    careful = next(line for line in lines if line.startswith("**careful**"))
    assert "not a remedy" in careful and "50%" in careful
    same = next(line for line in lines if line.startswith("**same**"))
    assert cmp.NO_CLEAR_DIFFERENCE in same and "secondary" in same
    assert len(lines) == 2 + len(set(runs["setting"])) - 2
