"""The grader's command line: ``python -m course_utils.grade ASSIGNMENT SUBMISSION... --out DIR``.

>>> build_parser().parse_args(["ex02", "subs/", "--out", "grades"]).jobs
1
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from course_utils.grading.batch import grade_submissions
from course_utils.grading.errors import GraderError
from course_utils.grading.gradebook import fmt
from course_utils.grading.limits import (DEFAULT_CELL_TIMEOUT, DEFAULT_MEMORY_GB, DEFAULT_OUTPUT_LIMIT,
                                         DEFAULT_PROFILE, DEFAULT_TOTAL_TIMEOUT)


def build_parser() -> argparse.ArgumentParser:
    """The grader's argument parser (``--help`` lists every option with its default)."""
    parser = argparse.ArgumentParser(
        prog="python -m course_utils.grade",
        description="Grade submitted exercise notebooks: each runs in a fresh kernel with time and memory "
                    "limits; its exported answers are checked in the grader's own process. Writes "
                    "DIR/gradebook.csv, DIR/summary.csv, DIR/feedback/<student>.md and DIR/state/ (resume).",
        epilog="Example: python -m course_utils.grade ex02 submissions/ --out grades/ex02 --jobs 2. "
               "See docs/grading.md for the threat model.")
    parser.add_argument("assignment", help="ex02, module:attribute, file.py[:NAME], or an exercise notebook "
                                           "whose metadata has {\"course\": {\"assignment\": ...}}")
    parser.add_argument("submissions", nargs="+", metavar="SUBMISSION",
                        help="a submitted file, or a folder (every file directly in it)")
    parser.add_argument("--out", required=True, metavar="DIR", help="where the gradebook, feedback and state go")
    parser.add_argument("--profile", default=DEFAULT_PROFILE, choices=("smoke", "cpu", "gpu"),
                        help="COURSE_PROFILE for the kernels (default: %(default)s)")
    parser.add_argument("--cell-timeout", type=float, default=DEFAULT_CELL_TIMEOUT, metavar="S",
                        help="seconds a cell may run before it is interrupted (default: %(default)g)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TOTAL_TIMEOUT, metavar="S",
                        help="seconds a whole submission may run before it is killed (default: %(default)g)")
    parser.add_argument("--memory-gb", type=float, default=DEFAULT_MEMORY_GB, metavar="G",
                        help="memory limit per process, RLIMIT_DATA, in GiB; 0: none (default: %(default)g)")
    parser.add_argument("--output-limit", type=int, default=DEFAULT_OUTPUT_LIMIT, metavar="BYTES",
                        help="cell output kept per submission (default: %(default)d)")
    parser.add_argument("--hidden-checks", metavar="FILE", help="a .py file defining HIDDEN = [Question(...)]")
    parser.add_argument("--jobs", type=int, default=1, metavar="N", help="submissions run at once (default: 1)")
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--run-as", default="auto", metavar="USER",
                     help="run submissions as USER (default: nobody when root and possible, else the same user)")
    who.add_argument("--same-user", action="store_true", help="run submissions as the grader's own user")
    parser.add_argument("--package-dir", metavar="DIR",
                        help="the course_utils folder the kernels import and the grader guards (default: installed)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Grade, print one line per student; 0 when done, 3 with ``error: ...`` when grading cannot go on."""
    args = build_parser().parse_args(argv)
    try:
        results = grade_submissions(
            args.assignment, args.submissions, args.out, profile=args.profile,
            cell_timeout=args.cell_timeout or None, total_timeout=args.timeout or None,
            memory_gb=args.memory_gb or None, hidden_checks=args.hidden_checks, jobs=args.jobs,
            output_limit=args.output_limit, run_as=None if args.same_user else args.run_as,
            package_dir=args.package_dir, verbose=True)
    except GraderError as error:
        print(f"error: {error}", file=sys.stderr)
        return 3
    width = max([len(r.student) for r in results] + [7])
    print(f"{'student':<{width}}  {'status':<13}  points")
    for r in results:
        print(f"{r.student:<{width}}  {r.status:<13}  {fmt(r.points)}/{fmt(r.max_points)}"
              f"{'  (kept)' if r.resumed else ''}")
    print(f"gradebook: {Path(args.out) / 'gradebook.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
