"""One training run as the train stage does it: corpus -> encoded examples (with title-encoder states and retrieved
clusters when configured) -> T5 -> train_model with checkpoints that only the same params, data and code resume."""
from __future__ import annotations

from pathlib import Path

import torch
from accelerate.utils import set_seed

from playlistgen.modeling import model as model_module
from playlistgen.modeling import batches as batches_module
from playlistgen.modeling import checkpoints as checkpoints_module
from playlistgen.lookup import retrieval as retrieval_module
from playlistgen.modeling import title_encoder as encoder_module
from playlistgen.modeling import train as train_module
from playlistgen.data.corpus import read_examples
from playlistgen.common.io import read_json
from playlistgen.modeling.model import build_model, count_parameters
from playlistgen.lookup.retrieval import NeighbourClusters, RetrievalConfig
from playlistgen.modeling.title_encoder import STATE_DIM, make_title_encoder
from playlistgen.modeling.tokenizer import CodeVocab, load_tokenizer
from playlistgen.modeling.batches import encode_examples
from playlistgen.modeling.checkpoints import fingerprint
from playlistgen.modeling.train import (TrainConfig, make_accelerator, resolve_precision, resolve_workers, target_token_weights,
                    train_model)


def run_training(params: dict) -> dict | None:
    """Train from the corpus and quantize outputs under base.work_dir into work_dir/train/model; returns the
    summary for metrics/train.json on the main process (None elsewhere)."""
    p, base = params["train"], params["base"]
    precision = resolve_precision(p["mixed_precision"])
    accelerator = make_accelerator(precision, p["grad_accum"])
    set_seed(base["seed"])
    work = Path(base["work_dir"])
    corpus_dir = work / "corpus"
    index = read_json(work / "quantize" / "clusters.json")
    tokenizer = load_tokenizer(corpus_dir / "tokenizer")
    vocab = CodeVocab.from_tokenizer(tokenizer, index["cluster_levels"], index["codebook_size"])
    title_encoder = make_title_encoder(p["title_encoder"], p["max_source_tokens"])
    train_examples, val_examples = read_examples(corpus_dir / "train.jsonl"), read_examples(corpus_dir / "val.jsonl")
    retrieval_cfg = RetrievalConfig.from_params(p["retrieval"])
    train_extra = val_extra = None
    if retrieval_cfg.clusters:
        sizes = {key: len(songs) for key, songs in index["clusters"].items()}
        retrieval = NeighbourClusters(train_examples, retrieval_cfg, sizes, vocab)
        train_extra, val_extra = retrieval.for_training(), retrieval.token_ids([e.title for e in val_examples])
    train_data = encode_examples(train_examples, tokenizer, vocab, p["max_source_tokens"], title_encoder, train_extra)
    val_data = encode_examples(val_examples, tokenizer, vocab, p["max_source_tokens"], title_encoder, val_extra)
    model = build_model(len(tokenizer), vocab.pad_id, vocab.eos_id, d_model=p["d_model"], num_layers=p["num_layers"],
                        num_heads=p["num_heads"], dropout=p["dropout"], seed=base["seed"],
                        title_state_dim=STATE_DIM if title_encoder else 0)
    if p["compile"]:
        model = torch.compile(model)  # worth it on GPUs; on CPU compile time outweighs the gain at this size
    accelerator.print(f"model: {count_parameters(model) / 1e6:.2f}M parameters; {len(train_data)} train, "
                      f"{len(val_data)} val examples; device {accelerator.device}, {accelerator.num_processes} process(es)")
    cfg = TrainConfig.from_params(p, base["seed"], mixed_precision=precision,
                                  loader_workers=resolve_workers(p.get("loader_workers", "auto")))
    out = work / "train"
    # a checkpoint is resumed only by the same params, data and training code
    inputs = [corpus_dir / "train.jsonl", corpus_dir / "val.jsonl", corpus_dir / "tokenizer" / "tokenizer.json",
              Path(train_module.__file__), Path(model_module.__file__),
              Path(encoder_module.__file__), Path(retrieval_module.__file__),
              Path(batches_module.__file__), Path(checkpoints_module.__file__), Path(__file__)]
    run_id = fingerprint({"train": p, "seed": base["seed"], "processes": accelerator.num_processes}, inputs)
    summary = train_model(model, train_data, val_data, cfg, accelerator, vocab.pad_id, out / "model",
                          Path("metrics/train_log.csv"), Path("metrics/val_log.csv"),
                          checkpoint_dir=work / "train_checkpoints", checkpoint_every=p["checkpoint_every"],
                          fingerprint=run_id, mask_id=tokenizer.unk_token_id,
                          token_weights=target_token_weights(train_data, len(tokenizer), cfg.rarity_weight))
    accelerator.wait_for_everyone()
    if not accelerator.is_main_process:
        return None
    if retrieval_cfg.clusters:
        retrieval_cfg.save(out / "model")
    return {**summary, "parameters": count_parameters(model), "processes": accelerator.num_processes,
            "mixed_precision": precision, "device": accelerator.device.type}
