"""Execute every lesson headless in the detected profile and print one summary table.

    python tools/run_lessons.py [NOTEBOOK ...] [--out build/notebooks]

Each notebook runs in a fresh kernel with the notebooks/ folder as working directory, exactly
as a learner runs it; the executed copy goes to build/notebooks/, the lesson's recorded results
to build/results/, and the wall times to build/results/_run_summary.json (with the machine, the
GPU's name, the profile, the precision used and the torch and CUDA versions).

    python tools/run_lessons.py --profile gpu --results build/results-gpu --out build/notebooks-gpu

is what `make results-gpu` runs: with the gpu profile it stops at once, before any notebook,
when torch sees no CUDA device or COURSE_PRECISION names a precision this GPU cannot use.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# The lessons' setup() validates COURSE_PRECISION with the same function, so the early check agrees with it.
from course_utils.profiles import precision_override  # noqa: E402
from course_utils.results import RUN_SUMMARY, format_value  # noqa: E402


def gpu_name() -> str | None:
    import torch

    return torch.cuda.get_device_name() if torch.cuda.is_available() else None


def versions() -> dict[str, str | None]:
    """The torch version and the CUDA version torch was built with (None for a CPU-only build).

    >>> sorted(versions())
    ['cuda', 'torch']
    """
    import torch

    return {"torch": torch.__version__, "cuda": torch.version.cuda}


def gpu_problem(env: dict[str, str] | None = None) -> str | None:
    """Why the gpu profile cannot run here, or None when it can: checked before any notebook
    starts, so a machine without a GPU learns it in seconds rather than after a failed lesson.

    >>> import torch
    >>> (gpu_problem({}) is None) == torch.cuda.is_available()
    True
    """
    import torch

    env = os.environ if env is None else env
    if not torch.cuda.is_available():
        build = f"built with CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        return (f"the gpu profile needs a CUDA device and torch {torch.__version__} ({build}) sees none. "
                "Run it on a machine with an NVIDIA GPU (on Colab: Runtime > Change runtime type > GPU), "
                "or choose --profile smoke or --profile cpu.")
    try:
        # The lessons' setup() reads the same variable; a bad value would fail every one of them.
        precision_override("cuda", env)
    except ValueError as error:
        return str(error)
    return None


def precision_used(results_dir: Path, lessons: list[str], env: dict[str, str] | None = None) -> str:
    """The training precision the lessons recorded (their ``precision`` field, or lesson 00's
    ``precision`` value); if none recorded one, ``COURSE_PRECISION`` or ``"auto"``. Lessons that
    disagree give every precision, joined by ``/``.

    >>> precision_used(Path("/nonexistent"), ["00_setup_check"], env={"COURSE_PRECISION": "fp16"})
    'fp16'
    >>> precision_used(Path("/nonexistent"), [], env={})
    'auto'
    """
    env = os.environ if env is None else env
    found: list[str] = []
    for lesson in lessons:
        path = results_dir / f"{lesson}.json"
        if not path.exists():
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        value = data.get("precision") or data.get("values", {}).get("precision", {}).get("value")
        if isinstance(value, str) and value not in found:
            found.append(value)
    if found:
        return "/".join(found)
    return env.get("COURSE_PRECISION", "").strip().lower() or "auto"


def profile_used(rows: list[dict], requested: str | None) -> str:
    """The profile the lessons recorded when they agree, else the one requested, else ``"detected"``.

    >>> profile_used([{"profile": "gpu"}, {"profile": "?"}], None)
    'gpu'
    >>> profile_used([{"profile": "?"}], None)
    'detected'
    """
    recorded = {r["profile"] for r in rows if r["profile"] != "?"}
    if len(recorded) == 1:
        return recorded.pop()
    return requested or "detected"


def run(notebook: Path, out_dir: Path, timeout: int) -> tuple[float, str | None]:
    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(notebook.parent)}})
    start = time.perf_counter()
    error = None
    try:
        client.execute()
    except CellExecutionError as exc:
        error = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    seconds = time.perf_counter() - start
    out_dir.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out_dir / notebook.name)
    return seconds, error


def headline(results_dir: Path, lesson: str) -> tuple[str, str]:
    path = results_dir / f"{lesson}.json"
    if not path.exists():
        return "?", "(no results recorded)"
    data = json.loads(path.read_text())
    items = [f"{v['label']}: {format_value(v['value'], v.get('fmt'))}"
             for v in data["values"].values() if v.get("headline")]
    return data["profile"], "; ".join(items)


def lesson_results_folder(results_dir: Path) -> Path:
    """Where the lessons of this run record: ``results_dir``, or its ``own-models/...`` sub-folder when
    ``COURSE_ENCODER`` or ``COURSE_CAUSAL_LM`` names a model other than the profile's (decided as
    ``course_utils.setup`` and ``Results`` decide it), so a run with a learner's model never overwrites
    the profile's results or run summary."""
    from course_utils.profiles import choose_models, describe_model, select_profile
    from course_utils.results import lessons_folder

    if not (os.environ.get("COURSE_ENCODER", "").strip() or os.environ.get("COURSE_CAUSAL_LM", "").strip()):
        return results_dir  # no probe of the network for the usual run
    names, own = choose_models(select_profile()[0])
    return lessons_folder(results_dir, {role: describe_model(name) for role, name in names.items()}, own)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "notebooks")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    parser.add_argument("--profile", choices=["smoke", "cpu", "gpu"], default=None,
                        help="run in this profile instead of the detected one")
    parser.add_argument("--results", type=Path, default=None, help="results folder (default build/results)")
    args = parser.parse_args(argv)
    if args.profile:
        os.environ["COURSE_PROFILE"] = args.profile  # the kernels inherit it
    if os.environ.get("COURSE_PROFILE", "").strip().lower() == "gpu":  # as setup() reads it
        problem = gpu_problem()
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
    if args.results:
        os.environ["COURSE_RESULTS_DIR"] = str(args.results)
    notebooks = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    results_dir = Path(os.environ.get("COURSE_RESULTS_DIR", ROOT / "build" / "results"))
    os.environ["COURSE_RESULTS_DIR"] = str(results_dir)  # the kernels inherit it
    results_dir = lesson_results_folder(results_dir)  # where a learner's own models record
    rows, failed = [], 0
    for notebook in notebooks:
        print(f"running {notebook.name} ...", flush=True)
        seconds, error = run(notebook.resolve(), args.out, args.timeout)
        profile, summary = headline(results_dir, notebook.stem)
        if error:
            failed += 1
            summary = f"FAILED: {error}"
        rows.append({"lesson": notebook.stem, "profile": profile, "seconds": round(seconds, 1),
                     "headline": summary})
    summary_path = results_dir / RUN_SUMMARY
    summary = {"machine": f"{platform.system()} {platform.machine()}, Python {platform.python_version()}",
               "cpus": os.cpu_count(), "gpu": gpu_name(),
               "profile": profile_used(rows, os.environ.get("COURSE_PROFILE")),
               "precision": precision_used(results_dir, [r["lesson"] for r in rows]),
               **versions(),
               "date": datetime.date.today().isoformat(), "lessons": rows}
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    width = max(len(r["lesson"]) for r in rows)
    print(f"\n{'lesson':<{width}}  profile  wall time  headline results")
    for r in rows:
        print(f"{r['lesson']:<{width}}  {r['profile']:<7}  {r['seconds']:>7.1f} s  {r['headline']}")
    print(f"\nexecuted notebooks: {args.out}   results: {results_dir}   times: {summary_path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
