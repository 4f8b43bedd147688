"""One tokenizer for titles and cluster codes: byte-level BPE trained on the training titles (any language), plus
one added token per (level, code value), e.g. `<a_12>` for code 12 at level 0.

Byte-level pre-tokenisation keeps every title encodable (Chinese, emoji, typos) and decodes text as written;
code tokens are added after training so that they occupy one contiguous id range: id = offset + level*K + code.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from playlistgen.ids.clusters import cluster_key, parse_cluster_key

PAD, EOS, UNK = "<pad>", "</s>", "<unk>"
LEVEL_LETTERS = "abcdefghijklmnop"


def code_token(level: int, code: int) -> str:
    return f"<{LEVEL_LETTERS[level]}_{code}>"


def train_tokenizer(titles: list[str], vocab_size: int, num_levels: int, codebook_size: int) -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=[PAD, EOS, UNK], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(titles, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, eos_token=EOS, unk_token=UNK)
    codes = [code_token(level, c) for level in range(num_levels) for c in range(codebook_size)]
    fast.add_tokens(codes, special_tokens=True)
    return fast


@dataclass
class CodeVocab:
    """Maps cluster code tuples to token ids and back; cluster keys are codes joined by '-'."""

    offset: int          # token id of code 0 at level 0
    num_levels: int      # codes per cluster id
    codebook_size: int
    eos_id: int
    pad_id: int

    @classmethod
    def from_tokenizer(cls, tokenizer: PreTrainedTokenizerFast, num_levels: int, codebook_size: int) -> "CodeVocab":
        ids = tokenizer.convert_tokens_to_ids([code_token(l, c) for l in range(num_levels) for c in range(codebook_size)])
        offset = ids[0]
        if ids != list(range(offset, offset + len(ids))):
            raise ValueError("code tokens are not contiguous in the tokenizer; rebuild it with train_tokenizer.")
        return cls(offset, num_levels, codebook_size, tokenizer.eos_token_id, tokenizer.pad_token_id)

    def cluster_to_ids(self, key: str) -> list[int]:
        codes = parse_cluster_key(key)
        return [self.offset + level * self.codebook_size + c for level, c in enumerate(codes)]

    def encode_clusters(self, keys: list[str]) -> list[int]:
        """Target ids: the clusters' code tokens in order, then EOS."""
        return [i for key in keys for i in self.cluster_to_ids(key)] + [self.eos_id]

    def decode_clusters(self, token_ids: list[int]) -> tuple[list[str], int]:
        """Generated ids (without the decoder start token) -> (cluster keys, number of invalid tuples).

        Reading stops at EOS (or at a pad, which before EOS counts as invalid). A token that is not a code of the expected level (possible only in
        unconstrained decoding) makes the tuple it falls in invalid; an unfinished last tuple is invalid too.
        """
        keys, current, invalid = [], [], 0
        for t in token_ids:
            if t == self.eos_id:
                break
            if t == self.pad_id:  # pad before EOS: the model chose padding, not a cluster
                invalid += 1
                break
            code = t - self.offset - len(current) * self.codebook_size
            if not 0 <= code < self.codebook_size:
                invalid += 1
                current = []
                continue
            current.append(code)
            if len(current) == self.num_levels:
                keys.append(cluster_key(current))
                current = []
        return keys, invalid + (1 if current else 0)


def save_tokenizer(tokenizer: PreTrainedTokenizerFast, directory: str | Path) -> None:
    tokenizer.save_pretrained(str(directory))


def load_tokenizer(directory: str | Path) -> PreTrainedTokenizerFast:
    return PreTrainedTokenizerFast.from_pretrained(str(directory))
