"""Build, and check, the two tiny pretrained models that the smoke profile uses offline.

The model Hub is out of reach in CI and in offline classrooms, and random-weight stand-ins
would make the lessons lie (a "pretrained" model that knows nothing cannot forget anything).
So the course ships two small models that were really pretrained on text every CPython
carries plus the course's own domain prose:

- ``tiny-distilbert``: a 6-layer DistilBERT-style encoder with an uncased WordPiece
  vocabulary, trained as a masked LM;
- ``tiny-gpt2``: a GPT-2 with a byte-level BPE vocabulary and no pad token, trained as a
  causal LM.

The build is deterministic (fixed seeds, fixed step counts, deterministic kernels, a fixed
thread count). The encoder reuses the shipped WordPiece vocabulary, because the ``tokenizers``
trainer does not give the same one twice (see :func:`encoder_tokenizer`). The build writes a
model card (JSON) next to each model with the corpus, the settings,
the held-out metrics and the build time::

    python -m course_utils.tiny_models build            # both, into the package
    python -m course_utils.tiny_models evaluate         # the gates, on the shipped models
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from course_utils import corpus
from course_utils.models import TINY_MODELS_DIR, parameter_count
from course_utils.profiles import seed_everything

SPECIAL_WORDPIECE = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
ENDOFTEXT = "<|endoftext|>"
BUILD_THREADS = 2  # CPU reductions can depend on the thread count; pin it for determinism


@dataclass(frozen=True)
class BuildSettings:
    """Everything that decides a tiny model's weights (recorded in its model card)."""

    vocab_size: int = 4096
    width: int = 128
    layers: int = 4
    heads: int = 4
    ffn: int = 512
    context: int = 512
    block: int = 128
    batch_size: int = 32
    steps: int = 1200
    peak_lr: float = 1e-3
    warmup_steps: int = 100
    weight_decay: float = 0.01
    domain_repeats: int = 3
    seed: int = 0


GPT2_SETTINGS = BuildSettings(layers=4, steps=900, peak_lr=2e-3)
ENCODER_SETTINGS = BuildSettings(layers=6, steps=2700, peak_lr=1e-3, warmup_steps=100)


# ---------------------------------------------------------------------------- tokenizers


