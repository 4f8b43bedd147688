"""export stage: the self-contained inference bundle (data/bundle)."""
from collections import Counter
from pathlib import Path

from playlistgen.bundle import export_bundle
from playlistgen.catalog import load_songs
from playlistgen.corpus import read_examples

from ._common import run


def main(params: dict) -> None:
    base, ev = params["base"], params["evaluate"]
    work = Path(base["work_dir"])
    export_bundle(
        out_dir=params["export"]["bundle_dir"],
        model_dir=work / "train" / "model",
        tokenizer_dir=work / "corpus" / "tokenizer",
        clusters_path=work / "quantize" / "clusters.json",
        codebooks_path=work / "quantize" / "codebooks.safetensors",
        semantic_ids_path=work / "quantize" / "song_semantic_ids.jsonl",
        songs=load_songs(Path(base["raw_dir"]) / "songs.jsonl"),
        decode_defaults={"num_beams": ev["num_beams"], "max_repeats": ev["max_repeats"],
                         "max_source_tokens": params["train"]["max_source_tokens"], "top_p": params["export"]["top_p"]},
        params={k: params[k] for k in ("quantize", "corpus", "train")},
        data_dir=base["raw_dir"],
        playlist_counts=Counter(s for e in read_examples(work / "corpus" / "train.jsonl") for s in e.song_ids),
    )


if __name__ == "__main__":
    run(main)
