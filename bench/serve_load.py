"""Load on `playlistgen serve`: micro-batched against one request at a time, measured in the same run.

    python bench/serve_load.py                               # 16 clients, up to 2,000 requests or 90 s per server
    python bench/serve_load.py --clients 4 --requests 200

Starts the server twice on 127.0.0.1 (a free port): once with micro-batching (--max-batch 32 --max-wait-ms 10),
once as the reference with --max-batch 1 --max-wait-ms 0 (each request decoded alone). Each client keeps one
HTTP connection and sends POST /api/playlist with titles drawn from the test split, until the request budget or the
time limit is spent. Prints p50/p95/p99 latency, requests/s and errors for both, and the ratio of requests/s.
"""
from __future__ import annotations

import argparse
import http.client
import json
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(bundle: str, max_batch: int, max_wait_ms: float) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "playlistgen", "serve", "--bundle", bundle, "--port", str(port),
                             "--max-batch", str(max_batch), "--max-wait-ms", str(max_wait_ms)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(600):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=1)
            return proc, port
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"the server did not start: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.25)
    raise SystemExit("the server did not answer within 150 s")


def drive(port: int, titles: list[str], clients: int, requests: int, max_seconds: float, n: int) -> dict:
    latencies, errors, lock = [], [], threading.Lock()
    budget = iter(range(requests))
    deadline = time.perf_counter() + max_seconds

    def client(seed: int) -> None:
        rng = random.Random(seed)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while time.perf_counter() < deadline:
            with lock:
                if next(budget, None) is None:
                    break
            body = json.dumps({"title": rng.choice(titles), "n": n})
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/api/playlist", body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                payload = response.read()
                ok = response.status == 200 and len(json.loads(payload)["tracks"]) > 0
            except (OSError, http.client.HTTPException, ValueError) as e:
                ok, payload = False, str(e).encode()
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            with lock:
                (latencies if ok else errors).append(time.perf_counter() - t0)
        conn.close()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [float("nan")] * 99
    return {"requests": len(latencies), "errors": len(errors), "seconds": round(wall, 1),
            "requests_per_s": round(len(latencies) / wall, 2),
            "p50_ms": round(1000 * q[49], 1), "p95_ms": round(1000 * q[94], 1), "p99_ms": round(1000 * q[98], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", default=str(ROOT / "data/bundle"))
    parser.add_argument("--titles", default=str(ROOT / "data/work/corpus/test.jsonl"))
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--max-seconds", type=float, default=90.0)
    parser.add_argument("-n", type=int, default=20, help="songs per playlist")
    args = parser.parse_args()
    titles = [json.loads(line)["title"] for line in open(args.titles, encoding="utf-8")][:500]
    results = {}
    for name, batch, wait in (("micro-batched (32, 10 ms)", 32, 10.0), ("one at a time (reference)", 1, 0.0)):
        proc, port = start(args.bundle, batch, wait)
        try:
            drive(port, titles, 2, 4, 60, args.n)  # warm-up
            results[name] = drive(port, titles, args.clients, args.requests, args.max_seconds, args.n)
            health = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health").read())
            results[name]["mean_batch"] = round(
                sum(int(k) * v for k, v in health["batches"].items()) / max(1, sum(health["batches"].values())), 2)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        print(f"{name}: {json.dumps(results[name])}", flush=True)
    batched, single = results.values()
    print(f"{args.clients} clients: micro-batched / one at a time = "
          f"{batched['requests_per_s'] / max(single['requests_per_s'], 1e-9):.2f}x requests/s")


if __name__ == "__main__":
    main()
