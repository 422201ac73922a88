"""The recipes as scripts: ``python -m course_utils.train`` on one process and on two (torchrun, gloo).

Two processes at the same global batch must take the same optimizer steps on the same examples as one
process (each its own half of every batch), reach the same macro-F1 within 0.02, and leave one
results file, written by rank 0.
"""

import contextlib
import io
import json
import os
import subprocess
import sys

import pytest

from course_utils import train
from course_utils.training import optimizer_steps

# A fixed number of steps for both runs: 32 steps of 8 examples, which a tiny model learns from (macro-F1 above 0.9).
CLASSIFY = ["--epochs", "4", "--patience", "0", "--max-train", "64", "--global-batch", "8"]
INSTRUCT = ["--epochs", "2", "--max-train", "64", "--max-eval", "16"]


def launch(folder, recipe: str, options: list[str], processes: int) -> dict:
    """Run a script in ``folder``: under torchrun when ``processes`` > 1, else in this process (the
    reference run, spared a second start of torch); its results, shards and output."""
    arguments = [recipe, "--profile", "smoke", "--results", str(folder / "results"),
                 "--output-dir", str(folder / "out"), "--record-shards", str(folder / "shards"), *options]
    if processes == 1:
        assert "RANK" not in os.environ and "WORLD_SIZE" not in os.environ
        printed = io.StringIO()
        here = os.getcwd()
        os.chdir(folder)
        try:
            with contextlib.redirect_stdout(printed):
                assert train.main(arguments) == 0
        finally:
            os.chdir(here)
        stdout = printed.getvalue()
    else:
        launcher = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)]
        command = [sys.executable, *launcher, "-m", "course_utils.train", *arguments]
        env = {k: v for k, v in os.environ.items() if k not in ("COURSE_RESULTS_DIR", "RANK", "WORLD_SIZE")}
        env["HF_HUB_OFFLINE"] = "1"
        done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        stdout = done.stdout
    summaries = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    shards = {int(p.stem[4:]): json.loads(p.read_text())["batches"] for p in (folder / "shards").glob("rank*.json")}
    return {"results": sorted(p.name for p in (folder / "results").rglob("*.json")), "summaries": summaries,
            "recorded": json.loads((folder / "results" / f"train_{recipe}.json").read_text()), "shards": shards}


@pytest.fixture(scope="module")
def classify_runs(tmp_path_factory):
    return {n: launch(tmp_path_factory.mktemp(f"classify{n}"), "classify", CLASSIFY, n) for n in (1, 2)}


def test_two_processes_split_every_batch_of_one_process(classify_runs):
    one, two = classify_runs[1]["shards"][0], classify_runs[2]["shards"]
    assert sorted(two) == [0, 1]
    assert len(two[0]) == len(two[1]) == len(one)  # the same number of optimizer steps
    for step, (whole, first, second) in enumerate(zip(one, two[0], two[1])):
        assert len(first) == len(second) == len(whole) // 2, step
        assert not set(first) & set(second), f"step {step}: both processes trained on {set(first) & set(second)}"
        assert set(first) | set(second) == set(whole), f"step {step}: not the examples one process used"


def test_two_processes_reach_the_macro_f1_of_one(classify_runs):
    one, two = (classify_runs[n]["recorded"]["values"] for n in (1, 2))
    assert one["processes"]["value"] == 1 and two["processes"]["value"] == 2
    assert one["global_batch"]["value"] == two["global_batch"]["value"] == 8
    assert one["optimizer_steps"]["value"] == two["optimizer_steps"]["value"] == optimizer_steps(64, 8, 4)
    assert abs(one["test_macro_f1"]["value"] - two["test_macro_f1"]["value"]) <= 0.02
    assert one["test_macro_f1"]["value"] > 0.8  # both learned the task, not just agreed


def test_only_rank_zero_records_and_prints(classify_runs):
    run = classify_runs[2]
    assert run["results"] == ["train_classify.json"]
    assert len(run["summaries"]) == 1 and run["summaries"][0]["processes"] == 2
    assert run["recorded"]["models"]["encoder"].startswith("tiny-distilbert")


def test_instruct_on_two_processes(tmp_path):
    run = launch(tmp_path, "instruct", INSTRUCT, 2)
    first, second = run["shards"][0], run["shards"][1]
    steps = optimizer_steps(64, 16, 2)
    assert len(first) == len(second) == steps
    per_epoch = steps // 2
    for epoch in range(2):
        a = [i for batch in first[epoch * per_epoch:(epoch + 1) * per_epoch] for i in batch]
        b = [i for batch in second[epoch * per_epoch:(epoch + 1) * per_epoch] for i in batch]
        assert not set(a) & set(b) and sorted(a + b) == list(range(64)), f"epoch {epoch}: shards overlap or miss"
    assert run["results"] == ["train_instruct.json"] and len(run["summaries"]) == 1
    values = run["recorded"]["values"]
    assert values["processes"]["value"] == 2 and values["optimizer_steps"]["value"] == steps
    assert 0 <= values["heldout_exact_match"]["value"] <= 1


def test_a_process_other_than_rank_zero_records_nothing(tmp_path, monkeypatch):
    import course_utils

    cfg = course_utils.setup(profile="smoke", verbose=False)
    args = train.parse_args(["classify", "--results", str(tmp_path)])
    monkeypatch.setenv("RANK", "1")
    assert train._results(args, cfg, "train_classify") is None
    monkeypatch.setenv("RANK", "0")
    assert train._results(args, cfg, "train_classify") is not None
    assert [p.name for p in tmp_path.iterdir()] == ["train_classify.json"]


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="multiple of 2"):
        train.per_process_batch(15, 2)
    with pytest.raises(SystemExit):
        train.parse_args(["classify", "--epochs", "0"])
    with pytest.raises(SystemExit):
        train.parse_args(["finetune"])
    with pytest.raises(SystemExit):  # not silently replaced by the recipe's rate
        train.parse_args(["instruct", "--learning-rate", "0"])


def test_instruct_refuses_fsdp_with_the_reason(monkeypatch, tmp_path):
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    with pytest.raises(SystemExit, match="does not run under FSDP yet"):
        train.main(["instruct", "--profile", "smoke", "--results", str(tmp_path)])
    assert not list(tmp_path.iterdir())  # refused before anything was recorded
