"""The exercises of lessons 01-07: each solution earns full marks, each untouched exercise nothing."""

from exercise_cases import test_the_solution_earns_full_marks, test_the_untouched_exercise_runs_and_earns_nothing  # noqa: F401

ASSIGNMENTS = ("ex01", "ex02", "ex03", "ex04", "ex05", "ex06", "ex07")
