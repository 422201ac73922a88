"""`make run`'s runner, on a two-cell notebook instead of the lessons (which nbval runs)."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import torch
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]


def test_runner_executes_records_and_summarises(tmp_path):
    nb = new_notebook(cells=[new_code_cell(
        "import course_utils\n"
        "res = course_utils.Results('07_demo', profile='smoke')\n"
        "res.record('score', 0.75, label='Demo score', headline=True, fmt='.2f')\n"
        "res.record('precision', 'fp32')")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    broken = new_notebook(cells=[new_code_cell("raise ValueError('planted')")])
    broken.metadata["kernelspec"] = nb.metadata["kernelspec"]
    nbformat.write(nb, tmp_path / "07_demo.ipynb")
    nbformat.write(broken, tmp_path / "08_broken.ipynb")
    env = {**os.environ, "COURSE_RESULTS_DIR": str(tmp_path / "results"), "COURSE_PRECISION": "fp16"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "run_lessons.py"), str(tmp_path / "07_demo.ipynb"),
         str(tmp_path / "08_broken.ipynb"), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert proc.returncode == 1, "a failing lesson fails the run"
    lines = proc.stdout.splitlines()
    demo = next(line for line in lines if line.startswith("07_demo"))
    assert "smoke" in demo and "Demo score: 0.75" in demo and " s " in demo
    assert "FAILED" in next(line for line in lines if line.startswith("08_broken"))
    assert (tmp_path / "out" / "07_demo.ipynb").exists()
    summary = json.loads((tmp_path / "results" / "_run_summary.json").read_text())
    # the precision the lesson recorded wins over COURSE_PRECISION; the versions are this torch's
    assert summary["profile"] == "smoke" and summary["precision"] == "fp32"
    assert summary["torch"] == torch.__version__ and summary["cuda"] == torch.version.cuda
    assert [r["lesson"] for r in summary["lessons"]] == ["07_demo", "08_broken"]


def _runner():
    spec = importlib.util.spec_from_file_location("run_lessons", ROOT / "tools" / "run_lessons.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_precision_comes_from_the_lessons_then_the_environment(tmp_path):
    runner = _runner()
    (tmp_path / "00_a.json").write_text(json.dumps({"precision": "bf16", "values": {}}))
    (tmp_path / "01_b.json").write_text(json.dumps({"values": {"precision": {"value": "bf16"}}}))
    (tmp_path / "02_c.json").write_text(json.dumps({"values": {"precision": {"value": "fp32"}}}))
    assert runner.precision_used(tmp_path, ["00_a", "01_b"], env={"COURSE_PRECISION": "fp16"}) == "bf16"
    assert runner.precision_used(tmp_path, ["00_a", "02_c"], env={}) == "bf16/fp32"
    assert runner.precision_used(tmp_path, ["99_none"], env={"COURSE_PRECISION": " FP16 "}) == "fp16"
    assert runner.precision_used(tmp_path, ["99_none"], env={}) == "auto"
    assert runner.profile_used([{"profile": "gpu"}, {"profile": "gpu"}], None) == "gpu"
    assert runner.profile_used([{"profile": "gpu"}, {"profile": "smoke"}], "gpu") == "gpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device: the gpu profile may run")
def test_gpu_profile_without_cuda_stops_before_any_notebook(tmp_path):
    nb = new_notebook(cells=[new_code_cell("open('ran', 'w').write('yes')")])
    nbformat.write(nb, tmp_path / "00_demo.ipynb")
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "run_lessons.py"), "--profile", "gpu", str(tmp_path / "00_demo.ipynb"),
         "--results", str(tmp_path / "results"), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120,
    )
    seconds = time.perf_counter() - start
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "the gpu profile needs a CUDA device and torch" in proc.stderr
    assert "running" not in proc.stdout  # no notebook was started ...
    assert not (tmp_path / "ran").exists() and not (tmp_path / "out").exists()
    assert seconds < 60, f"the check took {seconds:.0f} s: it should only import torch"


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize("precision, run", [(None, "gpu"), ("fp16", "gpu-fp16")])
def test_make_results_gpu_runs_the_gpu_profile_and_stores_its_snapshot(precision, run):
    env = {k: v for k, v in os.environ.items() if k != "COURSE_PRECISION"}
    command = ["make", "-n", "results-gpu"] + ([f"COURSE_PRECISION={precision}"] if precision else [])
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    position = {what: next(i for i, line in enumerate(lines) if what in line) for what in (
        f"tools/run_lessons.py --profile gpu --results build/results-{run} --out build/notebooks-{run}",
        f"cp build/results-{run}/*.json course_utils/snapshot/{run}/",
        "-m course_utils.results readme --results course_utils/snapshot --readme README.md")}
    assert list(position.values()) == sorted(position.values()), "run, then store, then the README"


def test_a_run_with_the_learners_model_records_and_summarises_apart(tmp_path, monkeypatch):
    run_lessons = _runner()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "config.json").write_text("{}")
    monkeypatch.setenv("COURSE_PROFILE", "cpu")
    monkeypatch.delenv("COURSE_CAUSAL_LM", raising=False)
    monkeypatch.delenv("COURSE_ENCODER", raising=False)
    assert run_lessons.lesson_results_folder(tmp_path) == tmp_path
    monkeypatch.setenv("COURSE_ENCODER", str(tmp_path / "mine"))
    assert run_lessons.lesson_results_folder(tmp_path) == tmp_path / "own-models" / "mine__gpt2"