def train_wordpiece(texts: list[str], vocab_size: int):
    """An uncased WordPiece tokenizer (BERT's normalisation and pre-tokenisation)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from tokenizers import trainers
    from transformers import DistilBertTokenizer

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator(
        texts, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_WORDPIECE)
    )
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return DistilBertTokenizer(tokenizer_object=tok, model_max_length=512)


def encoder_tokenizer(texts: list[str], vocab_size: int, *, new_vocabulary: bool = False):
    """The encoder's WordPiece tokenizer: the shipped one when the package has it, else a new one.

    ``tokenizers``' WordPiece trainer numbers its ``##`` pieces in hash-map order, which changes
    from one process to the next (huggingface/tokenizers#1794), and the ids then break ties
    between merges: two trainings on the same text give slightly different vocabularies. Reusing
    the shipped vocabulary makes a rebuild reproduce the shipped weights; ``new_vocabulary=True``
    (``--new-vocabulary``) trains one anyway, for a new corpus or vocabulary size.

    >>> from transformers import AutoTokenizer
    >>> from course_utils import models
    >>> tok = encoder_tokenizer([], 4096)  # the shipped vocabulary: no text needed
    >>> len(tok) == AutoTokenizer.from_pretrained(models.TINY_ENCODER).vocab_size
    True
    """
    from tokenizers import Tokenizer
    from transformers import DistilBertTokenizer

    shipped = Path(TINY_MODELS_DIR) / "tiny-distilbert" / "tokenizer.json"
    if not new_vocabulary and shipped.exists():
        # wrapped as train_wordpiece wraps a new one, so the saved file is byte for byte the shipped one
        tok = DistilBertTokenizer(tokenizer_object=Tokenizer.from_file(str(shipped)), model_max_length=512)
        if tok.vocab_size != vocab_size:
            raise ValueError(f"The shipped vocabulary has {tok.vocab_size} entries, the settings ask for {vocab_size}: "
                             "pass --new-vocabulary to train one of that size.")
        return tok
    return train_wordpiece(texts, vocab_size)


def train_bytelevel_bpe(texts: list[str], vocab_size: int):
    """A GPT-2-style byte-level BPE tokenizer; like GPT-2's, it has no pad token."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Tokenizer

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(
        texts,
        trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=[ENDOFTEXT],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    return GPT2Tokenizer(
        tokenizer_object=tok,
        bos_token=ENDOFTEXT,
        eos_token=ENDOFTEXT,
        unk_token=ENDOFTEXT,
        model_max_length=512,
    )


# ---------------------------------------------------------------------------- models


def gpt2_config(s: BuildSettings, tokenizer):
    from transformers import GPT2Config

    return GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=s.context,
        n_embd=s.width,
        n_layer=s.layers,
        n_head=s.heads,
        n_inner=s.ffn,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )


def encoder_config(s: BuildSettings, tokenizer):
    from transformers import DistilBertConfig

    return DistilBertConfig(
        vocab_size=len(tokenizer),
        max_position_embeddings=s.context,
        dim=s.width,
        n_layers=s.layers,
        n_heads=s.heads,
        hidden_dim=s.ffn,
        pad_token_id=tokenizer.pad_token_id,
    )


def _blocks(tokenizer, texts: list[str], block: int, separator: int, wrap: tuple[int, int] | None):
    """Token ids of all texts as one stream, each text ended by ``separator``, cut into rows of
    ``block`` tokens (with ``wrap``'s first and last id around each row); a last partial row is
    dropped."""
    from course_utils.forgetting import token_stream

    stream = token_stream(tokenizer, texts, separator) + [separator]
    body = block - (2 if wrap else 0)
    rows = [stream[i : i + body] for i in range(0, len(stream) - body + 1, body)]
    if wrap:
        rows = [[wrap[0], *r, wrap[1]] for r in rows]
    return torch.tensor(rows, dtype=torch.long)


def _mask_for_mlm(ids: torch.Tensor, tokenizer, generator: torch.Generator):
    """BERT's recipe: 15 % of positions predicted; of those 80 % [MASK], 10 % random, 10 % kept."""
    labels = ids.clone()
    special = (ids == tokenizer.cls_token_id) | (ids == tokenizer.sep_token_id)
    chosen = (torch.rand(ids.shape, generator=generator) < 0.15) & ~special
    labels[~chosen] = -100
    inputs = ids.clone()
    roll = torch.rand(ids.shape, generator=generator)
    inputs[chosen & (roll < 0.8)] = tokenizer.mask_token_id
    random_ids = torch.randint(len(tokenizer), ids.shape, generator=generator)
    swap = chosen & (roll >= 0.8) & (roll < 0.9)
    inputs[swap] = random_ids[swap]
    return inputs, labels


def _lr_at(step: int, s: BuildSettings) -> float:
    """Learning rate of optimizer step ``step`` (0-based): linear warmup that reaches the peak at
    the last warmup step, then a cosine to zero.

    Written out rather than taken from transformers on purpose: the shipped weights were trained
    with it, and no transformers schedule gives the same rate at every step, so any of them would
    rebuild other weights. ``get_cosine_schedule_with_warmup`` starts its warmup at 0, one step
    behind this one; ``get_cosine_with_min_lr_schedule_with_warmup_lr_rate`` warms up like this
    one but runs its cosine one step ahead. A test compares them on the real builds' steps.
    """
    if step < s.warmup_steps:
        return s.peak_lr * (step + 1) / s.warmup_steps
    progress = (step - s.warmup_steps) / max(1, s.steps - s.warmup_steps)
    return s.peak_lr * 0.5 * (1 + math.cos(math.pi * progress))


def _pretrain(model, data: torch.Tensor, s: BuildSettings, make_batch, log_every: int = 100):
    generator = torch.Generator().manual_seed(s.seed)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": s.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=s.peak_lr,
        betas=(0.9, 0.98),
    )
    model.train()
    order = torch.randperm(len(data), generator=generator)
    cursor = 0
    history = []
    for step in range(s.steps):
        if cursor + s.batch_size > len(order):
            order, cursor = torch.randperm(len(data), generator=generator), 0
        batch = data[order[cursor : cursor + s.batch_size]]
        cursor += s.batch_size
        for group in optimizer.param_groups:
            group["lr"] = _lr_at(step, s)
        loss = model(**make_batch(batch, generator)).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step % log_every == 0 or step == s.steps - 1:
            history.append({"step": step, "loss": round(loss.item(), 4)})
            print(f"  step {step:5d}  loss {loss.item():.3f}", flush=True)
    model.eval()
    return history


