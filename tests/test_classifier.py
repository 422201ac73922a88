import json

import numpy as np
import pytest
from datasets import DatasetDict
from transformers import AutoTokenizer

import course_utils
from course_utils import classifier, data, models


def test_tokenize_splits_needs_a_pad_token():
    tok = AutoTokenizer.from_pretrained(models.TINY_GPT2)
    with pytest.raises(ValueError, match="pad token"):
        classifier.tokenize_splits(DatasetDict(), tok, 32)


def test_mean_pooled_features_ignore_padding():
    tok = AutoTokenizer.from_pretrained(models.TINY_ENCODER)
    model = classifier.new_classifier(models.TINY_ENCODER)
    alone = classifier.mean_pooled_features(model, tok, ["Short note."])
    padded = classifier.mean_pooled_features(model, tok, ["Short note.", "A much longer sentence " * 5])
    assert np.allclose(alone[0], padded[0], atol=1e-5)
    model.train()
    again = classifier.mean_pooled_features(model, tok, ["Short note."])
    assert np.allclose(alone, again, atol=1e-6), "no dropout while extracting features"
    assert model.training, "the model's mode is restored"


def test_new_classifier_labels_and_random_control():
    pre = classifier.new_classifier(models.TINY_ENCODER, seed=0)
    rnd = classifier.new_classifier(models.TINY_ENCODER, seed=0, pretrained=False)
    assert pre.config.id2label == data.id2label() == rnd.config.id2label
    emb_pre, emb_rnd = pre.get_input_embeddings().weight, rnd.get_input_embeddings().weight
    assert emb_pre.shape == emb_rnd.shape and not np.allclose(emb_pre.detach(), emb_rnd.detach())


def test_train_or_load_classifier_trains_once_then_reloads(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    cfg = course_utils.setup(profile="smoke", verbose=False, max_train_examples=30, max_eval_examples=30)
    model, tok, info = classifier.train_or_load_classifier(cfg, quick=True)
    assert info["epochs_run"] <= 3 and info["learning_rate"] == 3e-4
    assert info["train_examples"] == 30 and len(list(tmp_path.glob("classifier-*"))) == 1
    calls = []
    monkeypatch.setattr(classifier, "fine_tune", lambda *a, **k: calls.append(1))
    monkeypatch.setattr("course_utils.recipes.train_method", lambda *a, **k: calls.append(1))
    again, _, info2 = classifier.train_or_load_classifier(cfg, quick=True)
    assert calls == [] and info2["path"] == info["path"]
    first = next(iter(model.state_dict().values()))
    assert np.allclose(first.numpy(), next(iter(again.state_dict().values())).numpy())
    assert json.loads((tmp_path / info["path"].split("/")[-1] / "info.json").read_text())["seed"] == 0


def test_a_second_process_waits_for_the_first_rather_than_training_the_same_classifier(tmp_path):
    """train_or_load_classifier holds files.exclusive while it checks the cache and trains: a second
    caller (another notebook, another test worker) enters only once the first has left."""
    import threading
    import time

    from course_utils.files import exclusive

    events = []

    def work(name):
        with exclusive(tmp_path / ".classifier.lock"):
            events.append(f"{name} in")
            time.sleep(0.3)
            events.append(f"{name} out")

    threads = [threading.Thread(target=work, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
        time.sleep(0.05)
    for t in threads:
        t.join()
    assert events == ["a in", "a out", "b in", "b out"]
