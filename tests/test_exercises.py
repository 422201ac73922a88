"""Exercise sets and their generator.

The exercises are generated from the solutions and in sync with them, their solution markers
pair up and no solution line leaks into an exercise; each question's model solution is stored
once, copied from its notebook block (see "stored solutions" below), and the notebooks record
their question set's version; every question of ex01 to ex07 and the challenges passes its right
answer (computed here independently of the checker), fails plausible wrong answers with a
message that says what is wrong, and reports an unset answer as unanswered.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from course_utils import colab, data
from course_utils.exercises import ASSIGNMENTS, Question, QuestionSet, load, to_jsonable
from course_utils.exercises.core import SOLUTIONS_FILE, stored_solutions, version_mismatch

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = {"ex01": "01_dataset_audit.ipynb", "ex02": "02_classification_finetuning.ipynb",
             "ex03": "03_evaluation.ipynb", "challenge1": "challenge1_classifier.ipynb",
             "challenge2": "challenge2_freezing.ipynb", "ex04": "04_catastrophic_forgetting.ipynb",
             "ex05": "05_instruction_finetuning.ipynb", "challenge3": "challenge3_instructions.ipynb",
             "ex06": "06_lora.ipynb", "ex07": "07_best_practices.ipynb"}
LABELS = list(data.LABELS)


@pytest.fixture(scope="module")
def build():
    spec = importlib.util.spec_from_file_location("build_exercises", ROOT / "tools" / "build_exercises.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


# ------------------------------------------------------------------------------- the generator


def test_exercises_are_in_sync_with_their_solutions(build, capsys):
    assert build.main(["--check"]) == 0, capsys.readouterr()


@pytest.mark.parametrize("assignment", NOTEBOOKS)
def test_both_notebooks_name_their_assignment(assignment):
    for folder in ("solutions", "exercises"):
        nb = read(ROOT / folder / NOTEBOOKS[assignment])
        assert nb["metadata"]["course"] == {"assignment": assignment, "version": load(assignment).version}
        assert colab.problems(ROOT / folder / NOTEBOOKS[assignment], ROOT) == []


@pytest.mark.parametrize("assignment", NOTEBOOKS)
def test_markers_pair_up_and_every_answer_is_left_open(build, assignment):
    solution = read(ROOT / "solutions" / NOTEBOOKS[assignment])
    exercise = read(ROOT / "exercises" / NOTEBOOKS[assignment])
    assigned = []
    for cell in solution["cells"]:
        text = source(cell)
        begins, ends = text.count(build.BEGIN), text.count(build.END)
        assert begins == ends, text[:80]
        if cell["cell_type"] == "code" and begins:
            block = re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", text, flags=re.S)
            assigned += [name for b in block for name in build.assigned_names(b)]
    exercise_code = "\n".join(source(c) for c in exercise["cells"] if c["cell_type"] == "code")
    assert build.BEGIN not in exercise_code and build.END not in exercise_code
    for variable in load(assignment).variables:
        if variable == "data_source":  # challenge 1's data choice: given code, not an answer
            continue
        assert variable in assigned, f"{variable} is not computed in a solution block"
        assert re.search(rf"^{variable} = None$", exercise_code, flags=re.M), variable


@pytest.mark.parametrize("assignment", NOTEBOOKS)
def test_no_solution_line_leaks_into_the_exercise(assignment):
    solution = read(ROOT / "solutions" / NOTEBOOKS[assignment])
    exercise = read(ROOT / "exercises" / NOTEBOOKS[assignment])
    inside, outside = set(), set()
    for cell in solution["cells"]:
        if cell["cell_type"] != "code":
            continue
        text = source(cell)
        for block in re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", text, flags=re.S):
            inside |= {line.strip() for line in block.splitlines() if len(line.strip()) > 12}
        outside |= {line.strip() for line in re.sub(r"### BEGIN SOLUTION\n.*?### END SOLUTION", "", text,
                                                     flags=re.S).splitlines()}
    secret = inside - outside
    assert secret, "a solution notebook without solution blocks?"
    lines = {line.strip() for c in exercise["cells"] for line in source(c).splitlines()}
    assert not secret & lines
    answered = [source(c) for c in solution["cells"] if "solution" in c["metadata"].get("tags", [])]
    for text in answered:
        assert text not in [source(c) for c in exercise["cells"]]


def test_strip_solutions_keeps_indentation_and_sets_only_answers(build):
    code = ("setup = 1\n"
            "for i in range(2):\n"
            "    ### BEGIN SOLUTION\n"
            "    helper = i\n"
            "    answer, other = helper, 2\n"
            "    ### END SOLUTION\n"
            "print(answer)")
    assert build.strip_solutions(code, ["answer"]) == (
        "setup = 1\nfor i in range(2):\n    # YOUR CODE HERE\n    answer = None\nprint(answer)")


@pytest.mark.parametrize("code, words", [
    ("### BEGIN SOLUTION\nx = 1", "without ### END"),
    ("x = 1\n### END SOLUTION", "without ### BEGIN"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "a second"),
    ("x = 1  ### END SOLUTION", "stand alone"),
])
def test_unbalanced_markers_are_refused_with_the_place(build, code, words):
    with pytest.raises(build.MarkerError, match=words) as caught:
        build.strip_solutions(code, ["x"], where="solutions/demo.ipynb, cell 3")
    assert "cell 3" in str(caught.value)


def test_markdown_answers_and_the_badge_are_rewritten(build):
    solution = {"cells": [
        {"cell_type": "markdown", "metadata": {}, "source": colab.badge_markdown("solutions/x.ipynb") + "\n\n# X"},
        {"cell_type": "markdown", "metadata": {"tags": ["solution"]}, "source": "Because the interval includes 0."},
        {"cell_type": "code", "metadata": {}, "execution_count": 3, "outputs": [{"output_type": "stream"}],
         "source": "### BEGIN SOLUTION\nn_unusable = 17\n### END SOLUTION\nq1.check()"},
    ], "metadata": {"course": {"assignment": "ex01"}}, "nbformat": 4, "nbformat_minor": 5}
    nb = build.exercise_notebook(solution, "solutions/x.ipynb", "exercises/x.ipynb")
    assert colab.badge_markdown("exercises/x.ipynb") in source(nb["cells"][0])
    assert source(nb["cells"][1]) == build.ANSWER_MARKDOWN and "tags" not in nb["cells"][1]["metadata"]
    assert source(nb["cells"][2]) == "# YOUR CODE HERE\nn_unusable = None\nq1.check()"
    assert nb["cells"][2]["outputs"] == [] and nb["cells"][2]["execution_count"] is None
    del solution["metadata"]["course"]
    with pytest.raises(ValueError, match="course.assignment"):
        build.exercise_notebook(solution, "solutions/x.ipynb", "exercises/x.ipynb")


# ------------------------------------------------------------------------------- stored solutions
#
# A question's model solution is written once, in its solution notebook; the builder copies each
# block into course_utils/exercises/solutions.json, which q1.solution() shows. What proves the
# stored solutions right, without executing a notebook here:
#  (a) every question of every set has one (a graded challenge withholds all of its own);
#  (b) each is exactly the text of a BEGIN/END block of its solution notebook, followed by that
#      question's check, so tests/test_exercise_notebooks.py, which executes the solution notebooks
#      and asserts full marks, runs and grades the very code learners are shown;
#  (c) where it is cheap (counting and arithmetic on data, no model to fit), the stored code runs
#      here in the namespace the notebook's own opening cells make, and its check says correct;
#  and the --check of the sync test above fails as soon as solutions.json is stale.

CODE_BLOCK = re.compile(r"^[ \t]*### BEGIN SOLUTION\n(.*?)^[ \t]*### END SOLUTION$", flags=re.S | re.M)
# Questions whose stored solution fits no model (the TF-IDF ones take seconds each on two cores):
# (c) runs them in this order, each set's questions in one namespace, as the notebook would. ex03
# starts from lesson 03's trained classifier and the challenges withhold their solutions.
CHEAP = {"ex01": ["q1", "q2", "q3", "q4"], "ex02": ["q1", "q4"], "ex04": ["q4"], "ex05": ["q1", "q2", "q3", "q5"],
         "ex06": ["q1", "q3"], "ex07": ["q1", "q2", "q3", "q4"]}


def stored() -> dict:
    return json.loads(SOLUTIONS_FILE.read_text(encoding="utf-8"))


def code_cells(nb: dict) -> list[tuple[int, str]]:
    return [(i, source(c)) for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"]


@pytest.mark.parametrize("assignment", NOTEBOOKS)
def test_every_question_has_one_stored_solution_or_the_set_withholds_them(assignment, capsys):
    qs = load(assignment)
    namespace: dict = {}
    qs.bind(namespace)
    if qs.solutions_withheld:
        assert assignment not in stored() and stored_solutions(assignment) == {}
        for question in qs.questions:
            assert qs.solution_of(question.name) is None
            namespace[question.name].solution()
            assert qs.solutions_withheld in capsys.readouterr().out
        return
    assert list(stored()[assignment]) == [q.name for q in qs.questions]
    for question in qs.questions:
        code = qs.solution_of(question.name)
        assert code and code.strip() and code == stored_solutions(assignment)[question.name]
        namespace[question.name].solution()
        assert capsys.readouterr().out == f"Solution to {question.name}:\n{code}\n"


@pytest.mark.parametrize("assignment", [a for a in NOTEBOOKS if not load(a).solutions_withheld])
def test_each_stored_solution_is_the_block_its_check_follows(assignment):
    """Checked here with a regular expression, independently of the builder's own pairing."""
    nb = read(ROOT / "solutions" / NOTEBOOKS[assignment])
    text = "\n".join(f"# -- cell {i}\n{code}" for i, code in code_cells(nb))
    blocks = [(m.end(), textwrap.dedent(m.group(1)[:-1])) for m in CODE_BLOCK.finditer(text)]  # less its "\n"
    assert len(blocks) == len(load(assignment).questions)
    for question, code in stored()[assignment].items():
        ends = [end for end, block in blocks if block == code]
        assert len(ends) == 1, f"{assignment} {question}: the stored solution is not one block of the notebook"
        after = [line for line in text[ends[0]:].splitlines() if not line.lstrip().startswith("#")]
        first_check = re.search(r"\b(q\d+)\.check\(\)", "\n".join(after))
        assert first_check and first_check.group(1) == question, (assignment, question)


def notebook_opening(assignment: str) -> str:
    """The code cells before the first solution block, as the smoke profile runs them (not Colab's install cell)."""
    nb = read(ROOT / "solutions" / NOTEBOOKS[assignment])
    cells = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code" or "setup" in cell["metadata"].get("tags", []):
            continue
        text = source(cell)
        if "### BEGIN SOLUTION" in text:
            break
        assert not re.search(r"^\s*[%!]", text, flags=re.M), "a magic in the opening cells cannot run here"
        if "parameters" in cell["metadata"].get("tags", []):
            text += '\nPROFILE = "smoke"'  # as the tests' runs inject it
        cells.append(text)
    return "\n\n".join(cells)


@pytest.mark.parametrize("assignment", CHEAP)
def test_cheap_stored_solutions_pass_their_checks(assignment, tmp_path, monkeypatch, capsys):
    """Run the notebook's opening cells, then each cheap question's stored solution and its check."""
    monkeypatch.chdir(tmp_path)  # a check reads files next to "the notebook"
    namespace: dict = {"__name__": "__main__"}
    exec(compile(notebook_opening(assignment), f"{NOTEBOOKS[assignment]} opening", "exec"), namespace)
    for question in CHEAP[assignment]:
        code = stored()[assignment][question]
        exec(compile(code, f"{assignment} {question} stored solution", "exec"), namespace)
        outcome = namespace[question].check()
        assert outcome.status == "correct", outcome
    capsys.readouterr()


