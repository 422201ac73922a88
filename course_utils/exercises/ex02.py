"""Exercise 02: the floor, the baseline, freezing, padding and one fine-tune (lesson 02).

Data-derived answers are recomputed here (the test split is whole in every profile; the
training split is the smoke profile's subsample or the whole split, and either is accepted).
The baseline's ``C`` is recomputed as lesson 02 chooses it, from the training and validation
splits, never from test. The fine-tuned model's answers come from training, so they are checked
for consistency: the reported macro-F1 must be the one its predictions score, above the
majority-class floor; the epochs run and the epoch kept must be what the exported log history
shows, and its learning rate the lesson's recipe.
"""

from __future__ import annotations

from functools import lru_cache

from course_utils.exercises import checks
from course_utils.exercises.core import Question, QuestionSet, Wrong

# ----------------------------------------------------------------------------- q1


@lru_cache(maxsize=None)
def _constant_scores() -> dict:
    """Test scores of always answering one class, for each class."""
    from course_utils import data

    true = checks.test_frame()["label"].tolist()
    return {label: checks.scores(true, [label] * len(true)) for label in data.LABELS}


def majority_floor() -> dict:
    """Scores of always answering the training split's largest class (medical)."""
    frame = checks.domain_frame()
    largest = frame.loc[frame["split"] == "train", "label"].value_counts().idxmax()
    return _constant_scores()[largest]


def check_majority(values, workdir):
    accuracy = checks.fraction(values["majority_accuracy"], "majority_accuracy")
    macro = checks.fraction(values["majority_macro_f1"], "majority_macro_f1")
    floor = majority_floor()
    if abs(accuracy - floor["accuracy"]) <= 1e-3 and abs(macro - floor["macro_f1"]) <= 1e-3:
        return None
    for label, got in _constant_scores().items():
        if got is not floor and abs(accuracy - got["accuracy"]) <= 1e-3:
            raise Wrong(f"those are the scores of always answering {label!r}; the floor is the "
                        "largest class of the training split (count the labels).")
    if abs(accuracy - floor["accuracy"]) > 1e-3:
        raise Wrong(f"majority_accuracy is {accuracy:.3f}; always answering the largest class is right "
                    "for exactly that class's share of the test split.")
    if abs(macro - floor["weighted_f1"]) <= 1e-3:
        raise Wrong("majority_macro_f1 is the weighted F1; macro-F1 gives each class the same weight.")
    raise Wrong(f"majority_macro_f1 is {macro:.3f}. Macro-F1 is the plain mean of the three classes' F1, "
                "and the two classes never predicted score 0.")


# ----------------------------------------------------------------------------- q2


def check_baseline(values, workdir):
    test = checks.test_frame()
    which = checks.validated_tfidf(values["best_c"], values["baseline_macro_f1"], test=test,
                                   trains=checks.training_splits(), validation=checks.validation_split(),
                                   c_name="best_c", f1_name="baseline_macro_f1")
    return f"C = {checks.number(values['best_c'], 'best_c'):g}, chosen on validation; trained on {which}."


# ----------------------------------------------------------------------------- q3

N_FROZEN = 2


def check_freeze(values, workdir):
    trainable = checks.number(values["n_trainable"], "n_trainable", whole=True, low=0)
    total = checks.number(values["n_total"], "n_total", whole=True, low=1)
    encoder = checks.encoder_by_total(total, "n_total")
    want = checks.parameter_counts(encoder, N_FROZEN)[0]
    if trainable == want:
        return None
    if trainable == total:
        raise Wrong("n_trainable equals n_total: nothing is frozen. Call freeze_layers(model, 2) first, "
                    "then count the parameters with requires_grad=True.")
    if trainable == total - want:
        raise Wrong("that is the number of frozen parameters; count those that still train "
                    "(requires_grad=True).")
    if trainable == checks.parameter_counts(encoder, N_FROZEN, embeddings=False)[0]:
        raise Wrong("you left the embeddings trainable; freeze_layers freezes them by default, as in "
                    "section 5 of the lesson.")
    n_layers = checks.parameter_counts(encoder, 0)[2]
    if trainable == checks.parameter_counts(encoder, n_layers)[0]:
        raise Wrong("you froze every layer; the question freezes the first 2.")
    raise Wrong(f"n_trainable is {trainable:,}; with the embeddings and the first {N_FROZEN} layers frozen, "
                f"{encoder} keeps {want:,} of its {total:,} parameters trainable.")


