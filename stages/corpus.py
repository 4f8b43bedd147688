"""corpus stage: playlists -> (title, cluster ids) examples, train/val/test split, tokenizer."""
from pathlib import Path

from playlistgen.data.catalog import load_catalog
from playlistgen.data.corpus import build_examples, order_targets, recommendable, split_examples
from playlistgen.common.io import DataError, atomic_dir, read_json, write_json, write_jsonl
from playlistgen.modeling.tokenizer import save_tokenizer, train_tokenizer

from ._common import run


def main(params: dict) -> None:
    p = params["corpus"]
    base = params["base"]
    quantize_dir = Path(base["work_dir"]) / "quantize"
    index = read_json(quantize_dir / "clusters.json")
    cluster_of_song = {s: key for key, songs in index["clusters"].items() for s in songs}
    catalog = load_catalog(base["raw_dir"], feature_names=[])
    examples, stats = build_examples(catalog.playlists, cluster_of_song, None, p["min_songs"])
    if not examples:
        raise DataError(f"{base['raw_dir']}: no playlist has {p['min_songs']} or more songs with a semantic ID "
                        f"({stats['playlists_in']} playlists read); check playlists.jsonl (empty?) and the quantize "
                        "stage's songs_without_features, or lower corpus.min_songs.")
    splits = split_examples(examples, p["val_share"], p["test_share"], base["seed"])
    if not splits["train"]:
        raise DataError(f"none of the {len(examples)} usable playlists fell in the training split; add playlists or "
                        "lower corpus.val_share and corpus.test_share.")
    splits["train"] = recommendable(splits["train"], cluster_of_song)  # val/test keep their whole truth
    order_targets(splits, p["target_order"], p["max_clusters"])
    tokenizer = train_tokenizer([e.title for e in splits["train"]], p["vocab_size"],
                                index["cluster_levels"], index["codebook_size"])

    out = Path(base["work_dir"]) / "corpus"
    for name, rows in splits.items():
        write_jsonl(out / f"{name}.jsonl", (e.to_json() for e in rows))
        stats[f"{name}_playlists"] = len(rows)
    with atomic_dir(out / "tokenizer") as tmp:
        save_tokenizer(tokenizer, tmp)
    lengths = [len(e.clusters) for e in splits["train"]]
    stats["mean_target_clusters"] = round(sum(lengths) / max(len(lengths), 1), 2)
    stats["distinct_clusters_in_train"] = len({c for e in splits["train"] for c in e.clusters})
    stats["skipped"] = catalog.report.skipped
    stats["tokenizer_vocab"] = len(tokenizer)
    write_json("metrics/corpus.json", stats)


if __name__ == "__main__":
    run(main)
