"""params.yaml checked once, before any stage does work: every key's type and range, the known values of every
choice, and the relations between keys. A bad value is one DataError naming the key, the value and what is allowed,
instead of a traceback (or a silently odd result) one or three stages later.

    from playlistgen.common.params import load, validate
    validate(params)             # the whole file (every stage calls this first, via stages/_common.run)
    load("params.yaml")          # read and validate: the one way the stages and the command-line tools outside DVC
                                 # (importers, make-challenge) get their defaults, so no second home for them
"""
from __future__ import annotations

import math
import re
from typing import Any, Callable

from playlistgen.common.io import DataError
from playlistgen.common.limits import MAX_SONGS

SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")


def safe_name(name: str, what: str) -> str:
    """A name that becomes a file name (a feature set): letters, digits, `_`, `.`, `-`; no path, no leading dot."""
    if not isinstance(name, str) or not SAFE_NAME.match(name) or ".." in name:
        raise DataError(f"{what} {name!r} is not a usable name: use letters, digits, '_', '-' or '.' (at most 64, "
                        "not starting with '.'), e.g. audio or lyrics_v2; it becomes a file name.")
    return name


# Each check returns None when the value is fine, else what is allowed.
Check = Callable[[Any], "str | None"]


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) and math.isfinite(v)


def integer(lo: int | None = None, hi: int | None = None, none: bool = False, auto: bool = False) -> Check:
    def check(v):
        if (none and v is None) or (auto and v == "auto"):
            return None
        if _is_int(v) and (lo is None or v >= lo) and (hi is None or v <= hi):
            return None
        span = f"a whole number >= {lo}" if hi is None else f"a whole number from {lo} to {hi}"
        return span + (" or null" if none else "") + (" or auto" if auto else "")
    return check


def number(lo: float | None = None, hi: float | None = None, lo_open: bool = False, hi_open: bool = False) -> Check:
    def check(v):
        if _is_num(v) and (lo is None or (v > lo if lo_open else v >= lo)) and (
                hi is None or (v < hi if hi_open else v <= hi)):
            return None
        left = "(" if lo_open else "["
        right = ")" if hi_open else "]"
        return f"a number in {left}{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}{right}"
    return check


def share(hi_open: bool = True) -> Check:
    return number(0.0, 1.0, hi_open=hi_open)


def boolean(v) -> str | None:
    return None if isinstance(v, bool) else "true or false"


def choice(*values) -> Check:
    return lambda v: None if v in values else " | ".join(map(str, values))


def text(v) -> str | None:
    return None if isinstance(v, str) and v.strip() else "a non-empty string"


def int_pair(lo: int = 1) -> Check:
    def check(v):
        if isinstance(v, list) and len(v) == 2 and all(_is_int(x) and x >= lo for x in v) and v[0] <= v[1]:
            return None
        return f"[min, max] with {lo} <= min <= max"
    return check


def int_list(lo: int = 1) -> Check:
    def check(v):
        if isinstance(v, list) and v and all(_is_int(x) and x >= lo for x in v):
            return None
        return f"a non-empty list of whole numbers >= {lo}"
    return check


def names(v) -> str | None:
    if isinstance(v, list) and v and all(isinstance(x, str) and SAFE_NAME.match(x) and ".." not in x for x in v):
        return None
    return "a non-empty list of feature set names (letters, digits, '_', '-', '.'), e.g. [audio, lyrics]"


def weighted_names(v) -> str | None:
    """A list of feature set names (each weighs 1), or a mapping of names to positive weights."""
    if isinstance(v, dict) and v and names(list(v)) is None and all(_is_num(w) and w > 0 for w in v.values()):
        return None
    if names(v) is None:
        return None
    return ("a non-empty list of feature set names, e.g. [audio, lyrics], or a mapping of names to weights > 0, "
            "e.g. {title_context: 2, collab: 1}")


def str_list(v) -> str | None:
    return None if isinstance(v, list) and all(isinstance(x, str) for x in v) else "a list of strings"


def mapping(v) -> str | None:
    return None if isinstance(v, dict) else "a mapping (key: value lines)"


