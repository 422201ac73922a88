"""Small randomly initialised models of each architecture a learner may bring, saved to a folder
with a tokenizer trained here on the bundled texts: what ``tests/test_any_model.py`` runs the
lessons' code paths on, offline, in seconds.

Each folder is what ``model.save_pretrained(folder)`` and ``tokenizer.save_pretrained(folder)``
write for a real model, so the course loads it through the same ``from_pretrained`` calls:

- ``bert``: ``BertForMaskedLM`` with an uncased WordPiece ``BertTokenizer``;
- ``roberta``: ``RobertaForMaskedLM`` with a byte-level BPE tokenizer (``<s>``, ``<pad>``, ``</s>``,
  ``<unk>``, ``<mask>`` at ids 0 to 4, as RoBERTa's). RoBERTa numbers its positions from
  ``pad_token_id + 1``, so ``max_position_embeddings`` is the context plus 2, as in ``roberta-base``
  (514 for 512 tokens);
- ``distilbert``: ``DistilBertForMaskedLM`` with its own WordPiece tokenizer;
- ``gpt2``: ``GPT2LMHeadModel`` with a byte-level BPE tokenizer and no pad token, as GPT-2's.

>>> import tempfile
>>> folder = build("gpt2", tempfile.mkdtemp())
>>> from transformers import AutoConfig, AutoTokenizer
>>> AutoConfig.from_pretrained(folder).n_positions, AutoTokenizer.from_pretrained(folder).pad_token is None
(128, True)
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

CONTEXT = 128  # tokens one sequence may hold: the smoke profile's max_length
VOCAB = 500
KINDS = ("bert", "roberta", "distilbert", "gpt2")
ENCODERS = ("bert", "roberta", "distilbert")
SIZE = dict(hidden=32, layers=2, heads=2, ffn=64)


@lru_cache(maxsize=1)
def bundled_texts() -> tuple[str, ...]:
    """The course's own texts (the domain splits and the instruction records) to train the
    tokenizers on, so that the lessons' texts tokenize as a real model's would: mostly into words."""
    from course_utils import data

    records = data.load_instructions()
    texts = list(data.load_domain_frame()["text"])
    for column in ("instruction", "input", "output"):
        texts += [t for t in records[column] if t]
    return tuple(texts)


def wordpiece_tokenizer(tokenizer_class):
    """An uncased WordPiece tokenizer of ``tokenizer_class`` (``BertTokenizer`` or
    ``DistilBertTokenizer``), its vocabulary trained on the bundled texts."""
    from course_utils.tiny_models import train_wordpiece

    trained = train_wordpiece(list(bundled_texts()), VOCAB)  # the tiny encoder's recipe, a small vocabulary
    return tokenizer_class(tokenizer_object=trained.backend_tokenizer, model_max_length=CONTEXT)


def roberta_tokenizer():
    """A byte-level BPE tokenizer with RoBERTa's special tokens and its ``<s> ... </s>`` wrapping."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import RobertaTokenizer

    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]  # roberta-base's ids 0 to 4
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(bundled_texts(), trainers.BpeTrainer(
        vocab_size=VOCAB, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), trim_offsets=True,
                                                      add_prefix_space=False)
    return RobertaTokenizer(tokenizer_object=tok, model_max_length=CONTEXT)


def gpt2_tokenizer():
    """GPT-2's kind of tokenizer: byte-level BPE, ``<|endoftext|>`` as BOS, EOS and UNK, no pad token."""
    from course_utils.tiny_models import train_bytelevel_bpe

    tok = train_bytelevel_bpe(list(bundled_texts()), VOCAB)
    tok.model_max_length = CONTEXT
    return tok


def build_model(kind: str, tokenizer):
    """A randomly initialised model of ``kind`` sized for ``tokenizer``, seeded so every build is the same."""
    import torch
    from transformers import (BertConfig, BertForMaskedLM, DistilBertConfig, DistilBertForMaskedLM, GPT2Config,
                              GPT2LMHeadModel, RobertaConfig, RobertaForMaskedLM)

    # Not seed 0: new_classifier(pretrained=False) draws its random control with seed 0, and the
    # "pretrained" weights must differ from it, as a real model's do.
    torch.manual_seed(1)
    h, n, a, f = SIZE["hidden"], SIZE["layers"], SIZE["heads"], SIZE["ffn"]
    vocab = len(tokenizer)
    if kind == "bert":
        return BertForMaskedLM(BertConfig(
            vocab_size=vocab, hidden_size=h, num_hidden_layers=n, num_attention_heads=a, intermediate_size=f,
            max_position_embeddings=CONTEXT, pad_token_id=tokenizer.pad_token_id))
    if kind == "roberta":
        # positions pad_token_id + 1 .. pad_token_id + CONTEXT: two rows more than the context
        return RobertaForMaskedLM(RobertaConfig(
            vocab_size=vocab, hidden_size=h, num_hidden_layers=n, num_attention_heads=a, intermediate_size=f,
            max_position_embeddings=CONTEXT + tokenizer.pad_token_id + 1, type_vocab_size=1,
            pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id))
    if kind == "distilbert":
        return DistilBertForMaskedLM(DistilBertConfig(
            vocab_size=vocab, dim=h, n_layers=n, n_heads=a, hidden_dim=f, max_position_embeddings=CONTEXT,
            pad_token_id=tokenizer.pad_token_id))
    if kind == "gpt2":
        return GPT2LMHeadModel(GPT2Config(
            vocab_size=vocab, n_positions=CONTEXT, n_embd=h, n_layer=n, n_head=a, n_inner=f,
            bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id))
    raise ValueError(f"Unknown kind {kind!r}; choose one of {KINDS}.")


def tokenizer_for(kind: str):
    from transformers import BertTokenizer, DistilBertTokenizer

    if kind == "bert":
        return wordpiece_tokenizer(BertTokenizer)
    if kind == "distilbert":
        return wordpiece_tokenizer(DistilBertTokenizer)
    if kind == "roberta":
        return roberta_tokenizer()
    if kind == "gpt2":
        return gpt2_tokenizer()
    raise ValueError(f"Unknown kind {kind!r}; choose one of {KINDS}.")


def build(kind: str, root) -> str:
    """Build the ``kind`` model and its tokenizer and save both to ``root/kind``; returns that folder."""
    folder = Path(root) / kind
    tokenizer = tokenizer_for(kind)
    build_model(kind, tokenizer).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)