# ----------------------------------------------------------------------------- q4

PAD_TO, BATCH = 128, 16


@lru_cache(maxsize=None)
def _padding_counts() -> dict:
    """Tokens fed to the model for the test split, per tokenizer: padded to 128, or per batch."""
    texts = checks.test_frame()["text"].tolist()
    out = {}
    for name, tokenizer in checks.tokenizers().items():
        lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=PAD_TO)["input_ids"]]
        batches = [lengths[i:i + BATCH] for i in range(0, len(lengths), BATCH)]
        out[name] = {"fixed": PAD_TO * len(lengths),
                     "per_batch": sum(len(b) * max(b) for b in batches),
                     "real": sum(lengths)}
    return out


def check_padding(values, workdir):
    fixed = checks.number(values["tokens_padded_to_max"], "tokens_padded_to_max", whole=True, low=0)
    per_batch = checks.number(values["tokens_padded_per_batch"], "tokens_padded_per_batch", whole=True, low=0)
    counts = _padding_counts()
    first = next(iter(counts.values()))
    if fixed != first["fixed"]:
        raise Wrong(f"tokens_padded_to_max is {fixed:,}: padded to 128, every one of the "
                    f"{first['fixed'] // PAD_TO} test texts takes 128 positions.")
    for name, ref in counts.items():
        if per_batch == ref["per_batch"]:
            return None
        if per_batch == ref["real"]:
            raise Wrong("tokens_padded_per_batch counts the real tokens only; each batch is padded to "
                        "its longest text, so count len(batch) * longest length per batch.")
    raise Wrong(f"tokens_padded_per_batch is {per_batch:,}; with the bundled tokenizer, batches of "
                f"{BATCH} in the split's order and truncation at {PAD_TO} it is {first['per_batch']:,}.")


# ----------------------------------------------------------------------------- q5


def check_fine_tune(values, workdir):
    predicted = checks.labels_by_id(values["ft_predictions"], "ft_predictions")
    macro = checks.fraction(values["ft_macro_f1"], "ft_macro_f1")
    test = checks.test_frame()
    got = checks.scores(test["label"], [predicted[i] for i in test["id"]])
    if abs(macro - got["macro_f1"]) > 1e-3:
        hint = " (that is their accuracy)" if abs(macro - got["accuracy"]) <= 1e-3 else ""
        raise Wrong(f"ft_macro_f1 is {macro:.3f}{hint}, but your predictions score macro-F1 "
                    f"{got['macro_f1']:.3f} on the test split.")
    floor = majority_floor()["macro_f1"]
    if got["macro_f1"] <= floor:
        raise Wrong(f"the model scores macro-F1 {got['macro_f1']:.3f}, not above always answering "
                    f"'medical' ({floor:.3f}): it learned nothing. Did training run on splits['train'] "
                    "with the labels?")
    curve = checks.run_curve(values["ft_history"], "ft_history")
    checks.recipe_of(curve, "full", "ft_history", "fine_tune's default recipe (full fine-tuning's)")
    epochs_run = checks.number(values["epochs_run"], "epochs_run", whole=True, low=1)
    best_epoch = checks.number(values["best_epoch"], "best_epoch", whole=True, low=1)
    if epochs_run != curve.epochs_run:
        raise Wrong(f"epochs_run is {epochs_run}, but ft_history has validation scores for {curve.epochs_run} "
                    "epochs: count the rows with 'eval_macro_f1'.")
    if best_epoch != curve.best_epoch:
        last = " That is the last epoch; the model kept is the best one." if best_epoch == epochs_run else ""
        raise Wrong(f"best_epoch is {best_epoch}, but the first epoch with the highest validation macro-F1 in "
                    f"ft_history is {curve.best_epoch}: that is the one load_best_model_at_end keeps.{last}")
    patience = checks.method_recipes("full")["a real model such as DistilBERT"].patience
    caps = {r.max_epochs for r in checks.method_recipes("full").values()}
    if curve.stopped_early(patience):
        return (f"macro-F1 {got['macro_f1']:.3f}; validation stopped improving after epoch {best_epoch} and early "
                f"stopping ended the run {patience} epochs later: it converged.")
    if epochs_run in caps:
        return (f"macro-F1 {got['macro_f1']:.3f}; the run reached its epoch cap ({epochs_run}) with validation "
                "still improving: it is under-trained, so its score says less.")
    raise Wrong(f"the run ended after {epochs_run} epochs, {epochs_run - best_epoch} after its best: neither early "
                f"stopping (it waits {patience} epochs without improvement) nor the recipe's epoch cap ended it. "
                "Train with fine_tune's default recipe: no num_train_epochs.")


