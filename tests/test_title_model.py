"""The generator reads pretrained title states beside its own BPE tokens; the title encoder keeps other scripts."""
import numpy as np
import pytest
import torch

from playlistgen.modeling.model import build_model, load_model
from playlistgen.modeling.title_encoder import STATE_DIM, TitleEncoder, pad_states


@pytest.fixture(scope="module")
def encoder():
    return TitleEncoder(max_tokens=16)


def test_states_and_sentence_vectors(encoder):
    states = encoder.states(["rainy sunday piano", "gym"])
    assert [s.shape for s in states] == [(5, STATE_DIM), (3, STATE_DIM)]  # [CLS] ... [SEP]
    vectors = encoder.sentence_vectors(["spooky halloween night", "halloween party", "deep focus study piano"])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]  # related wordings land near each other


def test_unknown_scripts_still_reach_the_model_through_bpe(encoder):
    """MiniLM maps most Chinese characters and emoji to [UNK]; the BPE half of the encoder input keeps them apart."""
    from playlistgen.modeling.tokenizer import train_tokenizer

    assert encoder.tokenizer.tokenize("🔥🔥🔥") == encoder.tokenizer.tokenize("💔💔💔") == ["[UNK]"]
    tok = train_tokenizer(["深夜学习", "🔥🔥🔥", "rainy piano"], 300, 2, 4)
    assert tok("🔥🔥🔥")["input_ids"] != tok("💔💔💔")["input_ids"]
    assert tok("深夜学习")["input_ids"] != tok("清晨跑步")["input_ids"]


def test_title_states_change_the_output_and_survive_save_load(tmp_path):
    model = build_model(60, 0, 1, d_model=32, num_layers=1, num_heads=2, dropout=0.0, seed=0,
                        title_state_dim=STATE_DIM).eval()
    ids = torch.tensor([[5, 6, 1], [7, 1, 0]])
    mask = (ids != 0).long()
    states, states_mask = pad_states([np.ones((4, STATE_DIM), np.float32), np.zeros((2, STATE_DIM), np.float32)])
    labels = torch.tensor([[10, 11, 1], [12, 1, -100]])
    with torch.no_grad():
        with_states = model(input_ids=ids, attention_mask=mask, title_states=states, title_mask=states_mask,
                            labels=labels).logits
        other = model(input_ids=ids, attention_mask=mask, title_states=states + 1, title_mask=states_mask,
                      labels=labels).logits
    assert not torch.allclose(with_states, other)
    model.save_pretrained(tmp_path)
    again = load_model(tmp_path).eval()
    enc, enc_mask = again.encode(ids, mask, states, states_mask)
    assert enc.last_hidden_state.shape == (2, 4 + 3, 32) and enc_mask.tolist()[1] == [1, 1, 1, 1, 0, 0, 0]  # packed
    out = again.generate(encoder_outputs=enc, attention_mask=enc_mask, num_beams=2, max_new_tokens=4,
                         decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
    with torch.no_grad():
        logits = again(input_ids=ids, attention_mask=mask, title_states=states, title_mask=states_mask,
                       labels=labels).logits
    assert torch.allclose(logits, with_states, atol=1e-6) and out.shape[0] == 2


def test_a_title_gets_the_same_scores_alone_and_in_a_batch():
    """Each encoder row is packed [title states, tokens, padding], so a shorter title in a batch sees the same
    relative positions as alone; a model saved before packing keeps its layout (padding between the two parts)."""
    model = build_model(60, 0, 1, d_model=32, num_layers=2, num_heads=2, dropout=0.0, seed=0,
                        title_state_dim=STATE_DIM).eval()
    rng = np.random.default_rng(0)
    rows = [rng.normal(size=(n, STATE_DIM)).astype(np.float32) for n in (7, 2)]
    ids = torch.tensor([[5, 6, 9, 1], [7, 1, 0, 0]])
    decoder = torch.tensor([[0, 10, 11], [0, 12, 13]])

    def logits(which, batch_ids, states):
        st, st_mask = pad_states(states)
        with torch.no_grad():
            out = model(input_ids=batch_ids, attention_mask=(batch_ids != 0).long(), title_states=st,
                        title_mask=st_mask, decoder_input_ids=decoder[which]).logits
        return out

    batched = logits([0, 1], ids, rows)
    alone = logits([1], ids[1:, :2], rows[1:])
    assert torch.allclose(batched[1], alone[0], atol=1e-5)
    model.pack_inputs = False  # the layout of models saved before packing
    old_batched, old_alone = logits([0, 1], ids, rows), logits([1], ids[1:, :2], rows[1:])
    assert not torch.allclose(old_batched[1], old_alone[0], atol=1e-5)
    assert torch.allclose(old_batched[0], batched[0], atol=1e-6)  # the longest row has no padding to move
