"""export stage: the self-contained inference bundle (data/bundle)."""
from collections import Counter
from pathlib import Path

from playlistgen.inference.bundle import export_bundle
from playlistgen.data.catalog import load_songs
from playlistgen.data.corpus import read_examples
from playlistgen.inference.decode import DecodePolicy
from playlistgen.lookup.mentions import ArtistMentions
from playlistgen.inference.ranking import RankingPolicy
from playlistgen.inference.recommend import SongTitleProfiles
from playlistgen.lookup.retrieval import FILE as RETRIEVAL_FILE
from playlistgen.modeling.title_encoder import make_title_encoder

from ._common import run


def main(params: dict) -> None:
    base, ev = params["base"], params["evaluate"]
    ranking = RankingPolicy.from_params(ev)  # written into the manifest: generate-playlist ranks by it
    work = Path(base["work_dir"])
    train = read_examples(work / "corpus" / "train.jsonl")
    profiles, title_vectors = None, None
    if ranking.title_ranking:
        encoder = make_title_encoder("minilm", params["train"]["max_source_tokens"])
        profiles = SongTitleProfiles.from_training(train, encoder, ranking.title_lexical, ranking.knn_ngram)
        titles = sorted({e.title for e in train})  # what an unfamiliar title is told it resembles (familiar.py)
        title_vectors = (titles, encoder.sentence_vectors(titles))
    songs = load_songs(Path(base["raw_dir"]) / "songs.jsonl")
    excluded = []  # artist names the training titles use for something else: the bundle need not carry the titles
    if ranking.artist_mentions:  # part of model_knn (PlaylistGenerator.named_songs)
        excluded = sorted(" ".join(name) for name in ArtistMentions.from_catalog(songs, train).excluded)
    export_bundle(
        out_dir=params["export"]["bundle_dir"],
        model_dir=work / "train" / "model",
        tokenizer_dir=work / "corpus" / "tokenizer",
        clusters_path=work / "quantize" / "clusters.json",
        codebooks_path=work / "quantize" / "codebooks.safetensors",
        semantic_ids_path=work / "quantize" / "song_semantic_ids.jsonl",
        songs=songs,
        decode_defaults={**DecodePolicy.from_params(ev).to_dict(),  # what the evaluate stage scored
                         **ranking.to_dict(),
                         "title_encoder": params["train"]["title_encoder"],
                         "artist_mentions_excluded": excluded,
                         "max_source_tokens": params["train"]["max_source_tokens"],
                         "unfamiliar_title": params["export"]["unfamiliar_title"]},
        params={k: params[k] for k in ("quantize", "corpus", "train")},
        data_dir=base["raw_dir"],
        playlist_counts=Counter(s for e in train for s in e.song_ids),
        title_profiles=profiles,
        title_vectors=title_vectors,
        train_examples_path=work / "corpus" / "train.jsonl"  # the bundle's kNN, lexical profiles and retrieval read it
        if ev["knn_fusion"] or (ev["title_ranking"] and ev["title_lexical"])
        or (work / "train" / "model" / RETRIEVAL_FILE).exists() else None,
    )


if __name__ == "__main__":
    run(main)
