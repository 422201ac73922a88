"""Execute every lesson headless in the detected profile and print one summary table.

    python tools/run_lessons.py [NOTEBOOK ...] [--out build/notebooks]

Each notebook runs in a fresh kernel with the notebooks/ folder as working directory, exactly
as a learner runs it; the executed copy goes to build/notebooks/, the lesson's recorded results
to build/results/, and the wall times to build/results/_run_summary.json.
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

from course_utils.results import RUN_SUMMARY, format_value  # noqa: E402


def gpu_name() -> str | None:
    import torch

    return torch.cuda.get_device_name() if torch.cuda.is_available() else None


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
    if args.results:
        os.environ["COURSE_RESULTS_DIR"] = str(args.results)
    notebooks = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    results_dir = Path(os.environ.get("COURSE_RESULTS_DIR", ROOT / "build" / "results"))
    os.environ["COURSE_RESULTS_DIR"] = str(results_dir)  # the kernels inherit it
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
