import json
import shutil
from pathlib import Path

from course_utils import colab

ROOT = Path(__file__).resolve().parents[1]


def test_setup_cell_pins_a_release_and_never_touches_torch():
    src = colab.setup_cell_source()
    assert colab.RELEASE in src and colab.GITHUB_REPOSITORY in src
    assert "torch" not in src.split("SPEC")[1] and "numpy" not in src.split("SPEC")[1]
    assert "--upgrade" not in src and "-U " not in src  # only what is below a floor moves
    compile(src, "<setup>", "exec")


def test_repository_address_lives_in_one_place():
    """Every notebook and the README take the address from colab.py; pyproject agrees."""
    assert f"https://github.com/{colab.GITHUB_REPOSITORY}" in (ROOT / "pyproject.toml").read_text()
    readme = (ROOT / "README.md").read_text()
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert colab.badge_markdown(notebook.relative_to(ROOT)) in readme, notebook.name


def test_sync_repairs_a_drifted_notebook(tmp_path):
    (tmp_path / "notebooks").mkdir()
    target = tmp_path / "notebooks" / "00_setup_check.ipynb"
    shutil.copy(ROOT / "notebooks" / "00_setup_check.ipynb", target)
    nb = json.loads(target.read_text())
    nb["cells"][1]["source"] = ["!pip install course-utils torch\n"]
    nb["cells"][0]["source"] = ["# 00 · Setup check\n"]
    target.write_text(json.dumps(nb))
    assert len(colab.problems(target, tmp_path)) == 2
    assert colab.sync(target, tmp_path)
    assert colab.problems(target, tmp_path) == []
    assert not colab.sync(target, tmp_path)  # idempotent
