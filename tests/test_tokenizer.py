from playlistgen.modeling.tokenizer import CodeVocab, code_token, train_tokenizer

TITLES = ["rainy sunday piano", "深夜学习", "workout edm 🔥", "love night (remix)", "Chill Lofi Beats"] * 20


def test_code_tokens_are_single_contiguous_ids_and_survive_save(tmp_path):
    tok = train_tokenizer(TITLES, vocab_size=300, num_levels=2, codebook_size=8)
    vocab = CodeVocab.from_tokenizer(tok, 2, 8)
    assert tok.convert_tokens_to_ids(code_token(1, 3)) == vocab.offset + 8 + 3
    tok.save_pretrained(tmp_path)
    from playlistgen.modeling.tokenizer import load_tokenizer

    again = load_tokenizer(tmp_path)
    assert again.convert_tokens_to_ids(code_token(1, 3)) == vocab.offset + 11
    assert len(again) == len(tok)


def test_titles_in_any_language_round_trip():
    tok = train_tokenizer(TITLES, vocab_size=300, num_levels=1, codebook_size=4)
    for title in ["深夜学习", "love night (remix)", "unseen wörds ✨"]:
        ids = tok(title, add_special_tokens=False)["input_ids"]
        assert tok.unk_token_id not in ids
        assert tok.decode(ids).strip() == title.lower()


def test_cluster_ids_encode_and_decode():
    tok = train_tokenizer(TITLES, vocab_size=300, num_levels=2, codebook_size=8)
    vocab = CodeVocab.from_tokenizer(tok, 2, 8)
    ids = vocab.encode_clusters(["1-2", "7-0", "1-2"])
    assert ids[-1] == vocab.eos_id and len(ids) == 7
    assert vocab.decode_clusters(ids) == (["1-2", "7-0", "1-2"], 0)
    # a level-1 code where a level-0 code belongs, and an unfinished tuple, are invalid
    bad = [vocab.offset + 8 + 1, vocab.offset + 1, vocab.offset + 8 + 2, vocab.offset + 3, vocab.eos_id]
    assert vocab.decode_clusters(bad) == (["1-2"], 2)
