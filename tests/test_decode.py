import pytest
import torch

from playlistgen.inference.decode import ClusterConstraint, DecodeConfig, generate_clusters
from playlistgen.modeling.model import build_model
from playlistgen.modeling.tokenizer import CodeVocab, train_tokenizer

CLUSTERS = ["0-1", "0-3", "2-2", "3-0", "3-1"]


@pytest.fixture(scope="module")
def setup():
    tok = train_tokenizer(["rainy piano", "深夜学习", "gym rock"] * 10, vocab_size=200, num_levels=2, codebook_size=4)
    vocab = CodeVocab.from_tokenizer(tok, 2, 4)
    model = build_model(len(tok), vocab.pad_id, vocab.eos_id, d_model=32, num_layers=1, num_heads=2, dropout=0.0,
                        seed=0)
    return tok, vocab, model


@pytest.mark.parametrize("beams,sample", [(1, False), (4, False), (1, True)])
def test_untrained_model_only_generates_existing_clusters(setup, beams, sample):
    tok, vocab, model = setup
    constraint = ClusterConstraint(vocab, CLUSTERS, min_clusters=3, max_clusters=6)
    cfg = DecodeConfig(num_beams=beams, max_clusters=6, min_clusters=3, do_sample=sample)
    seqs, invalid, total = generate_clusters(model, tok, vocab, constraint, ["rainy piano", "深夜学习", "x"], cfg, 16,
                                             num_return_sequences=1, generator_seed=0)
    assert invalid == 0
    for (seq,) in seqs:
        assert 3 <= len(seq) <= 6
        assert set(seq) <= set(CLUSTERS)


def test_without_constraints_an_untrained_model_makes_invalid_ids(setup):
    tok, vocab, model = setup
    cfg = DecodeConfig(num_beams=1, max_clusters=6, min_clusters=3, constrained=False)
    seqs, invalid, total = generate_clusters(model, tok, vocab, None, ["rainy piano", "gym rock"], cfg, 16)
    made = [k for (seq,) in seqs for k in seq]
    assert invalid > 0 or any(k not in CLUSTERS for k in made)


def test_mask_allows_only_valid_next_codes(setup):
    _, vocab, _ = setup
    constraint = ClusterConstraint(vocab, CLUSTERS, min_clusters=1, max_clusters=2)
    V = vocab.offset + 8 + 5
    start = vocab.pad_id
    # after "3" at level 0, only level-1 codes 0 and 1 may follow
    ids = torch.tensor([[start, vocab.offset + 3]])
    out = constraint(ids, torch.zeros(1, V))
    allowed = torch.isfinite(out[0]).nonzero().flatten().tolist()
    assert allowed == [vocab.offset + 4 + 0, vocab.offset + 4 + 1]
    # after one full cluster (min 1 reached): level-0 codes that start a cluster, and EOS
    ids = torch.tensor([[start, vocab.offset + 3, vocab.offset + 4 + 1]])
    allowed = torch.isfinite(constraint(ids, torch.zeros(1, V))[0]).nonzero().flatten().tolist()
    assert allowed == sorted([vocab.eos_id, vocab.offset + 0, vocab.offset + 2, vocab.offset + 3])
    # at the maximum only EOS remains
    ids = torch.tensor([[start, vocab.offset + 3, vocab.offset + 5, vocab.offset + 0, vocab.offset + 5]])
    allowed = torch.isfinite(constraint(ids, torch.zeros(1, V))[0]).nonzero().flatten().tolist()
    assert allowed == [vocab.eos_id]


def test_empty_allowed_set_is_an_error_not_a_fallback(setup):
    _, vocab, _ = setup
    constraint = ClusterConstraint(vocab, CLUSTERS, min_clusters=5, max_clusters=6)
    V = vocab.offset + 8 + 5
    ids = torch.tensor([[vocab.pad_id, vocab.offset + 1]])  # prefix "1" starts no cluster
    with pytest.raises(RuntimeError, match="no allowed token"):
        constraint(ids, torch.zeros(1, V))


@pytest.mark.parametrize("beams", [1, 4])
def test_repeat_cap_holds_and_exhausted_prefixes_are_masked(setup, beams):
    tok, vocab, model = setup
    constraint = ClusterConstraint(vocab, CLUSTERS, min_clusters=5, max_clusters=5, max_repeats=1)
    cfg = DecodeConfig(num_beams=beams, max_clusters=5, min_clusters=5)
    seqs, invalid, _ = generate_clusters(model, tok, vocab, constraint, ["rainy piano", "gym rock"], cfg, 16)
    for (seq,) in seqs:
        assert sorted(seq) == sorted(CLUSTERS)  # 5 clusters, each once: all of them, no error at the end
    # after 0-1 and 0-3, code 0 at level 0 has no cluster left
    V = vocab.offset + 8 + 5
    ids = torch.tensor([[vocab.pad_id, vocab.offset + 0, vocab.offset + 4 + 1, vocab.offset + 0, vocab.offset + 4 + 3]])
    allowed = torch.isfinite(constraint(ids, torch.zeros(1, V))[0]).nonzero().flatten().tolist()
    assert allowed == [vocab.offset + 2, vocab.offset + 3]