# Raise when a question changes what it asks, its variables or its check: notebooks record the
# version they were made for, and the grader warns about a submission made for another one.
VERSION = 2

QUESTIONS = QuestionSet("ex02", "Exercise 02 · Baselines, freezing and fine-tuning", [
    Question(
        "q1", "What do accuracy and macro-F1 on the test split come to if the model always answers the "
              "training split's largest class? Set `majority_accuracy` and `majority_macro_f1`.",
        ("majority_accuracy", "majority_macro_f1"), check_majority,
        hints=("Count the labels of splits['train'] to find its largest class, then predict that class for "
               "every test text.",
               "`classification_metrics(y_test, predictions)` returns both scores.")),
    Question(
        "q2", "Choose the TF-IDF baseline's `C` on the validation split, as lesson 02 does: set `best_c` (the "
              "value of C_GRID with the highest validation macro-F1; ties: the smaller) and `baseline_macro_f1` "
              "(the test macro-F1 of `tfidf_model(best_c)` trained on splits['train']).",
        ("best_c", "baseline_macro_f1"), check_baseline, points=2,
        hints=("Never look at the test split to choose: fit `tfidf_model(c)` on the training texts for each c in "
               "C_GRID and score each on splits['validation'].",
               "Scan C_GRID in increasing order and keep a C only if it beats the best so far: a tie keeps the "
               "smaller C, the stronger regularisation.",
               "`choose_c(tfidf_model, train_texts, train_labels, val_texts, val_labels)` does the scan: `.c` is "
               "the choice, `.model` the model refitted with it.")),
    Question(
        "q3", "Freeze the embeddings and the first 2 layers of a fresh classifier. Set `n_trainable` "
              "(parameters that still train) and `n_total`.",
        ("n_trainable", "n_total"), check_freeze,
        hints=("`freeze_layers(model, 2)` does the freezing and returns a report.",
               "Count with `sum(p.numel() for p in model.parameters() if p.requires_grad)`.")),
    Question(
        "q4", "How many token positions does the test split fill, in batches of 16 in its order, padded "
              "to 128 and padded per batch? Set `tokens_padded_to_max` and `tokens_padded_per_batch`.",
        ("tokens_padded_to_max", "tokens_padded_per_batch"), check_padding,
        hints=("`encoded['test']['input_ids']` holds each text's ids, already truncated at 128.",
               "A batch padded to its longest text fills len(batch) * max(lengths in it) positions.")),
    Question(
        "q5", "Fine-tune a fresh classifier with `fine_tune`'s default recipe (lesson 02's full fine-tuning: "
              "until validation macro-F1 stops improving) and predict the test split. Set `ft_history` (the "
              "log history), `epochs_run`, `best_epoch` (the epoch kept), `ft_predictions` (one label id per "
              "test text) and `ft_macro_f1`.",
        ("ft_predictions", "ft_macro_f1", "ft_history", "epochs_run", "best_epoch"), check_fine_tune, points=2,
        hints=("Pass fine_tune no num_train_epochs or learning_rate: its defaults are the lesson's recipe, and "
               "it stops when validation has not improved for 3 epochs.",
               "`result.history` has one row with 'eval_macro_f1' per epoch: count them, and find the first "
               "epoch with the highest score.",
               "`result.trainer.predict(encoded['test']).predictions.argmax(-1)` gives the label ids.")),
], version=VERSION)

bind = QUESTIONS.bind
