"""Retrieved clusters as encoder input: leave-one-out for training titles, the same tokens at inference."""
import pytest

from playlistgen.data.corpus import Example
from playlistgen.common.io import DataError
from playlistgen.lookup.retrieval import NeighbourClusters, RetrievalConfig
from playlistgen.modeling.tokenizer import CodeVocab

TRAIN = [Example("a", "rainy piano", ["0-1", "0-2"], ["s1"]),
         Example("b", "rainy piano songs", ["1-1"], ["s2"]),
         Example("c", "gym rock", ["2-0", "2-1"], ["s3"])]
SIZES = {"0-1": 1, "0-2": 4, "1-1": 1, "2-0": 1, "2-1": 9}
VOCAB = CodeVocab(offset=10, num_levels=2, codebook_size=4, eos_id=1, pad_id=0)


def test_training_titles_retrieve_without_themselves():
    retrieval = NeighbourClusters(TRAIN, RetrievalConfig(clusters=2, neighbours=2, ngram=(2, 4)), SIZES, VOCAB)
    # at inference: the exact title's small cluster, then the near title's (0-2 holds 4 songs: its score is halved)
    assert retrieval.clusters(["rainy piano"])[0] == ["0-1", "1-1"]
    # in training the first playlist may not see its own clusters: its nearest other title is the second
    own = retrieval.clusters([e.title for e in TRAIN], list(range(len(TRAIN))))
    assert own[0][0] == "1-1" and not {"0-1", "0-2"} & set(own[0])
    assert "2-0" not in own[2] and "2-1" not in own[2]
    ids = retrieval.for_training()
    assert ids[0][:2] == VOCAB.cluster_to_ids("1-1") == [10 + 1, 10 + 4 + 1]


def test_config_is_checked_and_round_trips(tmp_path):
    cfg = RetrievalConfig.from_params({"clusters": 10, "neighbours": 30, "ngram": [2, 4]})
    cfg.save(tmp_path)
    assert RetrievalConfig.load(tmp_path) == cfg
    assert RetrievalConfig.load(tmp_path / "none") is None
    for bad in ({"clusters": -1, "neighbours": 3, "ngram": [2, 4]}, {"clusters": 1, "neighbours": 0, "ngram": [2, 4]},
                {"clusters": 1, "neighbours": 3, "ngram": [4, 2]}, {"clusters": 1, "neighbours": 3},
                {"clusters": "ten", "neighbours": 3, "ngram": [2, 4]}):
        with pytest.raises(DataError, match="train.retrieval"):
            RetrievalConfig.from_params(bad)


def test_encoder_input_is_title_then_retrieved_codes_then_eos():
    from playlistgen.inference.decode import encode_titles
    from playlistgen.modeling.tokenizer import train_tokenizer
    from playlistgen.modeling.batches import encode_examples

    tok = train_tokenizer(["rainy piano", "gym rock"], 300, 2, 4)
    vocab = CodeVocab.from_tokenizer(tok, 2, 4)
    extra = [vocab.cluster_to_ids("1-3")]
    train_src = encode_examples(TRAIN[:1], tok, vocab, 16, extra=extra)[0].source
    infer_src = encode_titles(tok, ["rainy piano"], 16, "cpu", extra)["input_ids"][0].tolist()
    assert train_src == infer_src
    assert train_src[-3:] == extra[0] + [vocab.eos_id]
