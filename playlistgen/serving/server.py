"""`playlistgen serve`: the bundle behind an HTTP API and a web page, loaded once.

    playlistgen serve --bundle data/bundle [--host 127.0.0.1] [--port 8000]

Endpoints (OpenAPI schema at /openapi.json):
    GET  /                      the web page (no CDN: everything is inline)
    GET  /api/health            which bundle and model are loaded
    POST /api/playlist          {title, n?, seed?, temperature?, beams?, format?} -> playlist (json, m3u or csv)
    GET  /api/playlist          the same from query parameters (download links)
    POST /api/reroll            {title, clusters, n?, seed?, format?} -> new songs from the same clusters
    GET  /api/clusters/{key}    a cluster's songs, size and tags
    POST /api/batch             {titles, n?, temperature?, beams?} -> one playlist per title, one batched decode

Requests that arrive together are decoded together: a MicroBatcher collects them for at most `max_wait_ms` (or
until `max_batch` are waiting) and runs one batched generate per (length, beams, temperature) group in a single
worker thread, so throughput grows with load while one lone request waits only max_wait_ms. Bad requests get a 4xx
JSON body {"error": ..., "field": ...}; nothing a client sends stops the server.

The request models, the batcher, the Service (what each route does) and the routes share one generator and one
error shape; the page itself is in page.py, the output formats in formats.py.
A title a batch cannot use (blank, too long) gets {"title", "error", "field"} in its place; the others are answered.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, Field

from playlistgen.common.limits import MAX_BATCH_TITLES, MAX_BEAMS, MAX_SONGS, MAX_TEMPERATURE, MAX_TITLE_CHARS

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
THREAD_CHECK_S = 30.0  # how often the decode thread re-measures how many cores other processes keep busy


class PlaylistRequest(BaseModel):
    title: str = Field(min_length=1, max_length=MAX_TITLE_CHARS, description="title or mood, any language")
    # strict: a number must be a JSON number ("n": "5" is refused, not read as 5)
    n: int | None = Field(None, strict=True, ge=1, le=MAX_SONGS,
                          description="songs (default: the bundle's playlist_length)")
    seed: int | None = Field(None, strict=True, ge=0, le=2**32 - 1, description="repeatable draw; none = a fresh one")
    temperature: float | None = Field(None, strict=True, gt=0, le=MAX_TEMPERATURE,
                                      description="sample clusters instead of beam search")
    beams: int | None = Field(None, strict=True, ge=1, le=MAX_BEAMS, description="beam width (default: the bundle's)")
    ranked: bool = Field(False, description="the top n of the ranked list the evaluate stage scores, the same each "
                                            "time, instead of one song drawn per cluster slot")
    format: str = Field("json", pattern="^(json|m3u|csv)$")


class RerollRequest(BaseModel):
    title: str = Field(min_length=1, max_length=MAX_TITLE_CHARS)
    clusters: list[str] = Field(min_length=1, max_length=2 * MAX_SONGS)
    n: int | None = Field(None, strict=True, ge=1, le=MAX_SONGS)
    seed: int | None = Field(None, strict=True, ge=0, le=2**32 - 1)
    format: str = Field("json", pattern="^(json|m3u|csv)$")


class BatchRequest(BaseModel):
    titles: list[str] = Field(min_length=1, max_length=MAX_BATCH_TITLES)
    n: int | None = Field(None, strict=True, ge=1, le=MAX_SONGS)
    temperature: float | None = Field(None, strict=True, gt=0, le=MAX_TEMPERATURE)
    beams: int | None = Field(None, strict=True, ge=1, le=MAX_BEAMS)
    seed: int | None = Field(None, strict=True, ge=0, le=2**32 - 1)


@dataclass
class _Job:
    title: str
    n: int
    beams: int | None
    temperature: float | None
    seed: int | None
    finish: object  # clusters -> the answer, run on the decode thread right after the batch (or None)
    future: asyncio.Future = field(repr=False)


class MicroBatcher:
    """Collects concurrent cluster-generation requests and decodes them in batches on one worker thread."""

    def __init__(self, gen, max_batch: int = 32, max_wait_ms: float = 10.0):
        self.gen, self.max_batch, self.max_wait = gen, max(1, max_batch), max(0.0, max_wait_ms) / 1000
        self.queue: asyncio.Queue | None = None
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="decode")
        self.batches = Counter()  # batch size -> how many batches of it ran (for /api/health and the bench)
        self._task = None

    def start(self) -> None:
        self.queue = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self.worker.shutdown(wait=False, cancel_futures=True)

    async def clusters(self, title: str, n: int, beams: int | None, temperature: float | None,
                       seed: int | None, finish=None):
        """The title's generated clusters, or `finish(clusters)` when given: it runs on the decode thread right
        after the batch, before the next batch starts, so answering never waits behind another decode."""
        future = asyncio.get_running_loop().create_future()
        await self.queue.put(_Job(title, n, beams, temperature, seed, finish, future))
        return await future

    def _decode(self, jobs: list[_Job], n, beams, temperature, seed) -> list:
        clusters = self.gen.generate_clusters_batch([j.title for j in jobs], n, beams, temperature, seed,
                                                    for_ranking=any(job.finish is not None for job in jobs))
        out = []
        for job, c in zip(jobs, clusters):
            try:
                out.append(job.finish(c) if job.finish is not None else c)
            except Exception as e:  # noqa: BLE001 - this request's error, not the batch's
                out.append(e)
        return out

    async def _run(self) -> None:
        from playlistgen.common import threads

        loop = asyncio.get_running_loop()
        checked = loop.time()
        while True:
            batch = [await self.queue.get()]
            if loop.time() - checked > THREAD_CHECK_S:  # other processes come and go: fit the threads to the cores
                checked = loop.time()
                await loop.run_in_executor(self.worker, threads.configure)
            deadline = loop.time() + self.max_wait
            while len(batch) < self.max_batch:
                timeout = deadline - loop.time()
                if timeout <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self.queue.get(), timeout))
                except asyncio.TimeoutError:
                    break
            groups: dict[tuple, list[_Job]] = {}
            for job in batch:
                # sampled decoding with a seed is repeatable only alone: its seed sets the generator for the batch
                key = (job.n, job.beams, job.temperature, job.seed if job.temperature is not None else None)
                groups.setdefault(key, []).append(job)
            for (n, beams, temperature, seed), jobs in groups.items():
                self.batches[len(jobs)] += 1
                try:
                    result = await loop.run_in_executor(self.worker, self._decode, jobs, n, beams, temperature,
                                                        seed)
                except Exception as e:  # noqa: BLE001 - the error goes to every waiting request, not the loop
                    result = [e] * len(jobs)
                for j, answer in zip(jobs, result):
                    if j.future.done():
                        continue
                    if isinstance(answer, Exception):
                        j.future.set_exception(answer)
                    else:
                        j.future.set_result(answer)


class Service:
    """What the routes do, over one loaded PlaylistGenerator and its MicroBatcher; every answer is a dict, a
    Response, or an error(...) JSONResponse."""

    def __init__(self, gen, batcher: MicroBatcher):
        self.gen, self.batcher = gen, batcher

    def describe(self, clusters: list[str]) -> list[dict]:
        out = []
        for key in dict.fromkeys(clusters):
            songs = self.gen.index.songs_in_cluster.get(key, [])
            tags = Counter(t for s in songs for t in self.gen.songs[s].get("tags") or [])
            out.append({"cluster": key, "size": len(songs), "tags": [t for t, _ in tags.most_common(4)]})
        return out

    def respond(self, title: str, clusters: list[str], n: int, seed: int | None, fmt: str, ranked: bool = False,
                within: bool = False):
        """Draw (or with `ranked`, rank) the songs on the decode thread (the title encoder and the model are not
        shared across threads) and format; the clusters described are those the songs came from (a re-roll sends
        them back, and `within` draws inside them)."""
        from fastapi.responses import Response

        from playlistgen.serving.formats import render

        seed = seed if seed is not None else int(time.time_ns() % (2**32))
        tracks = (self.gen.ranked_playlist(title, n, clusters) if ranked else
                  self.gen.playlist_from_clusters(title, clusters, n, seed, within=within))
        if fmt != "json":
            media = "audio/x-mpegurl" if fmt == "m3u" else "text/csv"
            return Response(render(tracks, fmt, title) + "\n", media_type=f"{media}; charset=utf-8",
                            headers={"Content-Disposition": f'attachment; filename="playlist.{fmt}"'})
        return {"title": title, "n": n, "seed": seed, "clusters": self.describe([t.cluster for t in tracks]),
                "tracks": [t.to_json() for t in tracks], "notice": self.gen.notices([title])[0]}

    async def on_worker(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.batcher.worker, fn, *args)

    async def playlist(self, req: PlaylistRequest):
        from playlistgen.inference.generator import TitleError

        try:
            title = self.gen.prepare_title(req.title)
        except TitleError as e:
            return error(422, str(e), "title")
        n = req.n or self.gen.policy.playlist_length
        return await self.batcher.clusters(title, n, req.beams, req.temperature, req.seed,
                                           finish=lambda clusters: self.respond(title, clusters, n, req.seed,
                                                                                req.format, req.ranked))

    async def reroll(self, req: RerollRequest):
        from playlistgen.inference.generator import TitleError

        try:
            title = self.gen.prepare_title(req.title)
        except TitleError as e:
            return error(422, str(e), "title")
        unknown = [k for k in req.clusters if k not in self.gen.index.songs_in_cluster]
        if unknown:
            return error(422, f"no cluster {unknown[0]!r} in this bundle", "clusters")
        n = req.n or self.gen.policy.playlist_length
        return await self.on_worker(lambda: self.respond(title, req.clusters, n, req.seed, req.format, within=True))

    async def batch(self, req: BatchRequest):
        """One playlist per title; a title that cannot be used (blank, too long) gets {"title", "error"} in its
        place and the others are answered, as `generate-playlist --titles-file` does."""
        from playlistgen.inference.generator import TitleError

        titles, errors = {}, {}
        for i, t in enumerate(req.titles):
            try:
                if len(t) > MAX_TITLE_CHARS:
                    raise TitleError(f"at most {MAX_TITLE_CHARS} characters")
                titles[i] = self.gen.prepare_title(t)
            except TitleError as e:
                errors[i] = {"title": t, "error": f"titles[{i}]: {e}", "field": f"titles.{i}"}
        n = req.n or self.gen.policy.playlist_length
        base = req.seed if req.seed is not None else int(time.time_ns() % (2**32))

        def run() -> dict:
            decoded = self.gen.generate_clusters_batch(list(titles.values()), n, req.beams, req.temperature,
                                                       req.seed, for_ranking=True) if titles else []
            answers = {i: self.respond(t, c, n, (base + i) % 2**32, "json")
                       for (i, t), c in zip(titles.items(), decoded)}
            return {"playlists": [answers.get(i) or errors[i] for i in range(len(req.titles))]}

        return await self.on_worker(run)

    def health(self) -> dict:
        gen = self.gen
        # the bundle's folder name, not its path: the server's file layout is not the client's business
        return {"status": "ok", "bundle": Path(gen.bundle_dir).resolve().name, "songs": len(gen.songs),
                "clusters": len(gen.index.songs_in_cluster),
                "model_parameters": sum(p.numel() for p in gen.model.parameters()),
                "format_version": gen.manifest.get("format_version"), "decode": gen.policy.to_dict(),
                "ranking": gen.ranking.to_dict(), "batches": dict(sorted(self.batcher.batches.items()))}

    def page(self) -> str:
        from playlistgen.serving.page import PAGE

        return (PAGE.replace("__N__", str(self.gen.policy.playlist_length)).replace("__MAX__", str(MAX_SONGS))
                .replace("__MAX_TITLE__", str(MAX_TITLE_CHARS)))


def error(status: int, message: str, field_name: str | None = None):
    """The one error shape: {"error": what is wrong, "field": which part of the request}."""
    from fastapi.responses import JSONResponse

    return JSONResponse({"error": message, "field": field_name}, status_code=status)


def install_error_handlers(app) -> None:
    """Bad requests as 4xx {"error", "field"}; a bug fails one request with 500, never the server."""
    from fastapi import Request
    from fastapi.exceptions import RequestValidationError

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()) if x not in ("body", "query", "path"))
        if first.get("type") == "json_invalid":
            return error(400, "the request body is not valid JSON", "body")
        return error(422, f"{where or 'request'}: {first.get('msg', 'invalid')}", where or None)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception):
        log.exception("request %s failed", request.url.path)
        return error(500, f"internal error ({type(exc).__name__}); the server keeps running")

    @app.middleware("http")
    async def bounded(request: Request, call_next):
        size = request.headers.get("content-length")
        if size is not None and (not size.isdigit() or int(size) > MAX_BODY_BYTES):
            return error(413, f"request body over {MAX_BODY_BYTES} bytes", "body")
        return await call_next(request)


def add_routes(app, svc: Service) -> None:
    from fastapi import Body, Query
    from fastapi.responses import HTMLResponse, PlainTextResponse

    @app.post("/api/playlist", summary="a playlist for a title")
    async def post_playlist(req: PlaylistRequest):
        return await svc.playlist(req)

    @app.get("/api/playlist", summary="a playlist for a title, from query parameters (download links)")
    async def get_playlist(title: str = Query(min_length=1, max_length=MAX_TITLE_CHARS),
                           n: int | None = Query(None, ge=1, le=MAX_SONGS),
                           seed: int | None = Query(None, ge=0, le=2**32 - 1),
                           temperature: float | None = Query(None, gt=0, le=MAX_TEMPERATURE),
                           beams: int | None = Query(None, ge=1, le=MAX_BEAMS), ranked: bool = Query(False),
                           format: str = Query("json", pattern="^(json|m3u|csv)$")):
        return await svc.playlist(PlaylistRequest(title=title, n=n, seed=seed, temperature=temperature, beams=beams,
                                                  ranked=ranked, format=format))

    @app.post("/api/reroll", summary="new songs from the same clusters")
    async def reroll(req: RerollRequest):
        return await svc.reroll(req)

    @app.get("/api/clusters/{key}", summary="a cluster's songs, size and tags")
    async def cluster(key: str, limit: int = Query(50, ge=1, le=1000)):
        if key not in svc.gen.index.songs_in_cluster:
            return error(404, f"no cluster {key!r}; cluster ids look like '12-3'", "key")
        return {**svc.describe([key])[0], "songs": svc.gen.cluster_songs(key)[:limit]}

    @app.post("/api/batch", summary="one playlist per title, decoded in one batch")
    async def batch(req: BatchRequest = Body()):
        return await svc.batch(req)

    @app.get("/api/health", summary="which bundle and model are loaded")
    async def health():
        return svc.health()

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page():
        return svc.page()

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon():
        return PlainTextResponse("", status_code=204)


def create_app(bundle: str | Path, max_batch: int = 32, max_wait_ms: float = 10.0, gen=None):
    """The FastAPI app serving `bundle` (or an already loaded PlaylistGenerator `gen`)."""
    from contextlib import asynccontextmanager

    from fastapi import FastAPI

    from playlistgen.inference.generator import PlaylistGenerator

    gen = gen if gen is not None else PlaylistGenerator(bundle)
    svc = Service(gen, MicroBatcher(gen, max_batch, max_wait_ms))

    @asynccontextmanager
    async def lifespan(app):
        svc.batcher.start()
        yield
        await svc.batcher.stop()

    app = FastAPI(title="playlistgen", version="1", lifespan=lifespan,
                  description="Turn a playlist title or mood into a playlist of real songs.",
                  docs_url=None, redoc_url=None)  # Swagger UI would load its scripts from a CDN
    install_error_handlers(app)
    add_routes(app, svc)
    return app


def serve(bundle: str, host: str = "127.0.0.1", port: int = 8000, max_batch: int = 32,
          max_wait_ms: float = 10.0) -> None:
    import uvicorn

    app = create_app(bundle, max_batch, max_wait_ms)
    log.warning("serving %s on http://%s:%d/ (API under /api, schema at /openapi.json)", bundle, host, port)
    uvicorn.run(app, host=host, port=port, log_level="warning")