# ---------------------------------------------------------------------------- evaluation


def probe_accuracy(features: np.ndarray, labels: list[str], seed: int = 0) -> float:
    """Held-out accuracy of a logistic regression on fixed features (70/30 stratified split)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x_tr, x_te, y_tr, y_te = train_test_split(
        features, labels, test_size=0.3, random_state=seed, stratify=labels
    )
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, C=0.5))
    probe.fit(x_tr, y_tr)
    return float(probe.score(x_te, y_te))


def tfidf_probe_accuracy(texts: list[str], labels: list[str], seed: int = 0) -> float:
    """The same split and classifier on TF-IDF features: the keyword baseline."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    x_tr, x_te, y_tr, y_te = train_test_split(
        texts, labels, test_size=0.3, random_state=seed, stratify=labels
    )
    vec = TfidfVectorizer(sublinear_tf=True, min_df=2)
    clf = LogisticRegression(max_iter=3000)
    clf.fit(vec.fit_transform(x_tr), y_tr)
    return float(clf.score(vec.transform(x_te), y_te))


def _random_twin(model, seed: int = 0):
    """The same architecture with freshly initialised weights: what pretraining is compared to."""
    from transformers import AutoModelForCausalLM, AutoModelForMaskedLM

    torch.manual_seed(seed)
    cls = AutoModelForCausalLM if model.config.model_type == "gpt2" else AutoModelForMaskedLM
    return cls.from_config(model.config).eval()


