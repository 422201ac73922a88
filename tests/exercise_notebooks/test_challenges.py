"""The graded challenges: each solution earns full marks, each untouched exercise nothing.
Challenge 1 on a learner's own CSV, run in the learner's folder and graded offline without the CSV,
is tests/grader/test_challenge1_own_data.py."""

from exercise_cases import test_the_solution_earns_full_marks, test_the_untouched_exercise_runs_and_earns_nothing  # noqa: F401

ASSIGNMENTS = ("challenge1", "challenge2", "challenge3")
