"""Scoring generated answers: exact match on a label's first word, ROUGE-L, each bundled task's
judging rule, and your own ratings of open answers (lesson 05; ``course_utils.instruct`` re-exports them).

>>> exact_match(["Diagnosis. It names a condition."], ["diagnosis"])
[1]
"""

from __future__ import annotations


def first_word(text: str) -> str:
    """The answer's first word, lowercased, without punctuation: what exact match compares.

    >>> first_word(" Diagnosis. The note names a condition.")
    'diagnosis'
    """
    words = str(text).strip().split()
    return words[0].strip(".,;:!?\"'()").lower() if words else ""


# A shown answer is judged right by its task's rule: one label (first word), one fact copied from
# the input (the whole answer), or an open answer, which counts as right only when it shares at
# least half of its words, in order, with the reference (ROUGE-L of 0.5 or more).
OPEN_ANSWER_ROUGE = 0.5


def judge(task: str, answer: str, expected: str) -> tuple[bool, str]:
    """``(right, verdict)`` for one answer to a bundled task, by that task's rule.

    >>> judge("note_type", "Diagnosis.", "diagnosis")
    (True, 'right')
    >>> judge("extraction", "$41.2 million.", "$41.2 million")
    (True, 'right')
    >>> judge("definition", "Money lent.", "A civil wrong that causes harm.")
    (False, 'wrong (ROUGE-L 0.00)')
    """
    from course_utils.data import INSTRUCTION_TASKS

    if task not in INSTRUCTION_TASKS:
        raise ValueError(f"Unknown task {task!r}; the bundled tasks are {INSTRUCTION_TASKS}.")
    if task == "note_type":
        right = first_word(answer) == first_word(expected)
        return right, "right" if right else "wrong"
    if task == "extraction":
        def bare(text):
            return str(text).strip().rstrip(".").strip().lower()

        right = bare(answer) == bare(expected)
        return right, "right" if right else "wrong"
    score = rouge_l([answer], [expected])[0]
    right = score >= OPEN_ANSWER_ROUGE
    return right, f"{'right' if right else 'wrong'} (ROUGE-L {score:.2f})"


def exact_match(predictions, references) -> list[int]:
    """1 where the prediction's first word is the reference label, else 0."""
    predictions, references = list(predictions), list(references)
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references.")
    return [int(first_word(p) == first_word(r)) for p, r in zip(predictions, references)]


def rouge_l(predictions, references) -> list[float]:
    """ROUGE-L F-measure per pair (longest common subsequence of words), from ``rouge-score``.

    >>> [round(x, 2) for x in rouge_l(["the tenant won the case"], ["the tenant won"])]
    [0.75]
    """
    from rouge_score import rouge_scorer

    predictions, references = list(predictions), list(references)
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references.")
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return [scorer.score(r, p)["rougeL"].fmeasure for p, r in zip(predictions, references)]


def ratings_table(sheet, ratings: dict, *, low: int = 1, high: int = 5):
    """The rating sheet with your scores joined by id, and a one-line summary with the average.

    ``ratings`` maps an id of ``sheet`` to a whole score from ``low`` to ``high``; unrated rows
    are left blank. A score out of range, or an id not on the sheet, is an error that says which.

    >>> import pandas as pd
    >>> sheet = pd.DataFrame({"id": ["a", "b"], "response": ["yes", "no"]})
    >>> table, summary = ratings_table(sheet, {"a": 4})
    >>> summary
    '1 of 2 responses rated; average 4.00 out of 5.'
    """
    if "id" not in getattr(sheet, "columns", ()):
        raise ValueError("The rating sheet needs an 'id' column to join your ratings on.")
    if not isinstance(ratings, dict):
        raise TypeError("ratings must be a dict {id: score}, for example {'inst-h-0121': 4}.")
    ids = set(sheet["id"])
    for key, score in ratings.items():
        if key not in ids:
            raise ValueError(f"{key!r} is not an id on the rating sheet; rate the ids shown in the table.")
        if isinstance(score, bool) or not isinstance(score, int) or not low <= score <= high:
            raise ValueError(f"The rating for {key!r} is {score!r}: use a whole number from {low} to {high}.")
    table = sheet.copy()
    table["rating"] = [ratings.get(i, "") for i in table["id"]]  # "" (not NaN) for unrated rows
    scores = [ratings[i] for i in table["id"] if i in ratings]
    if scores:
        summary = (f"{len(scores)} of {len(table)} responses rated; average "
                   f"{sum(scores) / len(scores):.2f} out of {high}.")
    else:
        summary = f"0 of {len(table)} responses rated yet: fill in the ratings to see the average."
    return table, summary
