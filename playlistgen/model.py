"""The generator: a T5 encoder-decoder built from a small config (no pretrained weights, no download)."""
from __future__ import annotations

from transformers import T5Config, T5ForConditionalGeneration


def build_model(vocab_size: int, pad_id: int, eos_id: int, d_model: int, num_layers: int, num_decoder_layers: int,
                num_heads: int, d_kv: int, d_ff: int, dropout: float, seed: int) -> T5ForConditionalGeneration:
    import torch

    if num_decoder_layers != num_layers:
        # transformers 5.x sizes the generation cache of encoder-decoder models from the encoder's layer count.
        raise ValueError(f"train.num_decoder_layers ({num_decoder_layers}) must equal train.num_layers ({num_layers}).")
    config = T5Config(
        vocab_size=vocab_size, d_model=d_model, d_kv=d_kv, d_ff=d_ff, num_layers=num_layers,
        num_decoder_layers=num_decoder_layers, num_heads=num_heads, dropout_rate=dropout,
        feed_forward_proj="gated-gelu",  # T5 v1.1 FFN: better than ReLU at this size
        tie_word_embeddings=False,
        pad_token_id=pad_id, eos_token_id=eos_id, decoder_start_token_id=pad_id,
    )
    torch.manual_seed(seed)
    return T5ForConditionalGeneration(config)


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())
