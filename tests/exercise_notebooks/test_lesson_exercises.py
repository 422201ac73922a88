"""The exercises of lessons 01-05: each solution earns full marks, each untouched exercise nothing."""

import pytest

ASSIGNMENTS = ("ex01", "ex02", "ex03", "ex04", "ex05")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_solution_earns_full_marks(graded, checks, assignment):
    checks.full_marks(assignment, graded(assignment)["solution"])


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_untouched_exercise_runs_and_earns_nothing(graded, checks, assignment):
    checks.earns_nothing(assignment, graded(assignment)["exercise"])
