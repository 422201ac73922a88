"""The two verdicts every assignment's notebooks must earn, imported by the test modules of this
folder, each of which names its ``ASSIGNMENTS`` (conftest parametrizes ``assignment`` from it)."""


def test_the_solution_earns_full_marks(graded, checks, assignment):
    checks.full_marks(assignment, graded(assignment)["solution"])


def test_the_untouched_exercise_runs_and_earns_nothing(graded, checks, assignment):
    checks.earns_nothing(assignment, graded(assignment)["exercise"])