RULES: dict[str, Check] = {
    "base.seed": integer(0),
    "base.raw_dir": text,
    "base.work_dir": text,
    "data.source": choice("synthetic", "mpd", "files"),
    "data.mpd.paths": str_list,
    "data.mpd.min_track_frequency": integer(1),
    "data.files.songs": text,
    "data.files.playlists": text,
    "data.files.vectors": mapping,
    "data.files.standardize": boolean,
    "data.embed.with_tables": boolean,
    "data.embed.collab_dim": integer(2, 4096),
    "data.embed.collab_method": choice("ppmi", "svd"),
    "data.embed.text_features": boolean,
    "data.embed.context_features": boolean,
    "data.world": choice("v1", "v2"),
    "data.size": text,
    "data.sizes": mapping,
    "data.latent_dim": integer(2, 4096),
    "data.song_noise": number(0),
    "data.popularity_zipf": number(0),
    "data.concept_zipf": number(0),
    "data.primary_share": share(hi_open=False),
    "data.secondary_share": share(hi_open=False),
    "data.secondary_prob": share(hi_open=False),
    "quantize.method": choice("rq_kmeans", "rq_vae"),
    "quantize.features": weighted_names,
    "quantize.normalize_each": boolean,
    "quantize.normalize": boolean,
    "quantize.num_levels": integer(1, 16),
    "quantize.codebook_size": integer(2, 65536),
    "quantize.cluster_levels": integer(1, 16),
    "quantize.kmeans_iters": integer(1),
    "quantize.max_points_per_centroid": integer(1),
    "quantize.init_points_per_centroid": integer(1),
    "quantize.kmeans_tol": number(0),
    "quantize.refine_rounds": integer(0),
    "quantize.progressive_steps": integer(1),
    "quantize.progressive_min_dim": integer(1),
    "quantize.max_songs_per_code": integer(1, none=True),
    "quantize.large_cluster_size": integer(1),
    "quantize.rq_vae.latent_dim": integer(1),
    "quantize.rq_vae.hidden_dim": integer(1),
    "quantize.rq_vae.epochs": integer(1),
    "quantize.rq_vae.lr": number(0, lo_open=True),
    "quantize.rq_vae.batch_size": integer(1),
    "quantize.rq_vae.commitment": number(0),
    "quantize.rq_vae.log_every": integer(1),
    "corpus.max_clusters": integer(1),
    "corpus.target_order": choice("characteristic", "playlist"),
    "corpus.min_songs": integer(1),
    "corpus.val_share": share(),
    "corpus.test_share": share(),
    "corpus.vocab_size": integer(300, 1_000_000),
    "train.num_processes": integer(1, auto=True),
    "train.launch_args": str_list,
    "train.mixed_precision": choice("auto", "no", "bf16", "fp16"),
    "train.compile": boolean,
    "train.loader_workers": integer(0, auto=True),
    "train.d_model": integer(8),
    "train.num_heads": integer(1),
    "train.num_layers": integer(1),
    "train.dropout": share(),
    "train.max_source_tokens": integer(2, 512),
    "train.batch_size": integer(1),
    "train.grad_accum": integer(1),
    "train.lr": number(0, lo_open=True),
    "train.weight_decay": number(0),
    "train.warmup_share": share(),
    "train.min_steps": integer(0),
    "train.label_smoothing": share(),
    "train.decoder_input_dropout": share(),
    "train.rarity_weight": number(0),
    "train.retrieval.clusters": integer(0, 256),
    "train.retrieval.neighbours": integer(1),
    "train.retrieval.ngram": int_pair(1),
    "train.title_encoder": choice("minilm", "none"),
    "train.schedule": choice("cosine", "linear"),
    "train.min_lr_ratio": share(hi_open=False),
    "train.clip_grad_norm": number(0),
    "train.epochs": integer(1),
    "train.patience": integer(1),
    "train.log_every": integer(1),
    "train.checkpoint_every": integer(0),
    "evaluate.decode": choice("beam", "sample"),
    "evaluate.num_beams": integer(1, 64),
    "evaluate.temperature": number(0, lo_open=True),
    "evaluate.top_p": number(0, 1, lo_open=True),
    "evaluate.playlist_length": integer(1, MAX_SONGS),
    "evaluate.max_repeats": integer(1, none=True),
    "evaluate.batch_size": integer(1),
    "evaluate.ks": int_list(1),
    "evaluate.knn_neighbours": integer(1),
    "evaluate.knn_ngram": int_pair(1),
    "evaluate.dense_baseline": boolean,
    "evaluate.anchor_word_neighbours": integer(1),
    "evaluate.anchor_word_ngram": int_pair(1),
    "evaluate.anchor_dense_neighbours": integer(1),
    "evaluate.unconstrained_sample": integer(0),
    "evaluate.samples_shown": integer(0),
    "evaluate.title_ranking": number(0),
    "evaluate.title_lexical": number(0, 100),
    "evaluate.cluster_rank_discount": number(0, 4),
    "evaluate.cluster_score_power": number(0, 10),
    "evaluate.scored_clusters": integer(0),
    "evaluate.knn_fusion": number(0, 10),
    "evaluate.artist_mentions": boolean,
    "evaluate.draw_sharpness": number(0.1, 10),
    "evaluate.draw_slots": choice("ranked", "generated"),
    "evaluate.popularity_power": number(0, 4),
    "evaluate.bootstrap_resamples": integer(1),
    "evaluate.length_buckets": int_list(1),
    "export.bundle_dir": text,
    "export.unfamiliar_title.sentence": number(-1, 1),
    "export.unfamiliar_title.ngram": number(0, 1),
}


