"""`playlistgen serve`: the API on the tiny pipeline's bundle (in-process), concurrent requests batched, bad
requests answered with 4xx JSON naming the field, and the web page driven in a real headless Chromium."""
import concurrent.futures
import json

import pytest

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from playlistgen.serving.server import MicroBatcher, create_app  # noqa: E402


@pytest.fixture(scope="module")
def gen(tiny_project):
    from playlistgen import PlaylistGenerator

    return PlaylistGenerator(tiny_project / "data/bundle")


@pytest.fixture(scope="module")
def client(gen, tiny_project):
    with TestClient(create_app(tiny_project / "data/bundle", max_batch=16, max_wait_ms=30, gen=gen)) as c:
        yield c


def gen_params(project):
    import yaml

    return yaml.safe_load((project / "params.yaml").read_text())


def test_health_says_which_bundle_and_model(client, tiny_project):
    body = client.get("/api/health").json()
    assert body["status"] == "ok" and body["bundle"] == "bundle" and "/" not in body["bundle"]  # no server path
    assert body["ranking"]["title_ranking"] == gen_params(tiny_project)["evaluate"]["title_ranking"]
    assert body["songs"] > 0 and body["clusters"] > 0 and body["model_parameters"] > 0
    assert body["decode"]["playlist_length"] == 20


def test_playlist_reroll_clusters_and_formats(client, gen):
    a = client.post("/api/playlist", json={"title": "rainy sunday piano", "n": 8, "seed": 3}).json()
    assert len(a["tracks"]) == 8 and a["seed"] == 3 and a["clusters"]
    assert all(c["size"] == len(gen.index.songs_in_cluster[c["cluster"]]) for c in a["clusters"])
    again = client.post("/api/playlist", json={"title": "rainy sunday piano", "n": 8, "seed": 3}).json()
    assert again["tracks"] == a["tracks"]  # a seed repeats the draw
    keys = [c["cluster"] for c in a["clusters"]]
    rerolls = {tuple(t["song_id"] for t in client.post("/api/reroll", json={
        "title": "rainy sunday piano", "clusters": keys, "n": 8, "seed": s}).json()["tracks"]) for s in range(4)}
    assert len(rerolls) > 1
    for r in rerolls:
        assert all(gen.index.cluster_of_song[s] in keys for s in r)
    m3u = client.get("/api/playlist", params={"title": "rain", "n": 4, "seed": 1, "format": "m3u"})
    assert m3u.status_code == 200 and m3u.text.startswith("#EXTM3U") and "attachment" in m3u.headers[
        "content-disposition"]
    csv_ = client.post("/api/playlist", json={"title": "深夜学习", "n": 4, "format": "csv"})
    assert csv_.text.splitlines()[0] == "position,song_id,title,artist,cluster,tags" and len(csv_.text.splitlines()) == 5
    info = client.get(f"/api/clusters/{keys[0]}", params={"limit": 3}).json()
    assert info["cluster"] == keys[0] and len(info["songs"]) <= 3
    assert "openapi" in client.get("/openapi.json").json()


def test_ranked_playlist_is_the_generators_ranked_list(client, gen):
    body = client.post("/api/playlist", json={"title": "rainy sunday piano", "n": 8, "ranked": True}).json()
    ids = [t["song_id"] for t in body["tracks"]]
    assert ids == [t.song_id for t in gen.ranked_playlist("rainy sunday piano", 8)]
    again = client.get("/api/playlist", params={"title": "rainy sunday piano", "n": 8, "ranked": "true"}).json()
    assert [t["song_id"] for t in again["tracks"]] == ids  # no seed needed: the ranked list does not vary


def test_batch_endpoint_gives_one_playlist_per_title(client):
    body = client.post("/api/batch", json={"titles": ["rain", "gym rock", "深夜学习"], "n": 5, "seed": 1}).json()
    assert [p["title"] for p in body["playlists"]] == ["rain", "gym rock", "深夜学习"]
    assert all(len(p["tracks"]) == 5 for p in body["playlists"])


def test_a_batch_answers_every_usable_title_and_names_the_others(client):
    """As `generate-playlist --titles-file`: one unusable title does not fail the batch."""
    r = client.post("/api/batch", json={"titles": ["rain", "  ", "x" * 501, "gym rock"], "n": 4, "seed": 1})
    assert r.status_code == 200, r.text
    answers = r.json()["playlists"]
    assert [len(a.get("tracks", [])) for a in answers] == [4, 0, 0, 4]
    assert answers[1]["field"] == "titles.1" and "empty" in answers[1]["error"]
    assert answers[2]["field"] == "titles.2" and "500" in answers[2]["error"]
    assert answers[3]["title"] == "gym rock" and answers[3]["seed"] == 4  # title i is drawn with seed + i