def test_decode_policy_cluster_range_overrides_and_checks():
    from playlistgen.inference.decode import DecodePolicy
    from playlistgen.common.io import DataError

    block = {"decode": "beam", "num_beams": 4, "playlist_length": 20, "max_repeats": 1, "top_p": 0.9,
             "temperature": 0.7}
    policy = DecodePolicy.from_params(block)
    cfg = policy.config()
    assert (cfg.min_clusters, cfg.max_clusters, cfg.num_beams, cfg.do_sample) == (20, 25, 4, False)
    assert (policy.config(3).min_clusters, policy.config(3).max_clusters) == (3, 5)  # at least 2 spare
    small = policy.config(clusters=15)  # 15 clusters used once each cannot make 20: capped, the playlist is shorter
    assert (small.min_clusters, small.max_clusters) == (15, 15)
    sampled = policy.config(10, temperature=0.5)
    assert (sampled.do_sample, sampled.temperature, sampled.num_beams, sampled.top_p) == (True, 0.5, 1, 0.9)
    assert DecodePolicy.from_params({**block, "decode": "sample"}).config().temperature == 0.7
    assert DecodePolicy.from_dict(policy.to_dict()) == policy
    assert DecodePolicy.from_dict({"num_beams": 2}).playlist_length == 20  # bundles from before the policy
    for bad in ({"decode": "greedy"}, {"num_beams": 0}, {"playlist_length": 0}, {"top_p": 0},
                {"decode": "sample", "temperature": 0}, {"decode": "sample", "temperature": float("inf")},
                {"max_repeats": 0}):
        with pytest.raises(DataError):
            DecodePolicy.from_params({**block, **bad})


def test_first_cluster_distribution_is_the_constrained_first_step_of_decoding(setup):
    """Each cluster's probability is what greedy decoding's first step gives its codes, renormalised over the
    existing clusters; rows sum to 1 and a title's row does not depend on the other titles in the batch."""
    from playlistgen.inference.decode import first_cluster_distribution, model_inputs

    tok, vocab, model = setup
    titles = ["rainy piano", "深夜学习 夜", "x"]
    probs = first_cluster_distribution(model, tok, vocab, CLUSTERS, titles, 16)
    assert probs.shape == (3, len(CLUSTERS)) and abs(probs.sum(1) - 1).max() < 1e-5
    batch = model_inputs(model, tok, titles, 16)
    expected = []
    with torch.no_grad():
        for key in CLUSTERS:
            first, second = vocab.cluster_to_ids(key)
            decoder = torch.tensor([[vocab.pad_id, first]] * len(titles))
            logits = model(**batch, decoder_input_ids=decoder).logits
            level0 = torch.log_softmax(logits[:, 0, vocab.offset:vocab.offset + 4], -1)[:, first - vocab.offset]
            level1 = torch.log_softmax(logits[:, 1, vocab.offset + 4:vocab.offset + 8], -1)[:, second - vocab.offset - 4]
            expected.append((level0 + level1).exp())
    expected = torch.stack(expected, 1)
    assert torch.allclose(torch.from_numpy(probs), expected / expected.sum(1, keepdim=True), atol=1e-5)
    alone = first_cluster_distribution(model, tok, vocab, CLUSTERS, titles[1:2], 16)
    assert abs(alone[0] - probs[1]).max() < 1e-5


def test_first_cluster_distribution_in_bounded_passes(setup, monkeypatch):
    """Titles x code prefixes are cut into passes of DISTRIBUTION_ROWS decoder rows: the same numbers."""
    from playlistgen.inference import decode

    tok, vocab, model = setup
    titles = ["rainy piano", "gym rock", "x", "深夜学习"]
    whole = decode.first_cluster_distribution(model, tok, vocab, CLUSTERS, titles, 16)
    monkeypatch.setattr(decode, "DISTRIBUTION_ROWS", 3)  # 3 prefixes (0, 2, 3): one title per pass
    assert abs(decode.first_cluster_distribution(model, tok, vocab, CLUSTERS, titles, 16) - whole).max() < 1e-5
    assert decode.first_cluster_distribution(model, tok, vocab, CLUSTERS, [], 16).shape == (0, len(CLUSTERS))
