"""`make run`'s runner, on a two-cell notebook instead of the lessons (which nbval runs)."""

import os
import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]


def test_runner_executes_records_and_summarises(tmp_path):
    nb = new_notebook(cells=[new_code_cell(
        "import course_utils\n"
        "res = course_utils.Results('07_demo', profile='smoke')\n"
        "res.record('score', 0.75, label='Demo score', headline=True, fmt='.2f')")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    broken = new_notebook(cells=[new_code_cell("raise ValueError('planted')")])
    broken.metadata["kernelspec"] = nb.metadata["kernelspec"]
    nbformat.write(nb, tmp_path / "07_demo.ipynb")
    nbformat.write(broken, tmp_path / "08_broken.ipynb")
    env = {**os.environ, "COURSE_RESULTS_DIR": str(tmp_path / "results")}
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
    assert (tmp_path / "results" / "_run_summary.json").exists()
