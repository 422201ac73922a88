import pytest
import torch

from course_utils.forgetting import WeightAnchor, anchored_trainer_class, relative_weight_change, replay_mix


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