def _lookup(params: dict, key: str):
    node: Any = params
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise DataError(f"params.yaml: {key} is missing; add it (params.yaml in the repository has every key, "
                            "with a comment on each).")
        node = node[part]
    return node


def _fail(key: str, value, allowed: str) -> None:
    raise DataError(f"params.yaml: {key} = {value!r} is not allowed; use {allowed}.")


def validate(params: Any) -> dict:
    """Check every key of params.yaml (see RULES) and the relations between keys; return params unchanged."""
    if not isinstance(params, dict):
        raise DataError("params.yaml: expected a mapping of blocks (base, data, quantize, ...); the file is empty or "
                        "not YAML key: value lines.")
    for key, check in RULES.items():
        value = _lookup(params, key)
        allowed = check(value)
        if allowed is not None:
            _fail(key, value, allowed)
    q, c, t, d = params["quantize"], params["corpus"], params["train"], params["data"]
    if q["cluster_levels"] > q["num_levels"]:
        _fail("quantize.cluster_levels", q["cluster_levels"],
              f"at most quantize.num_levels ({q['num_levels']}): a cluster is a prefix of the semantic ID")
    if c["val_share"] + c["test_share"] >= 1:
        _fail("corpus.val_share + corpus.test_share", c["val_share"] + c["test_share"],
              "shares summing below 1 (the rest is training data)")
    if t["d_model"] % t["num_heads"]:
        _fail("train.d_model", t["d_model"], f"a multiple of train.num_heads ({t['num_heads']}): each head gets "
              "d_model / num_heads dimensions")
    if d["primary_share"] + d["secondary_share"] > 1:
        _fail("data.primary_share + data.secondary_share", d["primary_share"] + d["secondary_share"],
              "shares summing to at most 1")
    if d["size"] not in d["sizes"]:
        _fail("data.size", d["size"], " | ".join(d["sizes"]) + " (a key of data.sizes)")
    for name, size in d["sizes"].items():
        if not (isinstance(size, dict) and _is_int(size.get("num_songs")) and _is_int(size.get("num_playlists"))
                and size["num_songs"] >= 50 and size["num_playlists"] >= 20):
            _fail(f"data.sizes.{name}", size, "{num_songs: >= 50, num_playlists: >= 20}")
    for name in d["files"]["vectors"]:
        safe_name(name, "params.yaml: data.files.vectors key")
    return params


def load(path) -> dict:
    """params.yaml read and validated: a bad file is one DataError naming it and what to fix."""
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            params = yaml.safe_load(f)
    except FileNotFoundError:
        raise DataError(f"{path}: no such params file; run from the project folder or pass --params with its "
                        "params.yaml.") from None
    except yaml.YAMLError as e:
        raise DataError(f"{path}: not valid YAML ({str(e).splitlines()[0]}); fix the line it names.") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text; save it as UTF-8.") from None
    return validate(params)