def evaluate_gpt2(path: str | Path) -> dict:
    """Held-out general-text and domain perplexity of the tiny GPT-2, and of random weights."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from course_utils.forgetting import perplexity

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path).eval()
    general = corpus.general_text("heldout")
    return {
        "heldout_general_perplexity": round(perplexity(model, tok, general, window=128), 2),
        "random_weights_general_perplexity": round(perplexity(_random_twin(model), tok, general, window=128), 2),
        "parameters": parameter_count(model),
    }


def evaluate_encoder(path: str | Path) -> dict:
    """Held-out masked-LM loss and the probe scores of the tiny encoder against random weights."""
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    from course_utils.classifier import mean_pooled_features
    from course_utils.forgetting import masked_lm_loss

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForMaskedLM.from_pretrained(path).eval()
    twin = _random_twin(model)
    general = corpus.general_text("heldout")
    texts, families = corpus.probe_task()
    return {
        "heldout_general_mlm_loss": round(masked_lm_loss(model, tok, general), 4),
        "random_weights_general_mlm_loss": round(masked_lm_loss(twin, tok, general), 4),
        "probe_accuracy": round(probe_accuracy(mean_pooled_features(model, tok, texts), families), 4),
        "random_weights_probe_accuracy": round(
            probe_accuracy(mean_pooled_features(twin, tok, texts), families), 4
        ),
        "tfidf_probe_accuracy": round(tfidf_probe_accuracy(texts, families), 4),
        "probe_task": f"{len(texts)} docstrings of {', '.join(corpus.PROBE_FAMILIES)}; "
        "70/30 stratified split; logistic regression on mean-pooled features",
        "parameters": parameter_count(model),
    }


# ---------------------------------------------------------------------------- build


def _corpus_description(texts: list[str], s: BuildSettings) -> dict:
    return {
        "sources": [
            "pydoc_data.topics (Python language reference), minus the held-out topics "
            + ", ".join(corpus.HELD_OUT_TOPICS),
            "standard-library docstrings (parsed with ast), minus the families "
            + ", ".join(corpus.PROBE_FAMILIES),
            f"the course's unlabeled domain prose (medical, finance, legal), repeated {s.domain_repeats}x",
        ],
        "paragraphs": len(texts),
        "characters": sum(len(t) for t in texts),
        "python": platform.python_version(),
    }


def _write_card(out: Path, card: dict) -> None:
    (out / "model_card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    for path in out.iterdir():  # safetensors writes 0600; a shared install must be readable
        path.chmod(0o644)


LICENSE = "CC-BY-4.0 (weights trained by this course from the sources above; see LICENSE)"


def _save_with_card(out: Path, model, tok, *, name: str, architecture: str, stands_in_for: str,
                    s: BuildSettings, texts: list[str], history: list, start: float, metrics) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    card = {
        "name": name,
        "architecture": architecture,
        "stands_in_for": stands_in_for,
        "settings": asdict(s),
        "corpus": _corpus_description(texts, s),
        "training_tokens": int(s.steps * s.batch_size * s.block),
        "loss_history": history,
        "build_seconds": round(time.perf_counter() - start, 1),
        "build_threads": BUILD_THREADS,
        "metrics": metrics(out) if metrics else {},
        "license": LICENSE,
    }
    _write_card(out, card)
    return card


def build_gpt2(out: Path, s: BuildSettings = GPT2_SETTINGS, evaluate: bool = True) -> dict:
    from transformers import GPT2LMHeadModel

    start = time.perf_counter()
    seed_everything(s.seed)
    texts = corpus.pretraining_corpus(s.domain_repeats)
    tok = train_bytelevel_bpe(texts, s.vocab_size)
    data = _blocks(tok, texts, s.block, tok.eos_token_id, wrap=None)
    print(f"tiny-gpt2: {len(data)} blocks of {s.block} tokens", flush=True)
    seed_everything(s.seed)
    model = GPT2LMHeadModel(gpt2_config(s, tok))
    history = _pretrain(model, data, s, lambda b, g: {"input_ids": b, "labels": b})
    return _save_with_card(out, model, tok, name="tiny-gpt2", stands_in_for="gpt2",
                           architecture="GPT-2 (GPT2LMHeadModel), byte-level BPE, no pad token",
                           s=s, texts=texts, history=history, start=start,
                           metrics=evaluate_gpt2 if evaluate else None)


def build_encoder(out: Path, s: BuildSettings = ENCODER_SETTINGS, evaluate: bool = True,
                  new_vocabulary: bool = False) -> dict:
    from transformers import DistilBertForMaskedLM

    start = time.perf_counter()
    seed_everything(s.seed)
    texts = corpus.pretraining_corpus(s.domain_repeats)
    tok = encoder_tokenizer(texts, s.vocab_size, new_vocabulary=new_vocabulary)
    data = _blocks(tok, texts, s.block, tok.sep_token_id, wrap=(tok.cls_token_id, tok.sep_token_id))
    print(f"tiny-distilbert: {len(data)} blocks of {s.block} tokens", flush=True)
    seed_everything(s.seed)
    model = DistilBertForMaskedLM(encoder_config(s, tok))

    def make_batch(batch, generator):
        inputs, labels = _mask_for_mlm(batch, tok, generator)
        return {"input_ids": inputs, "labels": labels}

    history = _pretrain(model, data, s, make_batch)
    return _save_with_card(out, model, tok, name="tiny-distilbert", stands_in_for="distilbert-base-uncased",
                           architecture="DistilBERT (DistilBertForMaskedLM), uncased WordPiece",
                           s=s, texts=texts, history=history, start=start,
                           metrics=evaluate_encoder if evaluate else None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.tiny_models", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["build", "evaluate"])
    parser.add_argument("--which", choices=["both", "gpt2", "encoder"], default="both")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder that receives tiny-gpt2/ and tiny-distilbert/ (default: the package)")
    parser.add_argument("--steps", type=int, default=None, help="override the step count (for quick trials)")
    parser.add_argument("--new-vocabulary", action="store_true",
                        help="train a new WordPiece vocabulary for the encoder instead of reusing the shipped one")
    args = parser.parse_args(argv)
    out = args.out or Path(TINY_MODELS_DIR)
    torch.set_num_threads(BUILD_THREADS)
    torch.use_deterministic_algorithms(True)
    jobs = {"gpt2": (build_gpt2, evaluate_gpt2, GPT2_SETTINGS, "tiny-gpt2"),
            "encoder": (build_encoder, evaluate_encoder, ENCODER_SETTINGS, "tiny-distilbert")}
    for key, (build, evaluate, settings, folder) in jobs.items():
        if args.which not in ("both", key):
            continue
        if args.action == "evaluate":
            print(folder, json.dumps(evaluate(out / folder), indent=2))
            continue
        if args.steps is not None:
            settings = BuildSettings(**{**asdict(settings), "steps": args.steps,
                                        "warmup_steps": min(settings.warmup_steps, max(1, args.steps // 10))})
        extra = {"new_vocabulary": args.new_vocabulary} if key == "encoder" else {}
        card = build(out / folder, settings, **extra)
        print(folder, f"built in {card['build_seconds']} s:", json.dumps(card["metrics"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
