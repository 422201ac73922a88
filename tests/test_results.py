import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from course_utils import results
from course_utils.results import Results

ROOT = Path(__file__).resolve().parents[1]


def test_record_writes_json_at_once(tmp_path):
    res = Results("99_demo", profile="smoke", folder=tmp_path)
    assert res.record("f1", np.float32(0.5), label="Macro-F1", headline=True, fmt=".2f") == 0.5
    data = json.loads((tmp_path / "99_demo.json").read_text())
    assert data["profile"] == "smoke"
    assert data["values"]["f1"] == {"value": 0.5, "label": "Macro-F1", "headline": True, "fmt": ".2f"}
    assert res["f1"] == 0.5


def test_a_new_run_starts_a_fresh_file(tmp_path):
    Results("99_demo", "smoke", tmp_path).record("old", 1)
    Results("99_demo", "smoke", tmp_path)
    assert json.loads((tmp_path / "99_demo.json").read_text())["values"] == {}


def test_prose_is_rendered_from_recorded_values(tmp_path):
    res = Results("99_demo", "smoke", tmp_path)
    res.record("acc", 0.91234)
    assert res.text("accuracy {acc:.1%} on {n} examples", n=200) == "accuracy 91.2% on 200 examples"
    assert res.md("**{acc:.2f}**").data == "**0.91**"
    with pytest.raises(KeyError, match="has not been recorded"):
        res.text("{missing}")


@pytest.mark.parametrize(
    "name, value, error",
    [("test f1", 1, ValueError), ("nan", float("nan"), ValueError), ("obj", object(), TypeError)],
)
def test_bad_records(tmp_path, name, value, error):
    with pytest.raises(error):
        Results("99_demo", "smoke", tmp_path).record(name, value)


def test_bad_format_spec_fails_when_recorded(tmp_path):
    with pytest.raises(ValueError):
        Results("99_demo", "smoke", tmp_path).record("x", "text", fmt=".2f")


def test_readme_section_round_trip(tmp_path):
    folder = tmp_path / "results"
    res = Results("00_demo", "smoke", folder)
    res.record("ppl", 61.234, label="Perplexity", headline=True, fmt=".1f")
    res.record("hidden", 3)  # not a headline: stays out of the README
    readme = tmp_path / "README.md"
    readme.write_text(f"# Course\n\n{results.BEGIN}\n{results.END}\n\nmore\n")
    assert not results.update_readme(readme, folder, check=True)
    results.update_readme(readme, folder)
    text = readme.read_text()
    assert "| 00_demo | smoke | Perplexity | 61.2 |" in text and "hidden" not in text
    assert text.endswith("\n\nmore\n")
    assert results.update_readme(readme, folder, check=True)
    res.record("ppl", 70.0, label="Perplexity", headline=True, fmt=".1f")  # the JSON moves on
    assert not results.update_readme(readme, folder, check=True)


def test_readme_without_markers(tmp_path):
    (tmp_path / "README.md").write_text("# no markers\n")
    with pytest.raises(ValueError, match="markers"):
        results.update_readme(tmp_path / "README.md", tmp_path)


def test_missing_results_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="make run"):
        results.load_all(tmp_path / "nope")


