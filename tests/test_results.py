import json
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
