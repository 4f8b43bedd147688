"""evaluate stage: model vs baselines on the test playlists; writes metrics/evaluate.json and samples."""
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import torch
from accelerate import Accelerator
from playlistgen.catalog import load_catalog, load_songs
from playlistgen.features import combine_feature_sets
from playlistgen.clusters import ClusterIndex, distinct, ranking_weights
from playlistgen.corpus import read_examples
from playlistgen.decode import ClusterConstraint, DecodePolicy
from playlistgen.evaluate import (baseline_recommendations, decode_all, format_samples, has_cjk,
                                  intervals_vs_best_baseline, length_bucket, model_recommendations,
                                  sampled_playlist_metrics, score, score_rows, unseen_wording)
from playlistgen.io import write_json, write_text
from playlistgen.metrics import top_list_diversity
from playlistgen.model import load_model
from playlistgen.recommend import Recommender, SongTitleProfiles, title_aware_weights
from playlistgen.title_encoder import make_title_encoder
from playlistgen.tokenizer import CodeVocab, load_tokenizer

from ._common import run


def main(params: dict) -> None:
    p, base = params["evaluate"], params["base"]
    accelerator = Accelerator()
    work = Path(base["work_dir"])
    index = ClusterIndex.load(work / "quantize" / "clusters.json")
    tokenizer = load_tokenizer(work / "corpus" / "tokenizer")
    vocab = CodeVocab.from_tokenizer(tokenizer, index.cluster_levels, index.codebook_size)
    model = load_model(work / "train" / "model").to(accelerator.device)
    train, test = read_examples(work / "corpus" / "train.jsonl"), read_examples(work / "corpus" / "test.jsonl")
    val = read_examples(work / "corpus" / "val.jsonl")
    songs = load_songs(Path(base["raw_dir"]) / "songs.jsonl")
    titles = [e.title for e in test]
    max_source = params["train"]["max_source_tokens"]
    reads_states = getattr(model, "title_proj", None) is not None
    title_encoder = make_title_encoder("minilm" if reads_states or p["title_ranking"] else "none", max_source)

    policy = DecodePolicy.from_params(p)  # the bundle carries it: generate-playlist decodes the same way
    cfg = policy.config(clusters=len(index.songs_in_cluster))
    constraint = ClusterConstraint(vocab, list(index.songs_in_cluster), cfg.min_clusters, cfg.max_clusters,
                                   policy.max_repeats)
    retrieval = Recommender.retrieval_for(work / "train" / "model", train, index, vocab)
    t0 = time.perf_counter()
    torch.manual_seed(base["seed"])  # sampling mode draws from the global generator
    sequences, invalid, total = decode_all(model, tokenizer, vocab, constraint, titles, cfg, max_source,
                                           p["batch_size"], accelerator, title_encoder if reads_states else None, retrieval)
    seconds = time.perf_counter() - t0
    probe = titles[: p["unconstrained_sample"]]
    free_cfg = replace(cfg, constrained=False)
    free_seqs, free_bad, free_total = decode_all(model, tokenizer, vocab, None, probe, free_cfg, max_source,
                                                 p["batch_size"], accelerator, title_encoder if reads_states else None, retrieval)
    if not accelerator.is_main_process:
        return
    free_bad += sum(1 for seq in free_seqs for key in seq if key not in index.songs_in_cluster)
    constrained_bad = invalid + sum(1 for seq in sequences for key in seq if key not in index.songs_in_cluster)

    weights = ranking_weights(Counter(s for e in train for s in e.song_ids), {s: v.popularity for s, v in songs.items()})
    profiles = None
    if p["title_ranking"]:
        profiles = SongTitleProfiles.from_playlists(train, title_encoder.sentence_vectors([e.title for e in train]))
    n_songs = max(p["ks"])

    def answers(examples, seqs):
        """Every method's answers for these examples' titles, the model's from its cluster sequences."""
        titles = [e.title for e in examples]
        queries = title_encoder.sentence_vectors(titles) if profiles is not None else None
        n_clusters = [max(1, len(distinct(s))) for s in seqs]
        return {"model": model_recommendations(seqs, index, n_songs, weights, profiles, queries, p["title_ranking"],
                                               p["cluster_rank_discount"]),
                **baseline_recommendations(titles, n_clusters, n_songs, train, index, weights, p["knn_neighbours"],
                                           tuple(p["knn_ngram"]), p["dense_baseline"], profiles, title_encoder,
                                           p["title_ranking"], {s: v.tags for s, v in songs.items()})}

    n_clusters = [max(1, len(distinct(s))) for s in sequences]
    recs = answers(test, sequences)
    results = {name: score(r, test, index, p["ks"], len(songs)) for name, r in recs.items()}
    for name, r in recs.items():  # title sensitivity: a model that ignores the title gives everyone one list
        distinct_share, commonest_share = top_list_diversity([x.songs for x in r], 10)
        results[name].update(distinct_top10_share=round(distinct_share, 4),
                             most_common_top10_share=round(commonest_share, 4))
    headline = ["ndcg@10", "r_precision", "recall@50", "expansion_f1", "cluster_f1"]
    results["ci95"] = intervals_vs_best_baseline({name: score_rows(r, test, index, p["ks"]) for name, r in recs.items()},
                                                 headline, p["bootstrap_resamples"], base["seed"])
    # the validation split, where choices are made (params.yaml comments cite these numbers)
    val_sequences, _, _ = decode_all(model, tokenizer, vocab, constraint, [e.title for e in val], cfg, max_source,
                                     p["batch_size"], accelerator, title_encoder if reads_states else None, retrieval)
    val_recs = answers(val, val_sequences)
    write_json("metrics/evaluate_val.json", {
        **{name: {m: v for m, v in score(r, val, index, p["ks"], len(songs)).items() if m in headline}
           for name, r in val_recs.items()},
        "ci95": intervals_vs_best_baseline({name: score_rows(r, val, index, p["ks"]) for name, r in val_recs.items()},
                                           headline, p["bootstrap_resamples"], base["seed"]),
        "val_playlists": len(val)})
    catalog = load_catalog(base["raw_dir"], feature_names=params["quantize"]["features"], with_playlists=False)
    vectors = combine_feature_sets(list(catalog.features.values()), list(catalog.songs),
                                   params["quantize"]["normalize_each"])
    song_weights = None
    if profiles is not None:  # drawn as generate-playlist draws them: title-aware weights within each cluster
        test_queries = title_encoder.sentence_vectors(titles)
        song_weights = lambda i, ids: title_aware_weights(profiles, test_queries[i], ids, p["title_ranking"], weights)  # noqa: E731
    results["model"].update(sampled_playlist_metrics(sequences, test, index, {s: v.artist for s, v in songs.items()},
                                                     base["seed"], dict(zip(vectors.song_ids, vectors.vectors)),
                                                     song_weights, policy.playlist_length))
    by_length: dict[str, list[int]] = {}
    for i, e in enumerate(test):
        by_length.setdefault(length_bucket(len(e.song_ids), p["length_buckets"]), []).append(i)
    results["by_playlist_length"] = {
        bucket: {"playlists": len(rows), **{name: score([recs[name][i] for i in rows], [test[i] for i in rows], index,
                                                        p["ks"], len(songs))["expansion_f1"] for name in recs}}
        for bucket, rows in sorted(by_length.items())}
    # slices of the test titles: seen verbatim in training, written only with unseen words, Chinese
    seen_titles = {" ".join(e.title.lower().split()) for e in train}
    slices = {"seen_title": [" ".join(e.title.lower().split()) in seen_titles for e in test],
              "unseen_wording": unseen_wording([e.title for e in test], [e.title for e in train]),
              "chinese": [has_cjk(e.title) for e in test]}
    results["slices"] = {}
    for name, member in slices.items():
        rows = [i for i, keep in enumerate(member) if keep]
        if rows:
            results["slices"][name] = {"playlists": len(rows), "share": round(len(rows) / len(test), 4), **{
                method: {m: v for m, v in score([recs[method][i] for i in rows], [test[i] for i in rows], index,
                                                p["ks"], len(songs)).items() if m in ("ndcg@10", "r_precision")}
                for method in recs}}
    results["decoding"] = {
        "test_playlists": len(test),
        "constrained_invalid_rate": round(constrained_bad / max(total, 1), 4),
        "unconstrained_invalid_rate": round(free_bad / max(free_total, 1), 4),
        "mean_generated_clusters": round(sum(len(s) for s in sequences) / len(sequences), 2),
        "mean_distinct_clusters": round(sum(n_clusters) / len(n_clusters), 2),
        "ms_per_title": round(1000 * seconds / len(titles), 1),
    }
    write_json("metrics/evaluate.json", results)
    write_json("metrics/metrics_at_k.json", [
        {"method": name, "k": k, "ndcg": results[name][f"ndcg@{k}"], "recall": results[name][f"recall@{k}"]}
        for name in recs for k in p["ks"]])
    write_text("metrics/samples.md", format_samples(test, sequences, index, songs, p["samples_shown"], base["seed"]))
    accelerator.print({k: results[k].get("expansion_f1") for k in recs})


if __name__ == "__main__":
    run(main)
