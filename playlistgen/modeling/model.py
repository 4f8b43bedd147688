"""The generator: a T5 encoder-decoder built from a small config (no download). With `title_state_dim`, its encoder
reads a pretrained sentence encoder's token states of the title (title_encoder.py), projected to d_model, followed
by the title's own BPE tokens; the decoder cross-attends to both."""
from __future__ import annotations

import torch
from torch import nn
from transformers import T5Config, T5ForConditionalGeneration
from transformers.modeling_outputs import BaseModelOutput


class TitleT5(T5ForConditionalGeneration):
    """T5ForConditionalGeneration whose encoder input may start with projected pretrained title states.

    forward/encode take `title_states` (B, S_t, D) and `title_mask` (B, S_t) beside the BPE `input_ids` (B, S);
    the encoder sees [proj(title_states); embed(input_ids)] of length S_t + S. Without `title_state_dim` in the
    config it is a plain T5 (a checkpoint of one loads as the other).

    With `pack_title_inputs` in the config (every model built now) each row is packed as [its title states, its
    tokens, padding]: T5's relative positions then see the same distances whatever the other titles of a batch are,
    so a title gets the same answer alone, in an evaluation batch or in a server micro-batch. Models saved before
    the flag keep the old layout (the padding of the title states sits between the two parts)."""

    def __init__(self, config: T5Config):
        super().__init__(config)
        dim = getattr(config, "title_state_dim", 0) or 0
        self.title_proj = nn.Linear(dim, config.d_model) if dim else None
        self.pack_inputs = bool(getattr(config, "pack_title_inputs", False))

    def encoder_inputs(self, input_ids, attention_mask, title_states=None, title_mask=None):
        embeds = self.shared(input_ids)                                          # (B, S, d_model)
        if self.title_proj is None or title_states is None:
            return embeds, attention_mask
        projected = self.title_proj(title_states.to(embeds.dtype))               # (B, S_t, d_model)
        embeds = torch.cat([projected, embeds], 1)
        mask = torch.cat([title_mask.to(attention_mask.dtype), attention_mask], 1)
        if self.pack_inputs:
            embeds, mask = pack_rows(embeds, mask)
        return embeds, mask

    def encode(self, input_ids, attention_mask, title_states=None, title_mask=None):
        """(encoder outputs, their attention mask): what `generate(encoder_outputs=..., attention_mask=...)` takes."""
        embeds, mask = self.encoder_inputs(input_ids, attention_mask, title_states, title_mask)
        hidden = self.encoder(inputs_embeds=embeds, attention_mask=mask).last_hidden_state
        return BaseModelOutput(last_hidden_state=hidden), mask

    def forward(self, input_ids=None, attention_mask=None, decoder_input_ids=None, decoder_attention_mask=None,
                encoder_outputs=None, past_key_values=None, labels=None, title_states=None, title_mask=None,
                **kwargs):
        # the named arguments are those generate() checks its keyword arguments against
        if encoder_outputs is None and input_ids is not None:
            embeds, attention_mask = self.encoder_inputs(input_ids, attention_mask, title_states, title_mask)
            return super().forward(inputs_embeds=embeds, attention_mask=attention_mask,
                                   decoder_input_ids=decoder_input_ids, decoder_attention_mask=decoder_attention_mask,
                                   past_key_values=past_key_values, labels=labels, **kwargs)
        return super().forward(input_ids=input_ids, attention_mask=attention_mask, decoder_input_ids=decoder_input_ids,
                               decoder_attention_mask=decoder_attention_mask, encoder_outputs=encoder_outputs,
                               past_key_values=past_key_values, labels=labels, **kwargs)


def pack_rows(embeds, mask):
    """Each row's unmasked positions first, in their order, then its masked ones: (B, S, D), (B, S) -> same."""
    order = torch.sort((mask == 0).to(torch.int8), dim=1, stable=True).indices   # (B, S)
    gathered = torch.gather(embeds, 1, order.unsqueeze(-1).expand(-1, -1, embeds.size(-1)))
    return gathered, torch.gather(mask, 1, order)


FF_MULTIPLIER = 4  # d_ff = 4 x d_model, as T5 and most transformers size their feed-forward layers


def build_model(vocab_size: int, pad_id: int, eos_id: int, *, d_model: int, num_layers: int, num_heads: int,
                dropout: float, seed: int, title_state_dim: int = 0) -> TitleT5:
    """A T5 of `num_layers` encoder and as many decoder layers (transformers 5 sizes the generation cache of an
    encoder-decoder model by the encoder's layer count), per-head size d_model / num_heads and d_ff
    FF_MULTIPLIER x d_model: the derived sizes are computed here, not configured."""
    if d_model % num_heads:
        raise ValueError(f"train.d_model ({d_model}) must be a multiple of train.num_heads ({num_heads}).")
    config = T5Config(
        vocab_size=vocab_size, d_model=d_model, d_kv=d_model // num_heads, d_ff=FF_MULTIPLIER * d_model,
        num_layers=num_layers, num_decoder_layers=num_layers, num_heads=num_heads, dropout_rate=dropout,
        feed_forward_proj="gated-gelu",  # T5 v1.1 FFN: better than ReLU at this size
        tie_word_embeddings=False,
        pad_token_id=pad_id, eos_token_id=eos_id, decoder_start_token_id=pad_id,
        title_state_dim=title_state_dim, pack_title_inputs=bool(title_state_dim),
    )
    torch.manual_seed(seed)
    return TitleT5(config)


def load_model(directory) -> TitleT5:
    return TitleT5.from_pretrained(directory)


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())