BAD = [
    ("post", "/api/playlist", {"title": ""}, 422, "title"),
    ("post", "/api/playlist", {"title": "   "}, 422, "title"),
    ("post", "/api/playlist", {"title": "x" * 501}, 422, "title"),
    ("post", "/api/playlist", {"n": 5}, 422, "title"),
    ("post", "/api/playlist", {"title": "rain", "n": 0}, 422, "n"),
    ("post", "/api/playlist", {"title": "rain", "n": 501}, 422, "n"),
    ("post", "/api/playlist", {"title": "rain", "n": "5"}, 422, "n"),  # a number, not a string that reads as one
    ("post", "/api/playlist", {"title": "rain", "n": "many"}, 422, "n"),
    ("post", "/api/playlist", {"title": "rain", "format": "xml"}, 422, "format"),
    ("post", "/api/playlist", {"title": "rain", "temperature": 0}, 422, "temperature"),
    ("post", "/api/playlist", {"title": "rain", "beams": 99}, 422, "beams"),
    ("post", "/api/playlist", {"title": "rain", "seed": -1}, 422, "seed"),
    ("post", "/api/playlist", {"title": ["a"]}, 422, "title"),
    ("post", "/api/reroll", {"title": "rain", "clusters": ["nope"]}, 422, "clusters"),
    ("post", "/api/reroll", {"title": "rain", "clusters": []}, 422, "clusters"),
    ("post", "/api/batch", {"titles": []}, 422, "titles"),
    ("post", "/api/batch", {"titles": ["x"] * 257}, 422, "titles"),
    ("get", "/api/clusters/nope", None, 404, "key"),
    ("get", "/api/playlist?title=rain&n=abc", None, 422, "n"),
    ("get", "/api/playlist", None, 422, "title"),
]


@pytest.mark.parametrize("method,path,body,status,field", BAD, ids=[f"{p} {json.dumps(b)[:40]}" for _, p, b, _, _ in BAD])
def test_bad_requests_get_4xx_json_naming_the_field(client, method, path, body, status, field):
    r = client.post(path, json=body) if method == "post" else client.get(path)
    assert r.status_code == status, r.text
    assert r.json()["field"] == field and r.json()["error"]


def test_malformed_json_and_huge_body(client):
    r = client.post("/api/playlist", content=b'{"title": "rain"', headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["field"] == "body"
    r = client.post("/api/playlist", content=b"x" * (65 * 1024), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert client.get("/api/health").status_code == 200  # still serving


def test_concurrent_requests_are_decoded_together(gen, tiny_project):
    app = create_app(tiny_project / "data/bundle", max_batch=16, max_wait_ms=200, gen=gen)
    with TestClient(app) as c:
        titles = [f"road trip {i}" for i in range(12)]
        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            answers = list(pool.map(lambda t: c.post("/api/playlist", json={"title": t, "n": 5}), titles))
        assert all(a.status_code == 200 for a in answers)
        batches = c.get("/api/health").json()["batches"]
    assert max(int(k) for k in batches) > 1  # at least one decode served several requests
    # batching does not change the answer: each title's first song comes from the cluster its lone decode ranks first
    assert [a.json()["clusters"][0]["cluster"] for a in answers] == [
        gen.index.cluster_of_song[gen.ranked_songs(t, gen.generate_clusters(t, 5), 5)[0]] for t in titles]


def test_batcher_passes_a_decode_error_to_the_waiting_request():
    import asyncio

    class Broken:
        def generate_clusters_batch(self, *args, **kwargs):
            raise ValueError("boom")

    async def go():
        b = MicroBatcher(Broken(), max_batch=4, max_wait_ms=1)
        b.start()
        try:
            with pytest.raises(ValueError, match="boom"):
                await b.clusters("t", 3, None, None, None)
        finally:
            await b.stop()

    asyncio.run(go())


def test_an_unfamiliar_title_is_answered_with_a_notice(client):
    odd = client.post("/api/playlist", json={"title": "zxqv blorpt kwyjibo", "n": 3, "seed": 1}).json()
    assert len(odd["tracks"]) == 3 and "no training playlist has a title like" in odd["notice"]
    assert client.post("/api/playlist", json={"title": "rainy sunday piano", "n": 3}).json()["notice"] is None
