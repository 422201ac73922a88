"""The setup cell, the badges and the release they pin: one version, and everything the notebooks import is in it."""

import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import course_utils
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


# ---- One version: the package's, pinned by every setup cell; what the notebooks import is in it.


def test_the_pinned_release_is_v_plus_the_package_version():
    assert colab.RELEASE == f"v{course_utils.__version__}"
    assert f"@{colab.RELEASE}\"" in colab.setup_cell_source()
    assert importlib.metadata.version("course-utils") == course_utils.__version__, (
        "the installed metadata is stale: .venv/bin/python -m pip install --no-deps -e .")
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"] and "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "course_utils.__version__"}


def test_a_bump_in_init_alone_changes_the_built_version(tmp_path):
    """pyproject.toml reads __init__.py without importing the package (so without torch)."""
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "course_utils").mkdir()
    init = (ROOT / "course_utils" / "__init__.py").read_text()
    bumped, n = re.subn(r'^__version__ = "[^"]+"$', '__version__ = "9.8.7"', init, flags=re.M)
    assert n == 1, "__init__.py must type the version once, as a plain string"
    (tmp_path / "course_utils" / "__init__.py").write_text(bumped)
    (tmp_path / "meta").mkdir()
    build = "from setuptools import build_meta as b; print(b.prepare_metadata_for_build_wheel('meta'))"
    proc = subprocess.run([sys.executable, "-c", build], cwd=tmp_path, capture_output=True, text=True, check=True)
    metadata = (tmp_path / "meta" / proc.stdout.split()[-1] / "METADATA").read_text()
    assert "\nVersion: 9.8.7\n" in metadata


def test_every_notebook_import_is_in_the_pinned_release_and_its_dependencies():
    assert colab.import_problems(ROOT) == []


def test_the_readme_badges_open_the_pinned_release():
    assert colab.readme_problems(ROOT) == []


def write_notebook(path: Path, *cells: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "# Title"}]
          + [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": c} for c in cells],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))
    return path


def test_import_problems_names_each_bad_import_and_its_cell(tmp_path):
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    write_notebook(tmp_path / "exercises" / "bad.ipynb",
                   "import nonexistent_pkg_xyz",                                  # cell 1
                   "from course_utils.nothing import x",                          # cell 2
                   "from course_utils.data import no_such_helper",                # cell 3
                   "%matplotlib inline\n!pip list\nimport json\nfrom course_utils import data",  # cell 4: fine
                   "def f():\n    import packaging.version\n    return packaging",  # cell 5: nested
                   "from course_utils import no_such_module")                     # cell 6
    found = colab.import_problems(tmp_path)
    text = "\n".join(found)
    assert re.search(r"nonexistent_pkg_xyz is imported \(exercises/bad.ipynb cell 1:1\), which no installed", text)
    assert "exercises/bad.ipynb cell 2:1: module course_utils.nothing is not in course_utils" in text
    assert "exercises/bad.ipynb cell 3:1: `from course_utils.data import no_such_helper`: no_such_helper is not" in text
    assert "exercises/bad.ipynb cell 6:1: `from course_utils import no_such_module`" in text
    assert re.search(r"packaging is imported \(exercises/bad.ipynb cell 5:2\), from the distribution packaging, "
                     r"which \[project\] dependencies", text)
    assert "cell 4" not in text  # magics are skipped, json is standard, data exists
    assert colab.RELEASE in text


def test_a_dependency_missing_from_pyproject_is_found_through_course_utils(tmp_path):
    """Notebooks never import peft; course_utils.lora does, inside a function, and that counts."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    without_peft, n = re.subn(r'^\s*"peft[^"]*",.*\n', "", pyproject, flags=re.M)
    assert n == 1
    (tmp_path / "pyproject.toml").write_text(without_peft)
    write_notebook(tmp_path / "notebooks" / "lora.ipynb", "from course_utils import lora")
    peft = [p for p in colab.import_problems(tmp_path) if p.startswith("peft ")]
    assert len(peft) == 1 and "course_utils/lora.py:" in peft[0] and "add \"peft>=...\"" in peft[0]


def test_a_cell_that_is_not_python_is_reported_not_skipped(tmp_path):
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    write_notebook(tmp_path / "solutions" / "s.ipynb", "x = (1,")
    assert any("solutions/s.ipynb cell 1: not Python" in p for p in colab.import_problems(tmp_path))


def test_import_problems_refuses_a_root_without_notebooks_or_pyproject(tmp_path):
    with pytest.raises(ValueError, match="no notebooks in .*pass --root"):
        colab.import_problems(tmp_path)
    write_notebook(tmp_path / "notebooks" / "a.ipynb", "import json")
    with pytest.raises(ValueError, match="pyproject.toml does not exist: pass --root"):
        colab.import_problems(tmp_path)


def test_check_on_the_command_line_reports_import_problems(tmp_path, capsys):
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    write_notebook(tmp_path / "notebooks" / "a.ipynb", "from course_utils.nothing import x")
    assert colab.main(["check", "--root", str(tmp_path)]) == 1
    assert "module course_utils.nothing is not in course_utils" in capsys.readouterr().out
    assert colab.main(["check", "--root", str(tmp_path / "nowhere")]) == 2
    assert "pass --root" in capsys.readouterr().err


def test_sync_points_the_readme_badges_at_the_release(tmp_path):
    stale = colab.badge_markdown("notebooks/00_setup_check.ipynb").replace(colab.RELEASE, "v0.0.1")
    (tmp_path / "README.md").write_text(f"| 00 | {stale} |\n")
    assert colab.readme_problems(tmp_path) and "v0.0.1" in colab.readme_problems(tmp_path)[0]
    assert colab.sync_readme(tmp_path)
    assert colab.readme_problems(tmp_path) == []
    assert colab.badge_markdown("notebooks/00_setup_check.ipynb") in (tmp_path / "README.md").read_text()
    assert not colab.sync_readme(tmp_path)
