"""The graded challenges: each solution earns full marks, each untouched exercise nothing, and
challenge 1 also runs on a learner's own CSV."""

from exercise_cases import test_the_solution_earns_full_marks, test_the_untouched_exercise_runs_and_earns_nothing  # noqa: F401

from course_utils import data

ASSIGNMENTS = ("challenge1", "challenge2", "challenge3")


def test_challenge1_runs_on_a_learners_csv(run_solution, checks, tmp_path):
    """Another dataset: other label names, a label column found by its name, no split column, the CSV
    next to the notebook. (tests/grader/test_challenge1_own_data.py grades such a run offline, without
    the CSV.)"""
    frame = data.load_domain_frame()
    rows = frame.groupby("label").head(50).sample(frac=1.0, random_state=1)
    names = {"medical": "health", "finance": "money", "legal": "law"}
    rows.assign(category=rows["label"].map(names))[["text", "category"]].to_csv(tmp_path / "my_data.csv", index=False)
    checks.full_marks("challenge1", run_solution("challenge1", tmp_path, parameters='DATASET = "my_data.csv"'))
