import math

import pytest
import torch
from accelerate import Accelerator

from playlistgen.data.corpus import Example
from playlistgen.modeling.model import build_model
from playlistgen.modeling.tokenizer import CodeVocab, train_tokenizer
from playlistgen.modeling.batches import BucketBatchSampler, collate, encode_examples
from playlistgen.modeling.train import TrainConfig, lr_lambda, train_model


def test_bucket_sampler_covers_each_example_once_and_groups_lengths():
    lengths = [1, 50, 2, 49, 3, 48, 4, 47] * 25
    sampler = BucketBatchSampler(lengths, batch_size=8, seed=0, window=50)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(200))
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) / len(batches)
    assert spread < 10  # random batches would span ~48
    sampler.set_epoch(1)
    assert list(sampler) != batches


def test_collate_pads_and_masks_labels():
    class E:
        def __init__(self, s, t):
            self.source, self.target = s, t

    batch = collate([E([5, 6, 1], [9, 1]), E([7, 1], [9, 9, 9, 1])], pad_id=0)
    assert batch["input_ids"].tolist() == [[5, 6, 1], [7, 1, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert batch["labels"].tolist() == [[9, 1, -100, -100], [9, 9, 9, 1]]


def test_schedule_warms_up_then_decays_to_floor():
    f = lr_lambda(10, 110, "cosine", 0.1)
    assert f(0) == 0.1 and f(9) == 1.0
    assert math.isclose(f(110), 0.1) and f(60) < f(20)


def tiny_run(titles: dict, copies: int, d_model: int, **config):
    """(tokenizer, vocab, encoded examples, a 1+1-layer T5 of width d_model, a TrainConfig with `config`) for titles -> clusters
    repeated `copies` times."""
    examples = [Example(f"p{i}", t, c, ["s"]) for i, (t, c) in enumerate(list(titles.items()) * copies)]
    tok = train_tokenizer(list(titles), vocab_size=100, num_levels=2, codebook_size=3)
    vocab = CodeVocab.from_tokenizer(tok, 2, 3)
    data = encode_examples(examples, tok, vocab, max_source_tokens=16)
    model = build_model(len(tok), vocab.pad_id, vocab.eos_id, d_model=d_model, num_layers=1, num_heads=2, dropout=0.0,
                        seed=0)
    cfg = TrainConfig(**{"lr": 5e-3, "weight_decay": 0.0, "warmup_share": 0.1, "schedule": "cosine",
                         "min_lr_ratio": 0.1, "grad_accum": 1, "clip_grad_norm": 1.0, "log_every": 5, "seed": 0,
                         **config})
    return tok, vocab, data, model, cfg


def test_training_learns_title_to_cluster_mapping(tmp_path):
    titles = {"rainy piano": ["0-1", "0-1", "0-2"], "gym rock": ["1-0", "1-1"], "深夜学习": ["2-2", "0-2"]}
    _, vocab, data, model, cfg = tiny_run(titles, 40, 32, epochs=8, batch_size=16, patience=8)
    summary = train_model(model, data, data[:30], cfg, Accelerator(cpu=True), vocab.pad_id, tmp_path / "model",
                          tmp_path / "log.csv", tmp_path / "val.csv")
    assert summary["best_val_loss"] < 0.3
    assert (tmp_path / "model" / "model.safetensors").exists()
    log = (tmp_path / "log.csv").read_text().splitlines()
    assert log[0] == "step,epoch,loss,lr,tokens_per_s" and len(log) > 5


def test_model_is_built_from_config_with_tied_embeddings():
    # In transformers 5, T5Config(tie_word_embeddings=False) keeps the weights tied and only turns off the
    # d_model**-0.5 rescaling of decoder outputs, which trains better here; this pins that behaviour.
    model = build_model(100, 0, 1, d_model=32, num_layers=1, num_heads=2, dropout=0.0, seed=0)
    assert model.lm_head.weight.data_ptr() == model.shared.weight.data_ptr()
    assert model.config.scale_decoder_outputs is False
    again = build_model(100, 0, 1, d_model=32, num_layers=1, num_heads=2, dropout=0.0, seed=0)
    assert torch.equal(model.shared.weight, again.shared.weight)  # seeded
    c = model.config  # the derived sizes: as many decoder layers, d_model / heads per head, 4 x d_model
    assert (c.num_decoder_layers, c.d_kv, c.d_ff) == (1, 16, 128)
    import pytest

    with pytest.raises(ValueError, match="must be a multiple of train.num_heads"):
        build_model(100, 0, 1, d_model=30, num_layers=1, num_heads=4, dropout=0.0, seed=0)


def test_small_data_gets_min_steps_and_a_warning(tmp_path, caplog):
    """Few examples x few epochs would leave the model at chance: epochs are raised to reach min_steps, with a
    warning saying why; early stopping does not cut training short before them."""
    titles = {"rainy piano": ["0-1"], "gym rock": ["1-0"]}
    tok, vocab, data, model, cfg = tiny_run(titles, 8, 16, epochs=2, batch_size=8, patience=1, min_steps=20,
                                            label_smoothing=0.1, decoder_input_dropout=0.3)
    with caplog.at_level("WARNING"):
        summary = train_model(model, data, data[:4], cfg, Accelerator(cpu=True), vocab.pad_id, tmp_path / "m",
                              tmp_path / "log.csv", tmp_path / "val.csv", mask_id=tok.unk_token_id)
    assert summary["steps"] >= 20 and summary["epochs_run"] >= 10
    assert "under train.min_steps (20)" in caplog.text


def test_training_loss_smooths_labels_and_drops_decoder_inputs():
    from playlistgen.modeling.train import training_loss

    model = build_model(20, 0, 1, d_model=16, num_layers=1, num_heads=2, dropout=0.0, seed=0)
    batch = {"input_ids": torch.tensor([[5, 1]]), "attention_mask": torch.tensor([[1, 1]]),
             "labels": torch.tensor([[7, 8, 1]])}
    base = dict(epochs=1, batch_size=1, lr=1e-3, weight_decay=0.0, warmup_share=0.1, schedule="cosine",
                min_lr_ratio=0.1, grad_accum=1, clip_grad_norm=1.0, patience=1, log_every=1, seed=0)
    model.eval()
    plain = training_loss(model, batch, 0, TrainConfig(**base), None)
    assert torch.allclose(plain, model(**batch).loss)  # same as T5's own loss when nothing is on
    smoothed = training_loss(model, batch, 0, TrainConfig(**base, label_smoothing=0.5), None)
    assert not torch.allclose(plain, smoothed)
    model.train()
    torch.manual_seed(0)
    dropped = training_loss(model, batch, 0, TrainConfig(**base, decoder_input_dropout=1.0), 2)
    model.eval()
    masked = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"],
              "decoder_input_ids": torch.tensor([[0, 2, 2]])}  # start token kept, the rest replaced by <unk>=2
    expected = torch.nn.functional.cross_entropy(model(**masked).logits.flatten(0, 1), batch["labels"].flatten())
    assert torch.allclose(dropped, expected)


def test_train_config_from_params_names_a_missing_key():
    import pytest

    from playlistgen.common.io import DataError

    with pytest.raises(DataError, match="train.batch_size is missing"):
        TrainConfig.from_params({"epochs": 1}, seed=0)


def test_rarity_weights_favour_rare_target_tokens():
    from playlistgen.modeling.batches import EncodedExample
    from playlistgen.modeling.train import target_token_weights

    data = [EncodedExample([5, 1], [10, 11, 1]), EncodedExample([6, 1], [10, 12, 1]),
            EncodedExample([7, 1], [10, 11, 1])]
    assert target_token_weights(data, 20, 0.0) is None
    w = target_token_weights(data, 20, 1.0)
    # counts: 10 x3, 11 x2, 12 x1, EOS(1) x3; weights ~ 1/count, rescaled so the 9 targets average 1
    raw = {10: 1 / 3, 11: 1 / 2, 12: 1.0, 1: 1 / 3}
    scale = 9 / (3 * raw[10] + 2 * raw[11] + raw[12] + 3 * raw[1])
    assert w[12].item() == pytest.approx(raw[12] * scale, rel=1e-5) and w[12] > w[11] > w[10]
    # a token in no target keeps weight 1 before the rescale: 1 / (sum(w x count) / sum(count)) = 9 / (4 x 2.25)
    assert w[3].item() == pytest.approx(1.0)
