"""The cheat sheet: every rule gets a check with a known verdict, the verdicts follow the numbers,
the committed docs/cheatsheet.md is what lesson 07's snapshot results give, and every code snippet
runs on the installed transformers and peft."""

import copy
import subprocess
import sys
from pathlib import Path

import pytest

from course_utils import cheatsheet, models

ROOT = Path(__file__).resolve().parents[1]
OWN = {"accumulation_max_abs_diff": 1e-8,
       "stopping": {"epochs": 8, "train_loss_epoch": 8, "val_loss_epoch": 5, "val_f1_epoch": 4, "diff": 0.0,
                    "diff_low": -0.01, "diff_high": 0.01},
       "too_low_rate": {"steps": 80, "low_rate": 3e-6, "low_f1": 0.2, "majority_f1": 0.2, "rate": 3e-4, "f1": 0.97,
                        "diff": 0.77, "diff_low": 0.7, "diff_high": 0.8}}


@pytest.fixture(scope="module")
def snapshot():
    values, where, _ = cheatsheet.load_results(cheatsheet.snapshot_folder())
    assert "snapshot" in where
    return values


def test_every_rule_has_a_check_with_a_known_verdict(snapshot):
    checks = cheatsheet.check_rules(snapshot, OWN)
    assert [c.number for c in checks] == [r.number for r in cheatsheet.RULES]
    assert len(checks) >= 13 and all(c.verdict in cheatsheet.VERDICTS and c.measured and c.why for c in checks)
    assert sum(c.verdict != cheatsheet.NOT_TESTABLE for c in checks) >= 8


def test_verdicts_follow_the_numbers(snapshot):
    v = copy.deepcopy(snapshot)
    lesson05 = v["05_instruction_finetuning"]
    assert cheatsheet.check_rule("8", v, OWN).verdict == cheatsheet.CONTRADICTED  # few records beat the baseline
    lesson05["em_after_low"] = lesson05["majority_rate"] - 0.01
    assert cheatsheet.check_rule("8", v, OWN).verdict == cheatsheet.INCONCLUSIVE
    lesson05["em_after_high"] = lesson05["majority_rate"] - 0.001
    assert cheatsheet.check_rule("8", v, OWN).verdict == cheatsheet.HOLDS
    assert cheatsheet.check_rule("4", v, OWN).verdict == cheatsheet.HOLDS
    assert cheatsheet.check_rule("4", v, {**OWN, "accumulation_max_abs_diff": 1e-3}).verdict == cheatsheet.CONTRADICTED
    assert cheatsheet.check_rule("9", v, OWN).verdict == cheatsheet.INCONCLUSIVE
    better = {**OWN, "stopping": {**OWN["stopping"], "diff": 0.03, "diff_low": 0.01, "diff_high": 0.05}}
    assert cheatsheet.check_rule("9", v, better).verdict == cheatsheet.HOLDS
    assert cheatsheet.check_rule("12", v, OWN).verdict == cheatsheet.HOLDS
    v["02_classification_finetuning"]["full_vs_tfidf_low"] = -0.01
    assert cheatsheet.check_rule("6", v, OWN).verdict == cheatsheet.INCONCLUSIVE


def test_bad_input_is_named(tmp_path):
    with pytest.raises(ValueError, match="No rule '99'"):
        cheatsheet.check_rule("99", {}, OWN)
    with pytest.raises(FileNotFoundError, match="make run"):
        cheatsheet.load_results(tmp_path)
    with pytest.raises(ValueError, match="Unknown verdict"):
        cheatsheet.Check("1", "rule", "probably", "x", "y")


def test_the_committed_cheatsheet_is_what_the_snapshot_gives():
    proc = subprocess.run([sys.executable, "-m", "course_utils.cheatsheet", "--check",
                           "--results", str(cheatsheet.snapshot_folder()), "--out", str(ROOT / "docs" / "cheatsheet.md")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_snippet_runs_on_the_installed_libraries(tmp_path):
    from datasets import Dataset

    from course_utils import data

    frame = data.load_domain_frame().groupby("label").head(4).reset_index(drop=True)
    frame["label"] = frame["label"].map(data.label2id())
    namespace = {"MODEL": models.TINY_ENCODER, "OUTPUT_DIR": str(tmp_path)}
    for title, code in cheatsheet.SNIPPETS:
        if title.startswith("Trainer"):  # the data the snippets train on: a few examples, one epoch
            tok = namespace["tokenizer"]
            rows = Dataset.from_pandas(frame[["text", "label"]])
            rows = rows.map(lambda b: tok(b["text"], truncation=True, max_length=64), batched=True)
            namespace.update(train_set=rows, validation_set=rows, test_set=rows)
            namespace["args"].num_train_epochs = 1
        exec(compile(code, f"<snippet: {title}>", "exec"), namespace)
    assert (tmp_path / "best" / "model.safetensors").exists() and len(namespace["predictions"]) == len(frame)
    assert (tmp_path / "adapter" / "adapter_model.safetensors").exists()


def test_a_results_folder_with_a_lesson_half_written_is_not_used(tmp_path):
    import json
    import shutil

    for lesson in cheatsheet.LESSONS:
        shutil.copy(cheatsheet.snapshot_folder() / f"{lesson}.json", tmp_path)
    assert cheatsheet.load_results(tmp_path)[2] == tmp_path and cheatsheet.folder_name(tmp_path) == str(tmp_path)
    assert cheatsheet.load_results(cheatsheet.folder_name(cheatsheet.snapshot_folder()))[2] == cheatsheet.snapshot_folder()
    half = json.loads((tmp_path / "06_lora.json").read_text())
    del half["values"]["remedy_ppl_rise"]  # a lesson still running has recorded only part of its values
    (tmp_path / "06_lora.json").write_text(json.dumps(half))
    with pytest.raises(FileNotFoundError):
        cheatsheet.load_results(tmp_path)


def test_with_the_learners_own_models_lesson_07_reads_their_runs(tmp_path, monkeypatch):
    import shutil
    from types import SimpleNamespace

    from course_utils.results import lessons_folder

    monkeypatch.setenv("COURSE_RESULTS_DIR", str(tmp_path))
    cfg = SimpleNamespace(models={"encoder": "roberta-base (Hub)", "causal_lm": "tiny-gpt2 (bundled, offline)"},
                          own_models=("encoder",))
    own = lessons_folder(None, cfg.models, cfg.own_models)
    for folder in (tmp_path, own):  # the profile's runs and the runs with the learner's encoder
        folder.mkdir(parents=True, exist_ok=True)
        for lesson in cheatsheet.LESSONS:
            shutil.copy(cheatsheet.snapshot_folder() / f"{lesson}.json", folder)
    assert cheatsheet.load_results(config=cfg)[2] == own
    assert cheatsheet.load_results()[2] == tmp_path  # without own models: the profile's runs
    for lesson in cheatsheet.LESSONS:
        (own / f"{lesson}.json").unlink()
    values, where, folder = cheatsheet.load_results(config=cfg)  # none yet: the next candidate, named
    assert folder == tmp_path and str(tmp_path) in where
