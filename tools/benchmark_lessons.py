"""Wall time of every lesson in every profile this machine can run (a benchmark, not a test).

    python tools/benchmark_lessons.py            # smoke always; cpu when the Hub answers; gpu with CUDA too

Each profile's executed notebooks and results go to build/benchmark/<profile>/; the table at the
end is what to quote (with the machine) in the README or a closing note.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_utils.profiles import cuda_available, hub_reachable  # noqa: E402
from course_utils.results import RUN_SUMMARY  # noqa: E402


def available_profiles() -> list[str]:
    profiles = ["smoke"]
    if hub_reachable():
        profiles.append("cpu")
        if cuda_available():
            profiles.append("gpu")
    return profiles


def main() -> int:
    rows, failed = [], False
    for profile in available_profiles():
        out = ROOT / "build" / "benchmark" / profile
        proc = subprocess.run([sys.executable, str(ROOT / "tools" / "run_lessons.py"), "--profile", profile,
                               "--out", str(out / "notebooks"), "--results", str(out / "results")])
        failed |= proc.returncode != 0
        summary = json.loads((out / "results" / RUN_SUMMARY).read_text())
        rows += [(profile, r["lesson"], r["seconds"], summary["machine"], summary["gpu"] or "no GPU")
                 for r in summary["lessons"]]
    print("\nprofile  lesson                          wall time  machine")
    for profile, lesson, seconds, machine, gpu in rows:
        print(f"{profile:<8} {lesson:<31} {seconds:>7.1f} s  {machine}, {gpu}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