def test_the_readme_agrees_with_the_committed_results():
    proc = subprocess.run(
        [sys.executable, "-m", "course_utils.results", "readme", "--check",
         "--results", str(ROOT / "course_utils" / "snapshot"), "--readme", str(ROOT / "README.md")],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr


def test_results_and_answers_share_one_conversion(tmp_path):
    """One to_jsonable for both: NaN is refused in a recorded result, and is None in an answer."""
    from course_utils.exercises import to_jsonable

    assert results.to_jsonable is to_jsonable
    res = Results("99_demo", "smoke", tmp_path)
    with pytest.raises(ValueError, match="finite number"):
        res.record("scores", [0.5, float("nan")])
    with pytest.raises(ValueError, match="finite number"):
        res.record("loss", np.float32("inf"))
    assert to_jsonable([0.5, float("nan")], name="scores") == [0.5, None]
    loop = [1]
    loop.append(loop)
    with pytest.raises(TypeError, match="contains itself"):
        res.record("loop", loop)
    assert res.record("table", np.array([[1, 2]])) is not None and res["table"] == [[1, 2]]


# ------------------------------------------------------------------ the GPU snapshot beside the smoke one

SNAPSHOT = ROOT / "course_utils" / "snapshot"


def _fake_snapshot(top, gpu_folder="gpu", gpu="NVIDIA H200", precision="bf16", accuracy=0.5):
    """Two smoke lessons from the committed snapshot, and a gpu run of them in ``top/gpu_folder``
    with changed values, lesson 03's calibration error not recorded, and a run summary naming the GPU."""
    top.mkdir(exist_ok=True)
    sub = top / gpu_folder
    sub.mkdir()
    for lesson in ("00_setup_check", "03_evaluation"):
        shutil.copy(SNAPSHOT / f"{lesson}.json", top)
        data = json.loads((SNAPSHOT / f"{lesson}.json").read_text())
        data["profile"] = "gpu"
        if lesson == "00_setup_check":
            data["values"]["precision"]["value"] = precision
        else:
            data["values"]["accuracy"]["value"] = accuracy
            del data["values"]["ece"]
        (sub / f"{lesson}.json").write_text(json.dumps(data))
    smoke = json.loads((SNAPSHOT / results.RUN_SUMMARY).read_text())
    smoke["lessons"] = [r for r in smoke["lessons"] if r["lesson"] in ("00_setup_check", "03_evaluation")]
    (top / results.RUN_SUMMARY).write_text(json.dumps(smoke))
    run = {**smoke, "gpu": gpu, "cpus": 16, "profile": "gpu", "precision": precision, "torch": "2.9.0",
           "cuda": "12.8", "lessons": [{**smoke["lessons"][0], "profile": "gpu", "seconds": 40.4},
                                       {**smoke["lessons"][1], "profile": "gpu", "seconds": 7.6}]}
    (sub / results.RUN_SUMMARY).write_text(json.dumps(run))
    return smoke


def _row(section, start):
    return next(line for line in section.splitlines() if line.startswith(start))


def test_gpu_results_render_beside_the_smoke_values(tmp_path):
    top = tmp_path / "snapshot"
    smoke = _fake_snapshot(top)
    section = results.readme_section(top)
    assert "| lesson | result | smoke | gpu (NVIDIA H200, bf16) |" in section
    accuracy = json.loads((SNAPSHOT / "03_evaluation.json").read_text())["values"]["accuracy"]
    assert _row(section, "| 03_evaluation | Test accuracy |") == \
        f"| 03_evaluation | Test accuracy | {results.format_value(accuracy['value'], '.3f')} | 0.500 |"
    assert _row(section, "| 00_setup_check | Training precision |") == \
        "| 00_setup_check | Training precision | fp32 | bf16 |"
    # lesson 03's gpu run did not record its calibration error: a dash, not a KeyError
    assert _row(section, "| 03_evaluation | Expected calibration error |").endswith(f" | {results.MISSING} |")
    # wall times per run, each run with its machine, GPU and versions
    smoke_seconds = round(smoke["lessons"][0]["seconds"])
    assert _row(section, f"| 00_setup_check | {smoke_seconds} s") == \
        f"| 00_setup_check | {smoke_seconds} s | 40 s |"
    assert "(16 CPUs, NVIDIA H200, torch 2.9.0, CUDA 12.8)" in section
    assert "- smoke: measured by `make run`" in section and "gpu (NVIDIA H200, bf16): measured by `make results-gpu`" \
        in section
    # existing callers still read the top folder only
    assert {lesson["profile"] for lesson in results.load_all(top)} == {"smoke"}
    # and the README round trip holds with the extra columns
    readme = tmp_path / "README.md"
    readme.write_text(f"# Course\n\n{results.BEGIN}\n{results.END}\n")
    results.update_readme(readme, top)
    assert results.update_readme(readme, top, check=True)
    assert "0.500" in readme.read_text()


def test_a_second_gpu_run_gets_its_own_column(tmp_path):
    top = tmp_path / "snapshot"
    _fake_snapshot(top)
    (top / "gpu-fp16").mkdir()
    for path in (top / "gpu").iterdir():
        data = json.loads(path.read_text())
        if path.name == results.RUN_SUMMARY:
            data["precision"] = "fp16"
        elif "accuracy" in data["values"]:
            data["values"]["accuracy"]["value"] = 0.25
        (top / "gpu-fp16" / path.name).write_text(json.dumps(data))
    section = results.readme_section(top)
    assert "| lesson | result | smoke | gpu (NVIDIA H200, bf16) | gpu-fp16 (NVIDIA H200, fp16) |" in section
    assert _row(section, "| 03_evaluation | Test accuracy |").endswith("| 0.500 | 0.250 |")


def test_a_headline_only_the_gpu_run_has_shows_a_dash_for_smoke(tmp_path):
    top = tmp_path / "snapshot"
    _fake_snapshot(top)
    data = json.loads((top / "gpu" / "03_evaluation.json").read_text())
    data["values"]["peak_memory"] = {"value": 1234.5, "label": "Peak GPU memory (MB)", "headline": True, "fmt": ".0f"}
    (top / "gpu" / "03_evaluation.json").write_text(json.dumps(data))
    section = results.readme_section(top)
    assert _row(section, "| 03_evaluation | Peak GPU memory (MB) |") == \
        f"| 03_evaluation | Peak GPU memory (MB) | {results.MISSING} | 1234 |"


def test_without_run_folders_the_section_is_the_one_profile_table(tmp_path):
    top = tmp_path / "snapshot"
    top.mkdir()
    for lesson in ("00_setup_check", "03_evaluation"):
        shutil.copy(SNAPSHOT / f"{lesson}.json", top)
    before = results.readme_section(top)
    (top / "gpu").mkdir()  # an empty folder is no run
    (top / "own-models" / "bert__gpt2").mkdir(parents=True)  # a learner's own models: not a profile run
    shutil.copy(SNAPSHOT / "03_evaluation.json", top / "own-models" / "bert__gpt2")
    assert results.readme_section(top) == before
    assert "| lesson | profile | result | value |" in before


def test_a_broken_run_summary_is_named(tmp_path):
    top = tmp_path / "snapshot"
    _fake_snapshot(top)
    (top / "gpu" / results.RUN_SUMMARY).write_text("{}")
    with pytest.raises(ValueError, match="gpu/_run_summary.json is not a run summary"):
        results.readme_section(top)
