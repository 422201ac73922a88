"""Packaging: the wheel carries the data and models; pyproject, lock and environment.yml agree."""

import re
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from course_utils import profiles

ROOT = Path(__file__).resolve().parents[1]


def lock_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements-lock.txt").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    return pins


def pyproject_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        deps += extra
    return [Requirement(d) for d in deps]


def test_lock_satisfies_every_lower_bound_in_pyproject():
    pins = lock_pins()
    for req in pyproject_requirements():
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is in pyproject.toml but not pinned in the lock"
        assert req.specifier.contains(pins[name], prereleases=True), (req, pins[name])


def test_pyproject_has_lower_bounds_only_and_no_torch_pin():
    for req in pyproject_requirements():
        for spec in req.specifier:
            assert spec.operator == ">=", f"{req}: pyproject.toml keeps lower bounds only"


def test_lock_pins_the_cpu_torch_ci_installs():
    assert lock_pins()["torch"] == "2.13.0"


def test_supported_floor_is_what_the_lock_tests():
    pins = lock_pins()
    deps = {canonicalize_name(r.name): r for r in pyproject_requirements()}
    for name, (floor, _ceiling) in profiles.SUPPORTED_VERSIONS.items():
        assert pins[name] == floor, f"the tested floor of {name} must be the lock's version"
        assert str(deps[name].specifier) == f">={floor}"


def test_reading_a_notebook_builds_no_parser():
    """jsonschema 4.24 and later pull in rfc3987-syntax (through jupyter-events' format extra), which
    builds a Lark parser when imported: 0.7 s in every process that imports nbformat, and the grader
    starts one such process per submission. The lock keeps jsonschema 4.23."""
    from packaging.version import Version

    pins = lock_pins()
    assert Version(pins["jsonschema"]) < Version("4.24"), "keep jsonschema below 4.24 in the lock (see the Makefile)"
    assert "rfc3987-syntax" not in pins and "lark" not in pins


def test_environment_yml_installs_the_lock():
    env = (ROOT / "environment.yml").read_text()
    header = (ROOT / "requirements-lock.txt").read_text().splitlines()[0]
    python = re.search(r"python=(\d+\.\d+)", env).group(1)
    assert f"Python {python}" in header, "environment.yml's Python must be the lock's"
    assert re.search(r"^\s*- -r requirements-lock\.txt$", env, re.M)
    assert re.search(r"^\s*- -e \.$", env, re.M)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)],
                   check=True, capture_output=True)
    return next(out.glob("course_utils-*.whl"))


def test_wheel_lists_data_and_models(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("course_utils/pretrained/tiny-gpt2/model.safetensors",
                   "course_utils/pretrained/tiny-distilbert/model.safetensors",
                   "course_utils/pretrained/tiny-gpt2/model_card.json",
                   "course_utils/data/pretrain_prose/legal.txt",
                   "course_utils/snapshot/06_lora.json"):  # lesson 07 reads the committed results on Colab too
        assert needed in names


CHECK = """
import sys, course_utils
from course_utils import corpus, models
from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer
assert course_utils.__file__.startswith(sys.prefix), course_utils.__file__
assert len(corpus.domain_prose()) >= 300
tok = AutoTokenizer.from_pretrained(models.TINY_GPT2)
lm = AutoModelForCausalLM.from_pretrained(models.TINY_GPT2)
print(lm(**tok("The court", return_tensors="pt")).logits.shape[-1])
enc = AutoModelForMaskedLM.from_pretrained(models.TINY_ENCODER)
print(models.TINY_GPT2)
"""


def test_wheel_installs_into_a_clean_venv_and_loads_data_and_models(wheel, tmp_path):
    """The package and its data come only from the wheel; the heavy dependencies (torch,
    transformers) are shared from this environment by a .pth line instead of reinstalled."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)],
                   check=True, capture_output=True)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    (Path(site) / "_course_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    proc = subprocess.run([str(python), "-c", CHECK], cwd=tmp_path, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    vocab, path = proc.stdout.split()
    assert int(vocab) > 1000 and path.startswith(str(venv))