def test_a_stale_solutions_file_fails_the_check(build, tmp_path, capsys):
    """Change one solution in a copy of the repository: --check names solutions.json until a build."""
    for folder in ("solutions", "exercises"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    (tmp_path / build.SOLUTIONS_FILE).parent.mkdir(parents=True)
    shutil.copy(SOLUTIONS_FILE, tmp_path / build.SOLUTIONS_FILE)
    assert build.main(["--check", "--root", str(tmp_path)]) == 0, capsys.readouterr()
    notebook = tmp_path / "solutions" / NOTEBOOKS["ex01"]
    notebook.write_text(notebook.read_text(encoding="utf-8").replace(
        "n_unusable = int(unusable.sum())", "n_unusable = int(unusable.sum())  # one per row"), encoding="utf-8")
    assert build.main(["--check", "--root", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[1:] == [f"  {build.SOLUTIONS_FILE}"]  # the exercise hides the block anyway
    assert build.main(["--root", str(tmp_path), str(notebook)]) == 0  # that notebook alone: the others stay
    capsys.readouterr()
    assert json.loads((tmp_path / build.SOLUTIONS_FILE).read_text())["ex01"]["q1"].endswith("# one per row")
    assert build.main(["--check", "--root", str(tmp_path)]) == 0


def toy_notebook(*cells: str) -> dict:
    return {"cells": [{"cell_type": "code", "metadata": {}, "source": text, "outputs": [], "execution_count": None}
                      for text in cells], "metadata": {"course": {"assignment": "toy"}}}


def solved(code: str, after: str = "") -> str:
    """A cell with ``code`` as its solution block, and ``after`` below the block."""
    return f"### BEGIN SOLUTION\n{code}\n### END SOLUTION\n{after}"


TOY = QuestionSet("toy", "Toy", [Question("q1", "Set `a`.", ("a",), lambda v, w: None),
                                 Question("q2", "Set `b`.", ("b",), lambda v, w: None)])


def test_each_block_pairs_with_the_check_that_follows_it(build):
    nested = "if setup:\n    ### BEGIN SOLUTION\n    helper = 2\n    a = helper\n    ### END SOLUTION\nq1.check()"
    nb = toy_notebook("setup = 1", nested, "q1.check()  # again: no block pending, so it pairs with nothing",
                      "# q2.check() is below\n" + solved("b = 3"), "print(q2.check())")
    assert build.question_solutions(nb, TOY, "toy.ipynb") == {"q1": "helper = 2\na = helper", "q2": "b = 3"}


@pytest.mark.parametrize("cells, words", [
    ((solved("a = 1", "q1.check()"), solved("b = 1")), ["cell 1, line 1 is followed by no check"]),
    ((solved("a = 1", "q1.check()"),), ["q2 has no solution block"]),
    ((solved("a = 1"), solved("b = 1"), "q1.check()\nq2.check()"),
     ["2 solution blocks (cell 0, line 1, cell 1, line 1) before q1.check()"]),
    ((solved("b = 1", "q1.check()"), solved("a = 1", "q2.check()")),
     ["assigns none of q1's answer variables (a)", "assigns none of q2's answer variables (b)"]),
    ((solved("a = 1", "q1.check()"), solved("a = 2", "q1.check()"), solved("b = 1", "q2.check()")),
     ["a second solution block for q1 (cell 1, line 1)"]),
])
def test_unpaired_blocks_and_questions_are_refused_with_the_place(build, cells, words):
    with pytest.raises(build.PairingError) as caught:
        build.question_solutions(toy_notebook(*cells), TOY, "solutions/toy.ipynb")
    assert "solutions/toy.ipynb" in str(caught.value)
    for word in words:
        assert word in str(caught.value)


def test_question_sets_check_their_solutions_and_version():
    assert TOY.version == 1 and TOY.solution_of("q1") is None  # nothing stored under "toy"
    with pytest.raises(ValueError, match=r"\['q3'\], which are not questions"):
        QuestionSet("toy", "Toy", TOY.questions, solutions={"q3": "c = 1"})
    for bad in (0, "2", True, 1.5):
        with pytest.raises(ValueError, match="version must be a whole number"):
            QuestionSet("toy", "Toy", TOY.questions, version=bad)
    with pytest.raises(KeyError, match="toy has no question 'q9'"):
        TOY.solution_of("q9")
    with pytest.raises(TypeError, match="solution"):  # written in the notebook now, not here
        Question("q1", "Set `a`.", ("a",), lambda v, w: None, solution="a = 1")


def test_stored_solutions_read_a_given_file(tmp_path):
    path = tmp_path / "solutions.json"
    path.write_text(json.dumps({"_about": "x", "toy": {"q1": "a = 1"}}))
    assert stored_solutions("toy", path) == {"q1": "a = 1"}
    assert stored_solutions("_about", path) == {} and stored_solutions("other", path) == {}
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(RuntimeError, match="build_exercises.py"):
        stored_solutions("toy", broken)


def test_version_mismatch_warns_only_about_another_version_of_the_same_set():
    qs = QuestionSet("ex02", "Exercise 02", TOY.questions, version=3)
    made = lambda **course: {"course": course, "kernelspec": {}}  # noqa: E731
    assert version_mismatch(qs, made(assignment="ex02", version=3)) is None
    assert version_mismatch(qs, made(assignment="ex02", version=2)) == (
        "this submission was made against ex02 version 2; the grader checks version 3: answers may be checked "
        "against different questions.")
    assert "version '3'" in version_mismatch(qs, made(assignment="ex02", version="3"))
    assert "made against version 1 (before versions were recorded)" in version_mismatch(qs, made(assignment="ex02"))
    assert "made against version 1" in version_mismatch(qs, {})
    assert version_mismatch(qs, made(assignment="ex03", version=1)) is None  # which set grades it: the grader's call
    first = QuestionSet("ex02", "Exercise 02", TOY.questions)
    assert version_mismatch(first, made(assignment="ex02")) is None and version_mismatch(first, None) is None
    assert version_mismatch(first, made(assignment="ex02", version=True)) is not None


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_notebooks_record_the_version_the_checks_expect(assignment):
    qs = load(assignment)
    for folder in ("solutions", "exercises"):
        assert version_mismatch(qs, read(ROOT / folder / NOTEBOOKS[assignment])["metadata"]) is None


# ------------------------------------------------------------------------------- reference answers


def jsonable(values: dict) -> dict:
    return {k: to_jsonable(v, name=k) for k, v in values.items()}


def evaluate(assignment: str, question: str, values: dict, workdir="."):
    return load(assignment).by_name[question].evaluate(jsonable(values), workdir)


def assert_right(assignment, question, values, workdir="."):
    outcome = evaluate(assignment, question, values, workdir)
    expected = "correct" if load(assignment).by_name[question].auto else "review"
    assert outcome.status == expected, outcome


def assert_wrong(assignment, question, values, *words, workdir="."):
    outcome = evaluate(assignment, question, values, workdir)
    assert outcome.status == "incorrect", outcome
    for word in words:
        assert word in outcome.feedback, outcome


@pytest.fixture(scope="module")
def frames():
    clean, raw = data.load_domain_frame(), data.load_raw_domain_frame()
    test = clean[clean["split"] == "test"].sort_values("id").reset_index(drop=True)
    smoke_train = data.load_domain_splits(max_train=160, max_eval=60)["train"]
    return {"clean": clean, "raw": raw, "test": test,
            "smoke_texts": list(smoke_train["text"]), "smoke_labels": [LABELS[i] for i in smoke_train["label"]]}


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from course_utils import models

    return AutoTokenizer.from_pretrained(models.TINY_ENCODER)


@pytest.fixture(scope="module")
def predicted(frames):
    """Test predictions that are right except on 30 texts spread over the classes."""
    test = frames["test"]
    rng = np.random.default_rng(0)
    wrong = set(rng.choice(test["id"], size=30, replace=False))
    return {i: (LABELS[(LABELS.index(t) + 1) % 3] if i in wrong else t) for i, t in zip(test["id"], test["label"])}


def tfidf_f1(train_texts, train_labels, test, **settings):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.pipeline import make_pipeline

    ngram_range = settings.pop("ngram_range", (1, 1))
    model = make_pipeline(TfidfVectorizer(sublinear_tf=True, ngram_range=ngram_range),
                          LogisticRegression(max_iter=2000, **settings))
    model.fit(train_texts, train_labels)
    pred = model.predict(test["text"])
    return f1_score(test["label"], pred, average="macro"), (pred == test["label"]).mean(), pred


# ------------------------------------------------------------------------------- every question


@pytest.mark.parametrize("assignment", NOTEBOOKS)
def test_unset_answers_are_unanswered_and_help_prints(assignment, capsys):
    qs = load(assignment)
    assert 3 <= len(qs.questions) <= 6
    for question in qs.questions:
        outcome = question.evaluate({v: None for v in question.variables})
        assert outcome.status == "unanswered" and outcome.points == 0, outcome
    namespace: dict = {}
    qs.bind(namespace)
    for question in qs.questions:
        namespace[question.name].hint()
        namespace[question.name].solution()
        out = capsys.readouterr().out
        assert "Hint" in out and f"Solution to {question.name}" in out


def test_ex01(frames, tokenizer):
    from course_utils.audit import is_missing, normalize_text

    raw, clean, test = frames["raw"], frames["clean"], frames["test"]
    unusable = raw["text"].map(lambda t: is_missing(t) or not str(t).strip()) | raw["label"].map(is_missing)
    assert_right("ex01", "q1", {"n_unusable": int(unusable.sum())})
    assert_wrong("ex01", "q1", {"n_unusable": int(raw["text"].map(is_missing).sum())}, "missing texts only")
    assert_wrong("ex01", "q1", {"n_unusable": "17"}, "should be a number")
    assert_wrong("ex01", "q1", {"n_unusable": 40}, "too many")

    train_texts = clean.loc[clean["split"] == "train", "text"]
    lengths = train_texts.map(lambda t: len(tokenizer(t)["input_ids"]))
    right = {"longest_tokens": int(lengths.max()), "n_cut_at_64": int((lengths > 64).sum())}
    assert_right("ex01", "q2", right)
    assert_wrong("ex01", "q2", {**right, "longest_tokens": right["longest_tokens"] - 2}, "[CLS]")
    assert_wrong("ex01", "q2", {**right, "longest_tokens": int(train_texts.str.split().map(len).max())}, "words")
    assert_wrong("ex01", "q2", {**right, "n_cut_at_64": right["n_cut_at_64"] + 5}, "longer than 64")

    usable = raw[~unusable].sort_values("id")
    dropped = sorted(usable.loc[usable["text"].map(normalize_text).duplicated(), "id"])
    exact = sorted(usable.loc[usable["text"].duplicated(), "id"])
    last_kept = sorted(usable.loc[usable["text"].map(normalize_text).duplicated(keep="last"), "id"])
    assert_right("ex01", "q3", {"dropped_ids": dropped})
    assert_wrong("ex01", "q3", {"dropped_ids": exact}, "exact copies only")
    assert_wrong("ex01", "q3", {"dropped_ids": last_kept}, "lowest id")
    assert_wrong("ex01", "q3", {"dropped_ids": list(range(len(dropped)))}, "ids")
    assert_wrong("ex01", "q3", {"dropped_ids": dropped[1:]}, "missing", dropped[0])

    usable = raw[~unusable]
    keys = set(usable.loc[usable["split"] == "train", "text"].map(normalize_text))
    validation = usable.loc[usable["split"] == "validation", "text"]
    assert_right("ex01", "q4", {"n_validation_leaked": int(validation.map(normalize_text).isin(keys).sum())})
    exact_leaks = int(validation.isin(set(usable.loc[usable["split"] == "train", "text"])).sum())
    assert_wrong("ex01", "q4", {"n_validation_leaked": exact_leaks}, "exact copies only")

    train = clean[clean["split"] == "train"]
    plain, plain_accuracy, _ = tfidf_f1(train["text"], train["label"], test)
    balanced, _, _ = tfidf_f1(train["text"], train["label"], test, class_weight="balanced")
    assert_right("ex01", "q5", {"f1_plain": plain, "f1_balanced": balanced})
    assert_wrong("ex01", "q5", {"f1_plain": balanced, "f1_balanced": plain}, "swapped")
    assert_wrong("ex01", "q5", {"f1_plain": plain_accuracy, "f1_balanced": balanced}, "accuracy")
    assert_wrong("ex01", "q5", {"f1_plain": plain * 100, "f1_balanced": balanced}, "percentage")


def test_ex02(frames, tokenizer, predicted):
    from sklearn.metrics import f1_score

    from course_utils.classifier import new_classifier
    from course_utils.models import TINY_ENCODER
    from course_utils.recipes import TINY
    from course_utils.training import freeze_layers

    test = frames["test"]
    share = (test["label"] == "medical").mean()
    macro = f1_score(test["label"], ["medical"] * len(test), average="macro")
    assert_right("ex02", "q1", {"majority_accuracy": share, "majority_macro_f1": macro})
    finance = (test["label"] == "finance").mean()
    assert_wrong("ex02", "q1", {"majority_accuracy": finance, "majority_macro_f1": macro}, "'finance'")
    weighted = f1_score(test["label"], ["medical"] * len(test), average="weighted")
    assert_wrong("ex02", "q1", {"majority_accuracy": share, "majority_macro_f1": weighted}, "weighted F1")

    by_c = tfidf_by_c(frames["smoke_texts"], frames["smoke_labels"], test)
    best = max(by_c, key=lambda c: by_c[c]["val"])  # the first best: ties go to the smaller C
    assert best != 1.0  # the default, so the "default" message below is about a wrong choice
    assert_right("ex02", "q2", {"best_c": best, "baseline_macro_f1": by_c[best]["test"]})
    assert_right("ex02", "q2", {"best_c": int(best), "baseline_macro_f1": np.float32(by_c[best]["test"])})
    assert_wrong("ex02", "q2", {"best_c": 1.0, "baseline_macro_f1": by_c[1.0]["test"]}, "default")
    tied = [c for c in by_c if c > best and by_c[c]["val"] == by_c[best]["val"]]
    if tied:  # the smoke subsample ties at the top of the grid
        assert_wrong("ex02", "q2", {"best_c": tied[0], "baseline_macro_f1": by_c[tied[0]]["test"]}, "ties")
    assert_wrong("ex02", "q2", {"best_c": best, "baseline_macro_f1": by_c[best]["val"]}, "is the right choice")
    assert_wrong("ex02", "q2", {"best_c": 5.0, "baseline_macro_f1": by_c[best]["test"]}, "C_GRID")

    model = new_classifier(TINY_ENCODER)
    total = sum(p.numel() for p in model.parameters())
    trainable = freeze_layers(model, 2).trainable
    no_embeddings = freeze_layers(model, 2, embeddings=False).trainable
    assert_right("ex02", "q3", {"n_trainable": trainable, "n_total": total})
    assert_wrong("ex02", "q3", {"n_trainable": total, "n_total": total}, "nothing is frozen")
    assert_wrong("ex02", "q3", {"n_trainable": total - trainable, "n_total": total}, "frozen parameters")
    assert_wrong("ex02", "q3", {"n_trainable": no_embeddings, "n_total": total}, "embeddings")
    assert_wrong("ex02", "q3", {"n_trainable": 10, "n_total": 12345}, "not the size of a course classifier")

    lengths = [len(ids) for ids in tokenizer(list(test["text"]), truncation=True, max_length=128)["input_ids"]]
    per_batch = sum(len(lengths[i:i + 16]) * max(lengths[i:i + 16]) for i in range(0, len(lengths), 16))
    assert_right("ex02", "q4", {"tokens_padded_to_max": 128 * len(lengths), "tokens_padded_per_batch": per_batch})
    assert_wrong("ex02", "q4", {"tokens_padded_to_max": 128 * len(lengths),
                                "tokens_padded_per_batch": sum(lengths)}, "real tokens")
    assert_wrong("ex02", "q4", {"tokens_padded_to_max": sum(lengths), "tokens_padded_per_batch": per_batch}, "128")

    ids = [LABELS.index(predicted[i]) for i in test["id"]]  # label ids in the split's order, as argmax gives
    macro = f1_score(test["label"], [predicted[i] for i in test["id"]], average="macro")
    run = fake_history(CONVERGED, TINY["full"].learning_rate)
    right = {"ft_predictions": np.array(ids), "ft_macro_f1": np.float32(macro), "ft_history": run,
             "epochs_run": 9, "best_epoch": 6}
    assert_right("ex02", "q5", right)
    assert "converged" in evaluate("ex02", "q5", right).feedback
    at_cap = fake_history([0.3 + 0.01 * e for e in range(1, 41)], TINY["full"].learning_rate)
    outcome = evaluate("ex02", "q5", {**right, "ft_history": at_cap, "epochs_run": 40, "best_epoch": 40})
    assert outcome.status == "correct" and "under-trained" in outcome.feedback, outcome
    assert_wrong("ex02", "q5", {**right, "ft_macro_f1": macro + 0.05}, "your predictions score")
    assert_wrong("ex02", "q5", {**right, "ft_predictions": [0] * len(ids), "ft_macro_f1":
                                f1_score(test["label"], ["medical"] * len(test), average="macro")}, "learned nothing")
    assert_wrong("ex02", "q5", {**right, "ft_predictions": ids[:10]}, "has 10 predictions")
    assert_wrong("ex02", "q5", {**right, "epochs_run": 8}, "validation scores for 9")
    assert_wrong("ex02", "q5", {**right, "best_epoch": 9}, "the last epoch")
    assert_wrong("ex02", "q5", {**right, "ft_history": fake_history(CONVERGED, 1e-3)}, "peaked at learning rate")
    three = fake_history(CONVERGED[:3], TINY["full"].learning_rate)  # num_train_epochs=3: no early stopping
    assert_wrong("ex02", "q5", {**right, "ft_history": three, "epochs_run": 3, "best_epoch": 3}, "neither early")
    assert_wrong("ex02", "q5", {**right, "ft_history": [r for r in run if "loss" in r]}, "no validation scores")


# A validation curve that early stopping (patience 3) ends at epoch 9, keeping epoch 6.
CONVERGED = [0.2, 0.45, 0.7, 0.82, 0.88, 0.91, 0.9, 0.91, 0.89]


def fake_history(val_macro_f1, peak_rate):
    """A Trainer log history: per epoch a training-loss row (with the learning rate as logged: 90 %
    of the peak at the end of the warmup epoch, then decaying) and a validation row."""
    rows = []
    for epoch, f1 in enumerate(val_macro_f1, start=1):
        rate = peak_rate * (0.9 if epoch == 1 else 1 - 0.002 * epoch)
        rows += [{"loss": 1.0 / epoch, "learning_rate": rate, "epoch": float(epoch), "step": 10 * epoch},
                 {"eval_loss": 1.0 - f1 / 2, "eval_macro_f1": f1, "epoch": float(epoch), "step": 10 * epoch}]
    return rows


def tfidf_by_c(train_texts, train_labels, test) -> dict:
    """``{C: {"val": validation macro-F1, "test": test macro-F1}}`` of lesson 02's baseline (TF-IDF on
    words and word pairs + logistic regression) for each C of the grid, on the bundled validation split."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.pipeline import make_pipeline

    from course_utils.baselines import C_GRID

    val = data.load_domain_splits()["validation"]
    val_labels = [LABELS[i] for i in val["label"]]
    out = {}
    for c in C_GRID:
        model = make_pipeline(TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2)),
                              LogisticRegression(C=c, max_iter=3000)).fit(list(train_texts), list(train_labels))
        out[c] = {"val": f1_score(val_labels, model.predict(val["text"]), average="macro"),
                  "test": f1_score(test["label"], model.predict(test["text"]), average="macro"),
                  "predictions": model.predict(test["text"])}
    return out


def test_a_c_chosen_on_test_is_named(monkeypatch):
    """The bundled data never makes the test-best C differ from the validation choice without a tie,
    so the message is shown with a made-up validation table."""
    from course_utils.baselines import C_GRID, CChoice
    from course_utils.exercises import Wrong, checks

    test = pd.DataFrame({"text": ["a", "b", "c", "d"], "label": ["x", "y", "x", "y"]})
    table = pd.DataFrame({"C": C_GRID, "val_macro_f1": [0.2, 0.5, 0.7, 0.9, 0.8, 0.6]})  # 3 is best
    monkeypatch.setattr(checks, "tfidf_on_validation", lambda *split: CChoice(3.0, None, table))
    monkeypatch.setattr(checks, "tfidf_test_predictions",
                        lambda texts, labels, test_texts, c: ("x", "y", "x", "y") if c == 30.0 else ("x",) * 4)
    common = dict(test=test, trains={"train": ((), ())}, validation=((), ()), c_name="best_c", f1_name="f1")
    with pytest.raises(Wrong, match="best C on the test split"):
        checks.validated_tfidf(30.0, 1.0, **common)
    assert checks.validated_tfidf(3.0, checks.scores(test["label"], ("x",) * 4)["macro_f1"], **common) == "train"


def test_ex03(frames, predicted):
    from sklearn.metrics import confusion_matrix

    from course_utils.evaluation import expected_calibration_error

    test = frames["test"]
    wrong = [i for i, t in zip(test["id"], test["label"]) if predicted[i] != t]
    assert_right("ex03", "q1", {"predicted_labels": predicted, "wrong_ids": wrong})
    right = [i for i in test["id"] if i not in wrong]
    assert_wrong("ex03", "q1", {"predicted_labels": predicted, "wrong_ids": right}, "got right")
    assert_wrong("ex03", "q1", {"predicted_labels": predicted, "wrong_ids": wrong[1:]}, "missing", wrong[0])
    constant = {i: "medical" for i in test["id"]}
    assert_wrong("ex03", "q1", {"predicted_labels": constant, "wrong_ids": wrong}, "no better than")
    assert_wrong("ex03", "q1", {"predicted_labels": {**predicted, test["id"][0]: "sports"}, "wrong_ids": wrong},
                 "'sports'")

    true, pred = test["label"], [predicted[i] for i in test["id"]]
    counts = confusion_matrix(true, pred, labels=LABELS)
    confusion = pd.DataFrame(counts, index=LABELS, columns=LABELS)
    accuracy = np.trace(counts) / counts.sum()
    assert_right("ex03", "q2", {"confusion": confusion, "accuracy": accuracy})
    assert_right("ex03", "q2", {"confusion": counts, "accuracy": accuracy})  # a plain array is fine too
    unbalanced = counts.copy()
    unbalanced[0, 1] += 3
    unbalanced[1, 0] -= 3  # rows no longer add up to the class counts, the total still does
    assert_wrong("ex03", "q2", {"confusion": confusion.T, "accuracy": accuracy}, "swapped")
    assert_wrong("ex03", "q2", {"confusion": unbalanced, "accuracy": accuracy}, "class counts")
    assert_wrong("ex03", "q2", {"confusion": counts / counts.sum(axis=1, keepdims=True), "accuracy": accuracy},
                 "add up")
    assert_wrong("ex03", "q2", {"confusion": counts, "accuracy": accuracy - 0.1}, "diagonal")
    assert_wrong("ex03", "q2", {"confusion": counts[:2], "accuracy": accuracy}, "3 x 3")

    recall = np.diag(counts) / counts.sum(axis=1)
    precision = np.diag(counts) / counts.sum(axis=0)
    weakest = int(np.argmin(recall))
    assert_right("ex03", "q3", {"confusion": confusion, "weakest_class": LABELS[weakest],
                                "weakest_recall": recall[weakest]})
    strongest = LABELS[int(np.argmax(recall))]
    assert_wrong("ex03", "q3", {"confusion": confusion, "weakest_class": strongest,
                                "weakest_recall": recall.max()}, "lowest")
    assert precision[weakest] != recall[weakest]
    assert_wrong("ex03", "q3", {"confusion": confusion, "weakest_class": LABELS[weakest],
                                "weakest_recall": precision[weakest]}, "precision")

    correct = np.array(pred) == true.to_numpy()
    hard = test["hard"].to_numpy(dtype=bool)
    rng = np.random.default_rng(7)  # another seed than the checker's: its tolerance must allow that
    draws = []
    for _ in range(2000):
        i = rng.integers(0, len(correct), len(correct))
        draws.append(correct[i][hard[i]].mean() - correct[i][~hard[i]].mean())
    low, high = np.percentile(draws, [2.5, 97.5])
    values = {"predicted_labels": predicted, "acc_hard": correct[hard].mean(), "acc_other": correct[~hard].mean(),
              "hard_gap_low": low, "hard_gap_high": high, "add_cross_domain": bool(high < 0)}
    assert_right("ex03", "q4", values)
    assert_wrong("ex03", "q4", {**values, "acc_hard": correct[~hard].mean(), "acc_other": correct[hard].mean()},
                 "swapped")
    assert_wrong("ex03", "q4", {**values, "acc_other": correct.mean()}, "whole test split")
    assert_wrong("ex03", "q4", {**values, "add_cross_domain": not high < 0},
                 "does not lie below zero" if high >= 0 else "lies below zero")
    assert_wrong("ex03", "q4", {**values, "hard_gap_low": low - 0.2}, "far from it")
    assert_wrong("ex03", "q4", {**values, "hard_gap_low": 0.9, "hard_gap_high": 0.95}, "does not contain")
    assert_wrong("ex03", "q4", {**values, "add_cross_domain": "no"}, "True or False")

    rng = np.random.default_rng(1)
    conf = np.where(correct, rng.uniform(0.5, 1.0, len(test)), rng.uniform(0.34, 0.9, len(test)))
    confidence = dict(zip(test["id"], conf))
    ece = expected_calibration_error(conf, correct, n_bins=10)
    assert abs(ece - expected_calibration_error(conf, correct, n_bins=5)) > 1e-3
    assert_right("ex03", "q5", {"predicted_labels": predicted, "confidence": confidence, "ece": ece})
    assert_wrong("ex03", "q5", {"predicted_labels": predicted, "confidence": confidence,
                                "ece": expected_calibration_error(conf, correct, n_bins=5)}, "5 bins")
    low = {**confidence, test["id"][0]: 0.1}
    assert_wrong("ex03", "q5", {"predicted_labels": predicted, "confidence": low, "ece": ece}, "below 1/3")

    baseline_pred = tfidf_chosen_on_validation(frames["smoke_texts"], frames["smoke_labels"], test)
    baseline_wrong = sorted(test.loc[baseline_pred != test["label"], "id"])
    shared = sorted(set(wrong) & set(baseline_wrong))
    chance = len(wrong) * len(baseline_wrong) / len(test)
    values = {"predicted_labels": predicted, "baseline_wrong_ids": baseline_wrong, "shared_wrong_ids": shared,
              "expected_shared": chance}
    assert_right("ex03", "q6", values)
    assert_wrong("ex03", "q6", {**values, "shared_wrong_ids": sorted(set(wrong) | set(baseline_wrong))},
                 "either model")
    assert_wrong("ex03", "q6", {**values, "baseline_wrong_ids": baseline_wrong[:-1]}, "the lesson's baseline")
    assert len(shared) != pytest.approx(chance)
    assert_wrong("ex03", "q6", {**values, "expected_shared": len(shared)}, "shared errors itself")
    assert_wrong("ex03", "q6", {**values, "expected_shared": chance + 1}, "independent errors would share")


def tfidf_chosen_on_validation(train_texts, train_labels, test):
    """Lesson 02's baseline: TF-IDF on words and word pairs, the C of the best validation macro-F1
    (ties: the smallest), refitted on the training texts; its test predictions."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.pipeline import make_pipeline

    from course_utils.baselines import C_GRID

    val = data.load_domain_splits()["validation"]
    val_labels = [LABELS[i] for i in val["label"]]
    best, best_f1 = None, -1.0
    for c in sorted(C_GRID):
        model = make_pipeline(TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2)),
                              LogisticRegression(C=c, max_iter=3000)).fit(train_texts, train_labels)
        f1 = f1_score(val_labels, model.predict(val["text"]), average="macro")
        if f1 > best_f1:
            best, best_f1 = model, f1
    return best.predict(test["text"])


def report_dict(test, pred):
    from sklearn.metrics import classification_report

    return classification_report(test["label"], pred, labels=LABELS, output_dict=True, zero_division=0)


def test_challenge1(frames, predicted, tmp_path):
    from sklearn.metrics import classification_report

    from course_utils.evaluation import difference_interval
    from course_utils.exercises.challenge1 import read_labelled_csv
    from course_utils.recipes import TINY

    rate = TINY["full"].learning_rate
    history = fake_history(CONVERGED, rate)
    assert_right("challenge1", "q1", {"history": history})
    assert_wrong("challenge1", "q1", {"history": fake_history(CONVERGED[:3], rate)}, "did not end it")
    assert_wrong("challenge1", "q1", {"history": fake_history(CONVERGED[:4] + [0.5] * 5, rate)}, "went on 5")
    assert_wrong("challenge1", "q1", {"history": fake_history(CONVERGED, 5e-4)}, "peaked at learning rate")
    assert_wrong("challenge1", "q1", {"history": history[:6] + history[4:]}, "once each")
    assert_wrong("challenge1", "q1", {"history": [e for e in history if "loss" in e]}, "no validation scores")
    assert_wrong("challenge1", "q1", {"history": "done"}, "log history")

    test = frames["test"]
    pred = [predicted[i] for i in test["id"]]
    ids = [LABELS.index(p) for p in pred]  # label ids in the split's order, as argmax gives
    report = report_dict(test, pred)
    bundled = {"data_source": "bundled"}
    right = {"predictions": np.array(ids), "report": report, **bundled}
    assert_right("challenge1", "q2", right)
    assert_wrong("challenge1", "q2", {**right, "report": pd.DataFrame(report).T}, "row names")
    by_id = classification_report([LABELS.index(t) for t in test["label"]], ids, output_dict=True)
    assert_wrong("challenge1", "q2", {**right, "report": by_id}, "label names")
    assert_wrong("challenge1", "q2", {**right, "report": report_dict(test.head(100), pred[:100])}, "support")
    other = report_dict(test, [t if k % 7 else "legal" for k, t in enumerate(test["label"])])
    assert_wrong("challenge1", "q2", {**right, "report": other}, "from the same predictions")
    assert_wrong("challenge1", "q2", {"predictions": [0] * len(test), "report": report_dict(test, ["medical"] * len(test)),
                                      **bundled}, "learned nothing")
    assert_wrong("challenge1", "q2", {**right, "data_source": "mine.csv"}, "not found next to the notebook")
    assert_wrong("challenge1", "q2", {**right, "data_source": "../../etc/passwd"}, "not found")

    by_c = tfidf_by_c(frames["smoke_texts"], frames["smoke_labels"], test)
    best = max(by_c, key=lambda c: by_c[c]["val"])
    assert_right("challenge1", "q3", {"baseline_c": best, "baseline_macro_f1": by_c[best]["test"], **bundled})
    assert_wrong("challenge1", "q3", {"baseline_c": 1.0, "baseline_macro_f1": by_c[1.0]["test"], **bundled}, "default")
    assert_wrong("challenge1", "q3", {"baseline_c": best, "baseline_macro_f1": 0.5, **bundled}, "is the right choice")

    diff = difference_interval(list(test["label"]), [pred], [by_c[best]["predictions"]])
    verdict = "fine-tuned better" if diff.low > 0 else "baseline better" if diff.high < 0 else "not separated"
    values = {"predictions": ids, "baseline_c": best, **bundled, "f1_difference": diff.estimate,
              "f1_difference_ci": [diff.low, diff.high], "verdict": verdict}
    assert_right("challenge1", "q4", values)
    assert_wrong("challenge1", "q4", {**values, "f1_difference": -diff.estimate}, "wrong sign")
    assert_wrong("challenge1", "q4", {**values, "f1_difference_ci": [diff.high, diff.low]}, "[low, high]")
    assert_wrong("challenge1", "q4", {**values, "f1_difference_ci": [diff.low - 0.05, diff.high]}, "defaults gives")
    other_verdict = "not separated" if verdict != "not separated" else "fine-tuned better"
    assert_wrong("challenge1", "q4", {**values, "verdict": other_verdict}, "does not support")
    assert_wrong("challenge1", "q4", {**values, "verdict": "better"}, "one of")

    conclusion = ("I would deploy the baseline: its score is as good, the interval of the difference includes zero, "
                  "and it trains in a second on a CPU where fine-tuning takes minutes.")
    assert_right("challenge1", "q5", {"conclusion": conclusion})
    assert_wrong("challenge1", "q5", {"conclusion": "The baseline."}, "at least 25")
    assert_wrong("challenge1", "q5", {"conclusion": "I would deploy the baseline because it scores well " * 4},
                 "the interval", "costs")

    # A learner's own CSV, next to the notebook: the checks recompute from it, its validation split included.
    rows = frames["clean"].groupby("label").head(30)
    rows.assign(label=rows["label"].map({"medical": "health", "finance": "money", "legal": "law"}))[
        ["text", "label"]].to_csv(tmp_path / "mine.csv", index=False)
    frame = read_labelled_csv(tmp_path / "mine.csv")
    csv_test = frame[frame["split"] == "test"].reset_index(drop=True)
    names = sorted(frame["label"].unique())
    csv_pred = [names[(names.index(t) + (i % 4 == 0)) % 3] for i, t in enumerate(csv_test["label"])]
    csv_report = classification_report(csv_test["label"], csv_pred, labels=names, output_dict=True, zero_division=0)
    mine = {"data_source": "mine.csv"}
    assert_right("challenge1", "q2", {"predictions": csv_pred, "report": csv_report, **mine}, workdir=tmp_path)
    assert_wrong("challenge1", "q2", {"predictions": csv_pred, "report": report, **mine}, "lacks", workdir=tmp_path)
    train, val = frame[frame["split"] == "train"], frame[frame["split"] == "validation"]
    csv_by_c = {}
    for c in (0.1, 0.3, 1.0, 3.0, 10.0, 30.0):
        val_f1, _, _ = tfidf_f1(train["text"], train["label"], val.reset_index(drop=True), ngram_range=(1, 2), C=c)
        test_f1, _, csv_baseline = tfidf_f1(train["text"], train["label"], csv_test, ngram_range=(1, 2), C=c)
        csv_by_c[c] = (val_f1, test_f1, csv_baseline)
    csv_best = max(csv_by_c, key=lambda c: csv_by_c[c][0])
    assert_right("challenge1", "q3", {"baseline_c": csv_best, "baseline_macro_f1": csv_by_c[csv_best][1], **mine},
                 workdir=tmp_path)
    csv_diff = difference_interval(list(csv_test["label"]), [csv_pred], [csv_by_c[csv_best][2]])
    csv_verdict = "fine-tuned better" if csv_diff.low > 0 else "baseline better" if csv_diff.high < 0 else "not separated"
    assert_right("challenge1", "q4", {"predictions": csv_pred, "baseline_c": csv_best, **mine,
                                      "f1_difference": csv_diff.estimate, "f1_difference_ci": [csv_diff.low, csv_diff.high],
                                      "verdict": csv_verdict}, workdir=tmp_path)


def test_read_labelled_csv_keeps_a_split_column_and_refuses_bad_files(tmp_path):
    from course_utils.exercises.challenge1 import read_labelled_csv

    rows = pd.DataFrame({"text": [f"text number {i}" for i in range(60)], "label": ["a", "b"] * 30,
                         "split": ["train"] * 40 + ["test"] * 20})
    rows.to_csv(tmp_path / "split.csv", index=False)
    frame = read_labelled_csv(tmp_path / "split.csv")
    assert frame["split"].value_counts().to_dict() == {"train": 36, "test": 20, "validation": 4}
    rows.rename(columns={"text": "sentence"}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ValueError, match="no column"):
        read_labelled_csv(tmp_path / "bad.csv")
    rows.assign(label=["a"] * 59 + ["rare"]).to_csv(tmp_path / "rare.csv", index=False)
    with pytest.raises(ValueError, match="fewer than 10"):
        read_labelled_csv(tmp_path / "rare.csv")


def test_challenge2(frames, predicted):
    from sklearn.metrics import f1_score

    from course_utils.classifier import new_classifier
    from course_utils.evaluation import difference_interval
    from course_utils.models import TINY_ENCODER
    from course_utils.recipes import REAL, TINY
    from course_utils.training import freeze_layers

    model = new_classifier(TINY_ENCODER)
    n_layers = model.config.num_hidden_layers
    total = sum(p.numel() for p in model.parameters())
    frozen = freeze_layers(model, n_layers // 2).trainable
    right = {"n_layers": n_layers, "n_frozen": n_layers // 2, "trainable_full": total, "trainable_frozen": frozen}
    assert_right("challenge2", "q1", right)
    assert_wrong("challenge2", "q1", {**right, "n_frozen": 4}, "first half")
    assert_wrong("challenge2", "q1", {**right, "n_layers": 12}, "transformer layers")
    assert_wrong("challenge2", "q1", {**right, "trainable_frozen": total - frozen}, "frozen parameters")
    assert_wrong("challenge2", "q1", {**right, "trainable_frozen": freeze_layers(model, n_layers // 2,
                                                                                 embeddings=False).trainable},
                 "embeddings")

    frozen_curve = [0.2, 0.4, 0.6, 0.7, 0.75, 0.8, 0.82, 0.84, 0.85, 0.84, 0.85, 0.83]  # best 9, ends at 12
    histories = {"full": fake_history(CONVERGED, TINY["full"].learning_rate),
                 "frozen": fake_history(frozen_curve, TINY["partial"].learning_rate)}
    assert_right("challenge2", "q2", {"histories": histories})
    # the frozen arm trained at another recipe's rate (the head-only one): not partial freezing's
    other_rate = {**histories, "frozen": fake_history(frozen_curve, TINY["head"].learning_rate)}
    assert TINY["head"].learning_rate != TINY["partial"].learning_rate
    assert_wrong("challenge2", "q2", {"histories": other_rate}, "histories['frozen']", "peaked at learning rate")
    assert_wrong("challenge2", "q2", {"histories": {**histories, "frozen": fake_history(frozen_curve[:9],
                                                                                      TINY["partial"].learning_rate)}},
                 "did not end it")
    mixed = {**histories, "full": fake_history(CONVERGED, REAL["full"].learning_rate)}
    assert_wrong("challenge2", "q2", {"histories": mixed}, "different models")
    assert_wrong("challenge2", "q2", {"histories": [histories["full"], histories["frozen"]]}, "one log history per setup")

    test = frames["test"]
    full = [LABELS.index(predicted[i]) for i in test["id"]]
    other = [0 if k % 5 == 0 else label for k, label in enumerate(full)]
    f1 = {name: f1_score([LABELS.index(t) for t in test["label"]], p, average="macro")
          for name, p in (("full", full), ("frozen", other))}
    results = pd.DataFrame([{"setup": "full", "epochs_run": 9, "macro_f1": f1["full"], "seconds": 27.0},
                            {"setup": "frozen", "epochs_run": 12, "macro_f1": f1["frozen"], "seconds": 24.0}])
    values = {"predictions_full": full, "predictions_frozen": other, "histories": histories, "results": results}
    assert_right("challenge2", "q3", values)
    assert_wrong("challenge2", "q3", {**values, "results": results.assign(macro_f1=[f1["frozen"], f1["full"]])},
                 "score")
    assert_wrong("challenge2", "q3", {**values, "results": results.assign(setup=["all", "some"])}, "named")
    assert_wrong("challenge2", "q3", {**values, "predictions_full": [0] * len(full), "results": results.assign(
        macro_f1=[f1_score(test["label"], ["medical"] * len(test), average="macro"), f1["frozen"]])},
        "learned nothing")
    assert_wrong("challenge2", "q3", {**values, "results": results.assign(epochs_run=[9, 9])}, "validation scores for 12")

    y = [LABELS.index(t) for t in test["label"]]
    diff = difference_interval(y, [other], [full])
    values = {"predictions_full": full, "predictions_frozen": other, "f1_difference": diff.estimate,
              "f1_difference_ci": [diff.low, diff.high]}
    assert_right("challenge2", "q4", values)
    assert_wrong("challenge2", "q4", {**values, "f1_difference": -diff.estimate}, "wrong sign")
    assert_wrong("challenge2", "q4", {**values, "f1_difference_ci": [diff.high, diff.low]}, "[low, high]")
    assert_wrong("challenge2", "q4", {**values, "f1_difference_ci": 0.05}, "[low, high]")

    per_epoch = (27.0 / 9) / (24.0 / 12)
    assert_right("challenge2", "q5", {"results": results, "speedup_per_epoch": per_epoch})
    assert_wrong("challenge2", "q5", {"results": results, "speedup_per_epoch": 1 / per_epoch}, "upside down")
    assert_wrong("challenge2", "q5", {"results": results, "speedup_per_epoch": 27.0 / 24.0}, "whole runs")

    text = ("With 160 training examples the frozen model scored a lower macro-F1 than full fine-tuning, and the "
            "interval excludes zero; an epoch of it was a little faster, but the time saved is small at this size, "
            "so I would fine-tune every layer.")
    assert_right("challenge2", "q6", {"recommendation": text})
    assert_wrong("challenge2", "q6", {"recommendation": text.replace("faster", "better").replace("time", "effort")},
                 "training time")
    assert_wrong("challenge2", "q6", {"recommendation": "Freeze."}, "at least 30")


# ------------------------------------------------------------------------------- ex04, ex05, challenge 3


@pytest.fixture(scope="module")
def gpt2_tokenizer():
    from transformers import AutoTokenizer

    from course_utils import models

    tokenizer = AutoTokenizer.from_pretrained(models.TINY_GPT2)
    tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def fresh_gpt2():
    from transformers import AutoModelForCausalLM

    from course_utils import models

    return AutoModelForCausalLM.from_pretrained(models.TINY_GPT2)


def test_ex04(frames, tiny_gpt2):
    import math

    import torch

    from course_utils import corpus
    from course_utils.forgetting import WeightAnchor, perplexity, replay_mix
    from course_utils.training import freeze_layers

    model, tokenizer = tiny_gpt2
    general = perplexity(model, tokenizer, corpus.general_text("heldout"))
    domain = perplexity(model, tokenizer, list(frames["test"]["text"]))
    right = {"ppl_general_before": general, "ppl_domain_before": domain}
    assert_right("ex04", "q1", right)
    assert_wrong("ex04", "q1", {"ppl_general_before": domain, "ppl_domain_before": general}, "swapped")
    assert_wrong("ex04", "q1", {**right, "ppl_general_before": math.log(general)}, "exp(loss)")
    assert_wrong("ex04", "q1", {**right, "ppl_domain_before": domain * 0.8}, "Measure a fresh model")
    assert_wrong("ex04", "q1", {**right, "ppl_domain_before": "250"}, "should be a number")

    after = {"ppl_general_before": 100.0, "ppl_domain_before": 250.0, "ppl_general_after": 120.0,
             "ppl_domain_after": 215.0, "forgotten": 20.0, "learned": 35.0}
    assert_right("ex04", "q2", after)
    assert_wrong("ex04", "q2", {**after, "learned": -35.0}, "wrong sign")
    assert_wrong("ex04", "q2", {**after, "forgotten": 12.0}, "by your perplexities")
    assert_wrong("ex04", "q2", {**after, "ppl_general_after": 100.0, "ppl_domain_after": 250.0,
                                "forgotten": 0.0, "learned": 0.0}, "exactly those before")
    assert_wrong("ex04", "q2", {**after, "ppl_domain_after": 260.0, "learned": -10.0}, "did not fall")

    fresh = fresh_gpt2()
    total = sum(p.numel() for p in fresh.parameters())
    half = fresh.config.n_layer // 2
    last = freeze_layers(fresh, half, embeddings=False, which="last").trainable
    with_embeddings = freeze_layers(fresh, half, which="last").trainable
    blocks = list(range(fresh.config.n_layer - half, fresh.config.n_layer))
    right = {"frozen_blocks": blocks, "n_trainable_last": last, "n_total_lm": total}
    assert_right("ex04", "q3", right)
    assert_wrong("ex04", "q3", {**right, "frozen_blocks": list(range(half))}, "first")
    assert_wrong("ex04", "q3", {**right, "n_trainable_last": with_embeddings}, "tied")
    assert_wrong("ex04", "q3", {**right, "n_trainable_last": total - last}, "frozen parameters")
    assert_wrong("ex04", "q3", {**right, "n_total_lm": 12345}, "not the size of a course language model")

    domain_train = frames["smoke_texts"]
    mixed = replay_mix(domain_train, corpus.general_text("train"), 0.25)
    n = len(mixed) - len(domain_train)
    assert_right("ex04", "q4", {"n_replayed": n, "replay_share": n / len(mixed)})
    assert_wrong("ex04", "q4", {"n_replayed": round(0.25 * len(domain_train)), "replay_share": 0.2},
                 "of the *mix*")
    assert_wrong("ex04", "q4", {"n_replayed": n, "replay_share": 0.25}, "need not be exactly")
    assert_wrong("ex04", "q4", {"n_replayed": 10, "replay_share": 0.05}, "len(mixed) - len(domain_train)")

    fresh = fresh_gpt2()
    anchor = WeightAnchor(fresh, 0.1)
    with torch.no_grad():
        for p in fresh.transformer.h[-1].parameters():
            p += 0.01
    penalty = anchor.penalty(fresh).item()
    block = fresh.transformer.h[-1]
    assert_right("ex04", "q5", {"anchor_penalty": penalty})
    assert_wrong("ex04", "q5", {"anchor_penalty": penalty / 0.1}, "strength")
    assert_wrong("ex04", "q5", {"anchor_penalty": 0.1 * math.sqrt(penalty / 0.1)}, "square root")
    decay = 0.1 * sum(float((p.detach().double() ** 2).sum()) for p in block.parameters())
    assert_wrong("ex04", "q5", {"anchor_penalty": decay}, "weight decay")
    assert_wrong("ex04", "q5", {"anchor_penalty": 0.1 * total * 1e-4}, "every parameter")
    assert_wrong("ex04", "q5", {"anchor_penalty": 7.0}, "gives")


def test_ex05(gpt2_tokenizer):
    from course_utils.instruct import IGNORE_INDEX, encode_records, exact_match, format_prompt

    tokenizer = gpt2_tokenizer
    records = data.load_instructions().set_index("id")
    a, b = records.loc["note_type-002"], records.loc["definition-001"]
    right = {"prompt_with_input": format_prompt(a["instruction"], a["input"]),
             "prompt_without_input": format_prompt(b["instruction"])}
    assert_right("ex05", "q1", right)
    assert_wrong("ex05", "q1", {**right, "prompt_with_input": right["prompt_with_input"].replace("\n\n", "\n")},
                 "blank line")
    assert_wrong("ex05", "q1", {**right, "prompt_with_input": right["prompt_with_input"].rstrip("\n")},
                 "newline right after")
    assert_wrong("ex05", "q1", {**right, "prompt_with_input": right["prompt_with_input"] + a["output"]},
                 "contains the response")
    assert_wrong("ex05", "q1", {**right, "prompt_without_input": format_prompt(b["instruction"], "x").replace(
        "x\n", "\n")}, "no input")
    assert_wrong("ex05", "q1", {**right, "prompt_with_input": right["prompt_with_input"].replace(
        "### Response:\n", "")}, "'### Response:'")

    row = records.loc["definition-002"]
    prompt = tokenizer(format_prompt(row["instruction"], row["input"]), add_special_tokens=False)["input_ids"]
    response = tokenizer(row["output"], add_special_tokens=False)["input_ids"]
    eos = tokenizer.eos_token_id
    labels = [IGNORE_INDEX] * len(prompt) + response + [eos]
    assert_right("ex05", "q2", {"example_labels": labels, "n_trained": len(response) + 1})
    assert_wrong("ex05", "q2", {"example_labels": prompt + response + [eos], "n_trained": len(labels)}, "not masked")
    assert_wrong("ex05", "q2", {"example_labels": labels[:-1], "n_trained": len(response)}, "EOS is missing")
    assert_wrong("ex05", "q2", {"example_labels": [IGNORE_INDEX] * (len(labels) - 1) + [eos], "n_trained": 1},
                 "the response tokens are masked too: labels should be -100 only on the prompt")
    assert_wrong("ex05", "q2", {"example_labels": labels + [IGNORE_INDEX] * 3, "n_trained": len(response) + 1},
                 "padding")
    assert_wrong("ex05", "q2", {"example_labels": labels, "n_trained": len(response)}, "EOS")
    assert_wrong("ex05", "q2", {"example_labels": {"labels": labels}, "n_trained": 3}, "example['labels']")

    train = data.load_instructions("train")
    dropped = len(encode_records(train, tokenizer, 128).dropped)
    prompts = [len(tokenizer(format_prompt(r.instruction, r.input), add_special_tokens=False)["input_ids"])
               for r in train.itertuples()]
    responses = [len(tokenizer(o, add_special_tokens=False)["input_ids"]) for o in train["output"]]
    no_eos = sum(p + r > 128 for p, r in zip(prompts, responses))
    prompt_only = sum(p > 128 for p in prompts)
    assert len({dropped, no_eos, prompt_only, len(train) - dropped}) == 4
    assert_right("ex05", "q3", {"n_dropped": dropped})
    assert_wrong("ex05", "q3", {"n_dropped": len(train) - dropped}, "kept")
    assert_wrong("ex05", "q3", {"n_dropped": no_eos}, "EOS token counts too")
    assert_wrong("ex05", "q3", {"n_dropped": prompt_only}, "prompts longer")
    assert_wrong("ex05", "q3", {"n_dropped": 3}, "len(encoded.dropped)")

    held = data.load_instructions().query("split == 'heldout' and task == 'note_type'")
    references = list(held["output"])
    answers = [f"{label.capitalize()}. The note" if k % 3 else "symptom" for k, label in enumerate(references)]
    rate = float(np.mean(exact_match(answers, references)))
    strict = float(np.mean([x == y for x, y in zip(answers, references)]))
    counts = held["output"].value_counts()
    majority = counts.max() / len(held)
    assert rate != strict
    right = {"untuned_answers": answers, "untuned_exact_match": np.float64(rate), "majority_rate": majority}
    assert_right("ex05", "q4", right)
    assert_wrong("ex05", "q4", {**right, "untuned_exact_match": strict}, "character by character")
    assert_wrong("ex05", "q4", {**right, "untuned_exact_match": rate * 100}, "percentage")
    assert_wrong("ex05", "q4", {**right, "majority_rate": int(counts.max())}, "percentage")
    assert_wrong("ex05", "q4", {**right, "majority_rate": majority / 2}, "most common held-out label")
    assert_wrong("ex05", "q4", {**right, "untuned_answers": answers[:5]}, "held-out")

    reason = "The model writes after the last position of its input, so pads must not sit between prompt and answer."
    assert_right("ex05", "q5", {"generation_padding_side": "left", "padding_reason": reason})
    assert_right("ex05", "q5", {"generation_padding_side": " Left ", "padding_reason": reason})
    assert_wrong("ex05", "q5", {"generation_padding_side": "right", "padding_reason": reason}, "other side")
    assert_wrong("ex05", "q5", {"generation_padding_side": "left", "padding_reason": "Because it is what the "
                                "course and the documentation say to do."}, "should say why")
    assert_wrong("ex05", "q5", {"generation_padding_side": "left", "padding_reason": "left"}, "at least 8")

    n_validation = len(data.load_instructions("validation"))
    splits = {"n_validation": n_validation, "choose_on": "validation"}
    assert_right("ex05", "q6", splits)
    assert_right("ex05", "q6", {**splits, "choose_on": " 'Validation' "})
    assert_wrong("ex05", "q6", {**splits, "choose_on": "heldout"}, "flatters")
    assert_wrong("ex05", "q6", {**splits, "choose_on": "train"}, "memorises")
    assert_wrong("ex05", "q6", {**splits, "choose_on": "dev"}, "answer 'train', 'validation' or 'heldout'")
    assert_wrong("ex05", "q6", {**splits, "n_validation": len(data.load_instructions("heldout"))}, "held-out records")
    assert_wrong("ex05", "q6", {**splits, "n_validation": len(data.load_instructions("train"))}, "training records")
    assert_wrong("ex05", "q6", {**splits, "n_validation": 7}, "load_instructions('validation')")


def test_ex06(tiny_gpt2):
    import torch

    from course_utils import models
    from course_utils.classifier import new_classifier
    from course_utils.lora import LowRankLinear, add_lora

    torch.set_num_threads(1)
    r = 4
    lin1 = new_classifier(models.TINY_ENCODER).distilbert.transformer.layer[0].ffn.lin1
    n_in, n_out = lin1.in_features, lin1.out_features
    assert (n_in, n_out) == (128, 512)
    n_lora, n_full = r * n_in + n_out * r, n_in * n_out + n_out
    right = {"n_lora": n_lora, "n_full": n_full}
    assert_right("ex06", "q1", right)
    assert_right("ex06", "q1", {"n_lora": r * (768 + 3072), "n_full": 768 * 3072 + 3072})  # distilbert-base
    assert_wrong("ex06", "q1", {**right, "n_lora": n_lora + n_in * n_out}, "pretrained weight too", "frozen")
    assert_wrong("ex06", "q1", {**right, "n_lora": r * n_in}, "one matrix only")
    assert_wrong("ex06", "q1", {**right, "n_lora": n_out * r}, "one matrix only")
    assert_wrong("ex06", "q1", {**right, "n_lora": 2 * r * n_in}, "not the same size", "B is 512 x r")
    assert_wrong("ex06", "q1", {**right, "n_lora": r * r}, "r x r is neither matrix")
    assert_wrong("ex06", "q1", {**right, "n_lora": 1234}, "read in_features and out_features")
    assert_wrong("ex06", "q1", {**right, "n_full": n_in * n_out}, "leaves out the bias")
    assert_wrong("ex06", "q1", {**right, "n_full": n_lora}, "is the LoRA count")
    assert_wrong("ex06", "q1", {**right, "n_full": 999}, "its bias (out_features)")
    assert_wrong("ex06", "q1", {**right, "n_lora": "2560"}, "should be a number")

    q_lin = new_classifier(models.TINY_ENCODER).distilbert.transformer.layer[0].attention.q_lin
    wrapped = LowRankLinear(q_lin, r=r, alpha=8)
    x = torch.randn(2, 5, q_lin.in_features)
    with torch.no_grad():
        diff = (wrapped(x) - q_lin(x)).abs().max()
    right = {"max_diff_at_init": diff, "lora_scale": 8 / r}
    assert float(diff) == 0.0
    assert_right("ex06", "q2", right)
    assert_wrong("ex06", "q2", {**right, "lora_scale": r / 8}, "upside down")
    assert_wrong("ex06", "q2", {**right, "lora_scale": 8}, "alpha itself")
    assert_wrong("ex06", "q2", {**right, "lora_scale": r}, "is the rank")
    assert_wrong("ex06", "q2", {**right, "lora_scale": 1.0}, "alpha = r")
    assert_wrong("ex06", "q2", {**right, "lora_scale": 3.0}, "wrapped.scale")
    assert_wrong("ex06", "q2", {**right, "max_diff_at_init": 0.013}, "B starts at zero", "bit for bit")
    assert_wrong("ex06", "q2", {**right, "max_diff_at_init": -0.5}, "absolute value")

    before = sum(p.numel() for p in new_classifier(models.TINY_ENCODER).parameters())
    peft_model = add_lora(new_classifier(models.TINY_ENCODER), r=r)
    trainable = {name: p.numel() for name, p in peft_model.named_parameters() if p.requires_grad}
    total = sum(p.numel() for p in peft_model.parameters())
    heads = sorted({name.split(".")[2] for name in trainable if "lora_" not in name})
    assert heads == ["classifier", "pre_classifier"]
    share = sum(trainable.values()) / total
    lora_only = sum(n for name, n in trainable.items() if "lora_" in name) / total
    right = {"saved_heads": heads, "trainable_share": share}
    assert_right("ex06", "q3", right)
    assert_right("ex06", "q3", {**right, "saved_heads": ("pre_classifier", "classifier")})
    assert_right("ex06", "q3", {**right, "trainable_share": sum(trainable.values()) / before})  # peft's copies aside
    assert_wrong("ex06", "q3", {**right, "saved_heads": ["classifier"]}, "pre_classifier is missing", "random")
    assert_wrong("ex06", "q3", {**right, "saved_heads": heads + ["q_lin", "v_lin"]}, "q_lin, v_lin get LoRA matrices")
    assert_wrong("ex06", "q3", {**right, "saved_heads": list(peft_model.peft_config["default"].modules_to_save)},
                 "no module named 'score'")
    assert_wrong("ex06", "q3", {**right, "saved_heads": heads + ["dropout"]}, "dropout should not be there")
    assert_wrong("ex06", "q3", {**right, "saved_heads": [1, 2]}, "list of module names")
    assert_wrong("ex06", "q3", {**right, "saved_heads": "classifier, pre_classifier"}, "one string")
    assert_wrong("ex06", "q3", {**right, "trainable_share": 100 * share}, "percentage")
    assert_wrong("ex06", "q3", {**right, "trainable_share": lora_only}, "LoRA matrices only")
    at_r8 = add_lora(new_classifier(models.TINY_ENCODER))
    r8 = sum(p.numel() for p in at_r8.parameters() if p.requires_grad) / sum(p.numel() for p in at_r8.parameters())
    assert_wrong("ex06", "q3", {**right, "trainable_share": r8}, "r=8")
    every = add_lora(new_classifier(models.TINY_ENCODER), r=r,
                     targets=["q_lin", "k_lin", "v_lin", "out_lin", "lin1", "lin2"])
    every_share = (sum(p.numel() for p in every.parameters() if p.requires_grad)
                   / sum(p.numel() for p in every.parameters()))
    assert_wrong("ex06", "q3", {**right, "trainable_share": every_share}, "every layer of the body")
    assert_wrong("ex06", "q3", {**right, "trainable_share": round(share, 2)}, "unrounded")

    lm, _ = tiny_gpt2
    c_attn = lm.transformer.h[0].attn.c_attn
    width = lm.config.n_embd
    right = {"c_attn_weight_shape": c_attn.weight.shape, "fan_in_fan_out": True}
    assert tuple(c_attn.weight.shape) == (width, 3 * width)
    assert_right("ex06", "q4", right)
    assert_right("ex06", "q4", {"c_attn_weight_shape": (768, 2304), "fan_in_fan_out": True})  # gpt2
    assert_wrong("ex06", "q4", {**right, "c_attn_weight_shape": (3 * width, width)}, "nn.Linear orientation")
    assert_wrong("ex06", "q4", {**right, "c_attn_weight_shape": [width, width]}, "queries, the keys and the values")
    assert_wrong("ex06", "q4", {**right, "c_attn_weight_shape": [5, 7]}, "not the shape of a course GPT-2")
    assert_wrong("ex06", "q4", {**right, "c_attn_weight_shape": width}, "two numbers")
    assert_wrong("ex06", "q4", {**right, "fan_in_fan_out": False}, "must be True", "transposed update")
    assert_wrong("ex06", "q4", {**right, "fan_in_fan_out": "True"}, "without quotes")

    n_params = sum(p.numel() for p in lm.parameters())  # the tied output layer once
    adapter = lm.config.n_layer * r * (width + 3 * width)
    right = {"merge_max_diff": 5.7e-6, "max_change": 0.375, "n_params_merged": n_params}
    assert_right("ex06", "q5", right)
    assert_right("ex06", "q5", {**right, "n_params_merged": 124_439_808})  # gpt2
    assert_wrong("ex06", "q5", {**right, "max_change": 0.0}, "compute the base logits first", "B starts at zero")
    assert_wrong("ex06", "q5", {**right, "merge_max_diff": 0.375}, "equals max_change")
    assert_wrong("ex06", "q5", {**right, "merge_max_diff": 0.21}, "eval mode")
    assert_wrong("ex06", "q5", {**right, "merge_max_diff": -1e-6}, "cannot be below 0")
    assert_wrong("ex06", "q5", {**right, "n_params_merged": n_params + adapter}, "still counts the LoRA matrices")
    assert_wrong("ex06", "q5", {**right, "n_params_merged": n_params + lm.lm_head.weight.numel()},
                 "output layer's weight a second time")
    assert_wrong("ex06", "q5", {**right, "n_params_merged": 12345}, "not the size of a course GPT-2")


def test_ex07(tmp_path):
    """Right answers built with TrainingArguments itself (not base_args), the step count taken from Trainer."""
    import torch
    from transformers import Trainer, TrainingArguments

    out = str(tmp_path / "runs")

    def settings(**kwargs):
        return TrainingArguments(out, report_to="none", use_cpu=True, **kwargs).to_dict()

    right = {"memory_settings": settings(per_device_train_batch_size=4, gradient_accumulation_steps=8)}
    assert_right("ex07", "q1", right)
    assert_right("ex07", "q1", {"memory_settings": settings(per_device_train_batch_size=2,
                                                            gradient_accumulation_steps=16)})
    assert "fewer, fuller passes" in evaluate("ex07", "q1", {"memory_settings": settings(
        per_device_train_batch_size=2, gradient_accumulation_steps=16)}).feedback
    assert_wrong("ex07", "q1", {"memory_settings": settings(per_device_train_batch_size=4,
                                                            gradient_accumulation_steps=32)},
                 "averages 128 examples", "counts batches, not examples")
    assert_wrong("ex07", "q1", {"memory_settings": settings(per_device_train_batch_size=32)},
                 "at most 4 examples fit")
    assert_wrong("ex07", "q1", {"memory_settings": settings(per_device_train_batch_size=4,
                                                            gradient_accumulation_steps=4)}, "4 x 4 = 16")
    assert_wrong("ex07", "q1", {"memory_settings": settings(per_device_train_batch_size=4)}, "without accumulation")
    assert_wrong("ex07", "q1", {"memory_settings": json.dumps(right["memory_settings"])}, "is text")
    assert_wrong("ex07", "q1", {"memory_settings": 32}, "memory_args.to_dict()")
    assert_wrong("ex07", "q1", {"memory_settings": {"gradient_accumulation_steps": 8}}, "lacks")

    # Trainer's own count for 2,000 examples in batches of 4, accumulation 8, 3 epochs
    args = TrainingArguments(out, report_to="none", use_cpu=True, per_device_train_batch_size=4,
                             gradient_accumulation_steps=8, num_train_epochs=3)
    trainer = Trainer(model=torch.nn.Linear(2, 2), args=args)
    loader = torch.utils.data.DataLoader(list(range(2_000)), batch_size=4)
    steps = trainer.set_initial_training_values(args, loader)[-1]
    assert steps == 189
    right = {"n_updates": steps, "warmup": 19}
    assert_right("ex07", "q2", right)
    assert_right("ex07", "q2", {**right, "warmup": 18})  # 18.9 rounded down
    assert_wrong("ex07", "q2", {**right, "n_updates": 1_500}, "counts batches")
    assert_wrong("ex07", "q2", {**right, "n_updates": 188}, "at once", "ceil(500 / 8) = 63")
    assert_wrong("ex07", "q2", {**right, "n_updates": 187}, "at once")
    assert_wrong("ex07", "q2", {**right, "n_updates": 186}, "rounds each epoch's", "round up")
    assert_wrong("ex07", "q2", {**right, "n_updates": 63}, "one epoch's count")
    assert_wrong("ex07", "q2", {**right, "n_updates": 6_000}, "counts examples")
    assert_wrong("ex07", "q2", {**right, "n_updates": 200}, "count the batches of an epoch")
    assert_wrong("ex07", "q2", {**right, "n_updates": 189.5}, "whole number")
    assert_wrong("ex07", "q2", {**right, "warmup": 0.1}, "a fraction of the run", "in steps")
    assert_wrong("ex07", "q2", {**right, "warmup": 10}, "the percentage itself")
    assert_wrong("ex07", "q2", {**right, "warmup": 1_890}, "longer than the run")
    assert_wrong("ex07", "q2", {**right, "warmup": 150}, "10% of the batches")
    assert_wrong("ex07", "q2", {**right, "warmup": 18.9}, "round it")
    assert_wrong("ex07", "q2", {**right, "warmup": 0}, "at least one step")
    assert_wrong("ex07", "q2", {**right, "warmup": 25}, "10% of 189 steps is 18.9")

    stopping = dict(eval_strategy="steps", eval_steps=50, save_strategy="steps", save_steps=50,
                    load_best_model_at_end=True, metric_for_best_model="eval_loss", greater_is_better=False,
                    save_total_limit=2)
    right = {"stopping_settings": settings(**stopping), "patience": 3}
    assert_right("ex07", "q3", right)
    variant = {**stopping, "metric_for_best_model": "loss", "greater_is_better": None, "save_strategy": "best",
               "save_total_limit": 1}
    assert settings(**variant)["greater_is_better"] is False  # transformers' default for a loss
    assert_right("ex07", "q3", {**right, "stopping_settings": settings(**variant)})

    def wrong_stopping(changes, *words, patience=3):
        assert_wrong("ex07", "q3", {"stopping_settings": settings(**{**stopping, **changes}), "patience": patience},
                     *words)

    wrong_stopping({"metric_for_best_model": "train_loss"}, "the training loss", "KeyError")
    wrong_stopping({"greater_is_better": True}, "highest validation loss")
    wrong_stopping({"save_strategy": "epoch", "load_best_model_at_end": False}, "may fall where no checkpoint")
    wrong_stopping({"load_best_model_at_end": False}, "ends on its last model")
    wrong_stopping({"eval_strategy": "no", "load_best_model_at_end": False}, "never evaluates")
    wrong_stopping({"eval_strategy": "epoch", "save_strategy": "epoch"}, "every 50 optimizer steps")
    wrong_stopping({"eval_steps": None, "save_steps": 500}, "falls back on logging_steps")
    wrong_stopping({"metric_for_best_model": None, "load_best_model_at_end": False, "greater_is_better": None},
                   "metric_for_best_model is not set")
    wrong_stopping({"metric_for_best_model": "eval_macro_f1", "greater_is_better": True}, "watches the validation loss")
    wrong_stopping({"save_steps": 100}, "between two saves")
    wrong_stopping({"save_strategy": "no", "load_best_model_at_end": False}, "no best model to reload")
    wrong_stopping({"save_total_limit": None}, "fills a Colab disk")
    wrong_stopping({"save_total_limit": 5}, "at most 2 checkpoints")
    wrong_stopping({}, "counts evaluations without improvement, not optimizer steps", patience=150)
    wrong_stopping({}, "noisy validation score", patience=1)
    wrong_stopping({}, "one every 50 steps", patience=5)
    assert_wrong("ex07", "q3", {**right, "stopping_settings": ["eval_loss"]}, "stopping_args.to_dict()")

    checkpointed = dict(activation_checkpointing=True, per_device_train_batch_size=16, gradient_accumulation_steps=2)
    right = {"checkpointing_settings": settings(**checkpointed), "enable_method": "activation_checkpointing_enable",
             "saves_memory": True, "adds_time": True}
    assert_right("ex07", "q4", right)
    with pytest.warns(FutureWarning, match="gradient_checkpointing"):  # the old name, still accepted in 5.24
        old_name = settings(gradient_checkpointing=True, per_device_train_batch_size=16, gradient_accumulation_steps=2)
    old = {**right, "checkpointing_settings": old_name, "enable_method": "model.gradient_checkpointing_enable()"}
    assert_right("ex07", "q4", old)
    assert "deprecated alias" in evaluate("ex07", "q4", old).feedback

    def with_settings(**changes):
        return {**right, "checkpointing_settings": settings(**{**checkpointed, **changes})}

    assert_wrong("ex07", "q4", with_settings(activation_checkpointing=False), "activation checkpointing is off")
    assert_wrong("ex07", "q4", with_settings(per_device_train_batch_size=4, gradient_accumulation_steps=8),
                 "16 examples fit now")
    assert_wrong("ex07", "q4", with_settings(per_device_train_batch_size=32, gradient_accumulation_steps=1),
                 "at most 16 examples fit")
    assert_wrong("ex07", "q4", with_settings(gradient_accumulation_steps=8), "was for batches of 4", "32 / 16")
    assert_wrong("ex07", "q4", with_settings(gradient_accumulation_steps=32), "averages 512 examples")
    assert_wrong("ex07", "q4", {**right, "enable_method": "activation_checkpointing"}, "TrainingArguments flag")
    assert_wrong("ex07", "q4", {**right, "enable_method": "is_activation_checkpointing"}, "turns nothing on")
    assert_wrong("ex07", "q4", {**right, "enable_method": "enable_checkpointing"}, "dir(PreTrainedModel)")
    assert_wrong("ex07", "q4", {**right, "enable_method": 3}, "as text")
    assert_wrong("ex07", "q4", {**right, "saves_memory": False}, "keeps only each checkpointed layer's input")
    assert_wrong("ex07", "q4", {**right, "saves_memory": "True"}, "without quotes")
    assert_wrong("ex07", "q4", {**right, "adds_time": False}, "runs each checkpointed layer's forward again")

    answer = ("The learning rate: the rule of 2e-5 to 5e-5 was found on models pretrained for days, but the tiny "
              "encoder has under two million parameters and was pretrained for under an hour, so it needs larger "
              "steps.")
    assert_right("ex07", "q5", {"contradicted_rule": answer})
    assert evaluate("ex07", "q5", {"contradicted_rule": answer}).needs_review
    assert_wrong("ex07", "q5", {"contradicted_rule": "The learning rate."}, "at least 20")
    assert_wrong("ex07", "q5", {"contradicted_rule": "I think one of the rules will be contradicted by the course "
                                                      "because I have read that rules of thumb are often wrong in "
                                                      "practice for many reasons."},
                 "why the tiny models would differ")
    assert_wrong("ex07", "q5", {"contradicted_rule": "I think one of the rules will be contradicted by the tiny "
                                                      "models because they are so small and were pretrained for a "
                                                      "short while only, unlike the real ones."},
                 "which rule")


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def test_challenge3(tmp_path, gpt2_tokenizer):
    from course_utils.exercises.challenge3 import DATASET_FILE
    from course_utils.instruct import IGNORE_INDEX, encode_records, format_prompt

    tokenizer = gpt2_tokenizer
    rows = [{"instruction": "Write the number in words.", "input": str(i), "output": f"number {i} in words"}
            for i in range(1, 56)]
    write_jsonl(tmp_path / DATASET_FILE, rows)
    ok = {"n_examples": 55, "task_description": "Write a number given in digits in words."}

    def wrong_file(bad_rows, *words, text=None):
        folder = tmp_path / f"bad{len(list(tmp_path.iterdir()))}"
        folder.mkdir()
        if text is not None:
            (folder / DATASET_FILE).write_text(text)
        else:
            write_jsonl(folder / DATASET_FILE, bad_rows)
        assert_wrong("challenge3", "q1", {**ok, "n_examples": len(bad_rows)}, *words, workdir=folder)

    assert_right("challenge3", "q1", ok, workdir=tmp_path)
    assert_wrong("challenge3", "q1", {**ok, "n_examples": 60}, "holds 55", workdir=tmp_path)
    assert_wrong("challenge3", "q1", ok, "not found", workdir=tmp_path / "missing")
    wrong_file(rows[:30], "at least 50")
    wrong_file(rows[:30] * 2, "different prompts")
    bundled = data.load_instructions().iloc[0]
    wrong_file(rows + [{"instruction": bundled["instruction"], "input": bundled["input"], "output": "x"}], "bundled")
    wrong_file([{k: v for k, v in r.items() if k != "input"} for r in rows], "lacks ['input']")
    wrong_file([{**r, "output": "same"} for r in rows], "same output")
    wrong_file(rows, "not JSON", text="instruction,input,output\n")
    wrong_file([{**r, "output": 3} for r in rows], "should be text")

    tests = [{"instruction": "Write the number in words.", "input": str(i)} for i in range(100, 110)]
    assert_right("challenge3", "q2", {"test_prompts": tests}, workdir=tmp_path)
    assert_right("challenge3", "q2", {"test_prompts": pd.DataFrame(tests)}, workdir=tmp_path)
    assert_wrong("challenge3", "q2", {"test_prompts": tests[:9] + [{"instruction": "write the number in words",
                                                                   "input": "7"}]}, "also in", workdir=tmp_path)
    assert_wrong("challenge3", "q2", {"test_prompts": tests[:9]}, "asks for 10", workdir=tmp_path)
    assert_wrong("challenge3", "q2", {"test_prompts": tests[:9] + tests[:1]}, "repeat", workdir=tmp_path)
    assert_wrong("challenge3", "q2", {"test_prompts": [t["input"] for t in tests]}, "list of records",
                 workdir=tmp_path)

    prompt = tokenizer(format_prompt(rows[0]["instruction"], rows[0]["input"]), add_special_tokens=False)["input_ids"]
    response = tokenizer(rows[0]["output"], add_special_tokens=False)["input_ids"]
    labels = [IGNORE_INDEX] * len(prompt) + response + [tokenizer.eos_token_id]
    dropped = len(encode_records(rows, tokenizer, 64).dropped)
    right = {"max_length": 64, "n_dropped": dropped, "first_labels": labels}
    assert_right("challenge3", "q3", right, workdir=tmp_path)
    assert_wrong("challenge3", "q3", {**right, "first_labels": prompt + response + [tokenizer.eos_token_id]},
                 "not masked", workdir=tmp_path)
    assert_wrong("challenge3", "q3", {**right, "n_dropped": dropped + 2}, "drops", workdir=tmp_path)
    assert_wrong("challenge3", "q3", {**right, "max_length": len(labels) - 1}, "does not fit", workdir=tmp_path)
    long_rows = rows[:1] + [{**r, "output": r["output"] + " and more" * 20} for r in rows[1:]]
    (tmp_path / "long").mkdir()
    write_jsonl(tmp_path / "long" / DATASET_FILE, long_rows)
    assert_wrong("challenge3", "q3", {**right, "n_dropped": len(encode_records(long_rows, tokenizer, 64).dropped)},
                 "only 1", workdir=tmp_path / "long")

    responses = [f"number {i} in words" for i in range(100, 110)]
    trained = {"loss_history": [3.1, 2.0, 1.2], "test_prompts": tests, "responses": responses}
    assert_right("challenge3", "q4", trained)
    assert_wrong("challenge3", "q4", {**trained, "loss_history": [1.0, 1.5]}, "did not fall")
    assert_wrong("challenge3", "q4", {**trained, "loss_history": 1.2}, "list of training losses")
    assert_wrong("challenge3", "q4", {**trained, "responses": responses[:8]}, "8 answers for 10")
    assert_wrong("challenge3", "q4", {**trained, "responses": [""] * 10}, "empty")

    ratings = pd.DataFrame({"instruction": [t["instruction"] for t in tests], "response": responses,
                            "rating": [5, 4, 3, 5, 5, 2, 1, 4, 4, 5]})
    rated = {"ratings": ratings, "average_rating": ratings["rating"].mean(), "responses": responses}
    assert_right("challenge3", "q5", rated)
    outcome = evaluate("challenge3", "q5", rated)
    assert outcome.points == 0 and outcome.needs_review
    assert_wrong("challenge3", "q5", {**rated, "ratings": ratings.head(9)}, "9 rows")
    assert_wrong("challenge3", "q5", {**rated, "ratings": ratings.assign(rating=[6] + [4] * 9)}, "1 to 5")
    assert_wrong("challenge3", "q5", {**rated, "ratings": ratings.assign(rating=[""] + [4] * 9)}, "no rating")
    assert_wrong("challenge3", "q5", {**rated, "average_rating": 3.0}, "average")
    assert_wrong("challenge3", "q5", {**rated, "responses": responses[::-1]}, "not those")
    assert_wrong("challenge3", "q5", {**rated, "ratings": ratings.drop(columns="rating")}, "lacks")

    comment = ("The ratings average 3.8: the model writes the right words for most numbers below two hundred, "
               "which the training records covered well, but it confuses hundreds with thousands for larger "
               "numbers, because my template rarely produced them. More examples of large numbers and a few "
               "more epochs would be my next step before trusting it.")
    assert_right("challenge3", "q6", {"quality_comment": comment})
    assert_wrong("challenge3", "q6", {"quality_comment": "It works well."}, "at least 40")
    assert_wrong("challenge3", "q6", {"quality_comment": comment.replace("ratings average", "answers show").replace(
        "training records", "prompts").replace("template", "list").replace("examples", "cases")}, "should say")


def test_ex04_q6_paired_t_interval_over_seeds():
    """The paired comparison over seeds: the lesson's interval is right, each usual mistake is named."""
    import numpy as np
    from scipy import stats

    from course_utils.comparisons import t_interval

    high, low = [13.1, 15.8, 12.4], [0.41, 0.38, 0.44]
    diffs = np.subtract(high, low)
    mean, sd, n = diffs.mean(), diffs.std(ddof=1), len(diffs)
    t = stats.t.ppf(0.975, n - 1)
    right = {"forgotten_high": high, "forgotten_low": low, "diff_mean": mean,
             "diff_low": mean - t * sd / np.sqrt(n), "diff_high": mean + t * sd / np.sqrt(n)}
    assert_right("ex04", "q6", right)
    ci = t_interval(diffs)  # the lesson's helper gives the same answer
    assert_right("ex04", "q6", {**right, "diff_low": ci.low, "diff_high": ci.high})
    assert_wrong("ex04", "q6", {**right, "diff_mean": -mean}, "wrong sign")
    assert_wrong("ex04", "q6", {**right, "diff_mean": mean + 1}, "mean of the per-seed differences")
    assert_wrong("ex04", "q6", {**right, "diff_low": mean - 1.96 * sd / np.sqrt(n),
                                "diff_high": mean + 1.96 * sd / np.sqrt(n)}, "Student's t")
    sd0 = diffs.std(ddof=0)
    assert_wrong("ex04", "q6", {**right, "diff_low": mean - t * sd0 / np.sqrt(n),
                                "diff_high": mean + t * sd0 / np.sqrt(n)}, "ddof=1")
    assert_wrong("ex04", "q6", {**right, "diff_low": mean - t * sd, "diff_high": mean + t * sd}, "square root")
    unpaired = t * np.sqrt(np.var(high, ddof=1) / n + np.var(low, ddof=1) / n)
    assert_wrong("ex04", "q6", {**right, "diff_low": mean - unpaired, "diff_high": mean + unpaired}, "paired")
    assert_wrong("ex04", "q6", {**right, "diff_low": 0.0, "diff_high": 1.0}, "t-interval of your")
    assert_wrong("ex04", "q6", {**right, "forgotten_high": high[:2], "forgotten_low": low[:2]}, "at least 3")
    assert_wrong("ex04", "q6", {**right, "forgotten_low": low + [0.5]}, "same seeds")
    assert_wrong("ex04", "q6", {**right, "forgotten_high": [13.1] * 3}, "its own seed")
    assert_wrong("ex04", "q6", {**right, "forgotten_high": 13.1}, "one number per seed")
    assert evaluate("ex04", "q6", {**right, "diff_mean": None}, ".").status == "unanswered"


def test_every_question_has_a_wrong_answer_test():
    """Each check is shown to fail on at least one plausible wrong answer somewhere above."""
    source = Path(__file__).read_text()
    tested = set(re.findall(r'assert_wrong\(\s*"(\w+)",\s*"(\w+)"', source))
    missing = [(name, q.name) for name in NOTEBOOKS for q in load(name).questions if (name, q.name) not in tested]
    assert not missing, f"questions without a failing-answer test: {missing}"
