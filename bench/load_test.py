"""Load test of `tutor serve`, loopback only and bounded in time.

N clients (default 20) ask for a fixed time (default 60 s), each in its own session with its own
topic, cycling through: a concept question (POST /api/ask), a follow-up that only makes sense in
that session ("它有什么特点？", streamed over SSE from /api/ask/stream), and an n-gram demo on a
sentence unique to the client. Every answer is checked to belong to its own client: the session id
is echoed, the follow-up was resolved with the client's own topic, the demo scored the client's own
sentence — anything else counts as a crossed session. Meanwhile a saboteur sends malformed JSON,
huge bodies, invalid UTF-8 and drops streams mid-answer; afterwards the server must still be healthy.

    python bench/load_test.py                      # starts its own server on a free loopback port
    python bench/load_test.py --url http://127.0.0.1:7860 --clients 20 --duration 60

Prints p50/p95 latency per kind of request and overall. Exit status 1 on any error or crossed session.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import httpx

ROOT = Path(__file__).resolve().parent.parent
TOPICS = [
    "BERT", "GPT", "Transformer", "LoRA", "RNN", "LSTM", "NNLM", "RLHF", "SFT", "LangChain", "位置编码", "词向量",
    "思维链", "预训练", "微调", "自注意力", "多头注意力", "统计语言模型", "编码器", "解码器", "上下文学习", "n-gram",
]
FOLLOW_UP = "它有什么特点？"
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
MAX_CLIENTS, MAX_DURATION = 100, 300.0


def percentile(xs: list[float], p: float) -> float:
    if not xs:
        return 0.0
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def parse_sse(text: str) -> list[tuple[str, dict]]:
    out = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            out.append((fields["event"], json.loads(fields.get("data", "{}"))))
    return out


class Stats:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = {"ask": [], "stream": [], "demo": []}
        self.errors: list[str] = []
        self.crossed = 0
        self.abuse_sent = 0
        self.abuse_5xx = 0

    def error(self, msg: str) -> None:
        self.errors.append(msg[:300])


async def client_loop(i: int, url: str, topic: str, deadline: float, stats: Stats, run_id: str) -> None:
    sid = f"load-{run_id}-{i:02d}"
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        k = 0
        while time.monotonic() < deadline:
            kind = ("ask", "stream", "demo")[k % 3]
            t0 = time.perf_counter()
            try:
                if kind == "ask":
                    q = f"什么是{topic}？"
                    r = await http.post("/api/ask", json={"question": q, "session_id": sid})
                    if r.status_code != 200:
                        stats.error(f"client {i} ask: HTTP {r.status_code} {r.text[:120]}")
                    else:
                        res = r.json()
                        if res["session_id"] != sid or not res["steps"] or res["steps"][0]["tool_input"] != q:
                            stats.crossed += 1
                            stats.error(f"client {i} ask: answer for someone else: {res['session_id']} {res['steps'][:1]}")
                elif kind == "stream":
                    r = await http.post("/api/ask/stream", json={"question": FOLLOW_UP, "session_id": sid})
                    events = parse_sse(r.text) if r.status_code == 200 else []
                    finals = [d for e, d in events if e == "final"]
                    if r.status_code != 200 or not finals or any(e == "error" for e, _ in events):
                        stats.error(f"client {i} stream: HTTP {r.status_code}, events {[e for e, _ in events][:5]}")
                    else:
                        res = finals[0]
                        want = f"{topic} {FOLLOW_UP}"
                        tokens = "".join(d.get("text", "") for e, d in events if e == "token")
                        if res["session_id"] != sid or not res["steps"] or res["steps"][0]["tool_input"] != want or tokens != res["answer"]:
                            stats.crossed += 1
                            stats.error(f"client {i} follow-up resolved as {res['steps'][:1]} (wanted {want!r})")
                else:
                    sentence = f"注意力机制让第{i}号同学第{k}次提问"
                    r = await http.post("/api/ask", json={"question": f"用二元模型给 “{sentence}” 打分", "session_id": sid})
                    if r.status_code != 200:
                        stats.error(f"client {i} demo: HTTP {r.status_code} {r.text[:120]}")
                    elif f"“{sentence}”" not in r.json()["answer"] or r.json()["session_id"] != sid:
                        stats.crossed += 1
                        stats.error(f"client {i} demo: scored someone else's sentence")
            except httpx.HTTPError as e:
                stats.error(f"client {i} {kind}: {type(e).__name__}: {e}")
            stats.latency[kind].append((time.perf_counter() - t0) * 1000)
            k += 1


async def raw(host: str, port: int, data: bytes, read: bool = True) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(data)
        await writer.drain()
        if not read:
            return b""
        return await asyncio.wait_for(reader.read(4096), 10)
    finally:
        writer.transport.abort()  # abrupt: RST, no goodbye


def head(path: str, n: int, extra: str = "") -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {n}\r\n{extra}\r\n".encode()


async def saboteur(url: str, deadline: float, stats: Stats) -> None:
    u = urlparse(url)
    host, port = u.hostname, u.port or 80
    stream_q = json.dumps({"question": "BERT 掩码 “注意力机制是 Transformer 的核心” seed=1"}).encode()
    bad_utf8 = b'{"question": "\xff\xfe\xfa\xfb"}'
    attacks = [
        head("/api/ask", 9) + b"{bad json",
        head("/api/ask", len(bad_utf8)) + bad_utf8,
        head("/api/ask", 50_000_000) + b'{"question": "' + b"A" * 1000,
        head("/api/ask/stream", len(stream_q)) + stream_q,  # read the first bytes, then drop the stream
        head("/v1/chat/completions", 12) + b'{"messages":',
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,
    ]
    n = 0
    while time.monotonic() < deadline:
        data = attacks[n % len(attacks)]
        try:
            resp = await raw(host, port, data)
            stats.abuse_sent += 1
            if resp.startswith(b"HTTP/1.1 5"):
                stats.abuse_5xx += 1
                status_line = resp.split(b"\r\n")[0]
                stats.error(f"abuse #{n % len(attacks)} got {status_line!r}")
        except (OSError, asyncio.TimeoutError):
            stats.abuse_sent += 1
        n += 1
        await asyncio.sleep(0.25)


async def _run(url: str, clients: int, duration: float, abuse: bool) -> dict:
    stats = Stats()
    run_id = uuid.uuid4().hex[:6]
    deadline = time.monotonic() + duration
    t0 = time.monotonic()
    tasks = [client_loop(i, url, TOPICS[i % len(TOPICS)], deadline, stats, run_id) for i in range(clients)]
    if abuse:
        tasks.append(saboteur(url, deadline, stats))
    await asyncio.gather(*tasks)
    wall = time.monotonic() - t0
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            up = (await http.get(url + "/api/health")).status_code == 200
    except httpx.HTTPError:
        up = False
    allx = [x for v in stats.latency.values() for x in v]
    return {
        "clients": clients, "duration_s": round(wall, 1), "requests": len(allx), "throughput_rps": round(len(allx) / wall, 1),
        "errors": stats.errors, "crossed": stats.crossed, "abuse_requests": stats.abuse_sent, "abuse_5xx": stats.abuse_5xx,
        "p50_ms": round(percentile(allx, 50), 1), "p95_ms": round(percentile(allx, 95), 1), "max_ms": round(max(allx, default=0), 1),
        "by_kind": {k: {"n": len(v), "p50_ms": round(percentile(v, 50), 1), "p95_ms": round(percentile(v, 95), 1)} for k, v in stats.latency.items()},
        "server_up_after_abuse": up,
    }


def check_loopback(url: str) -> None:
    host = urlparse(url).hostname or ""
    if host not in LOOPBACK and not host.startswith("127."):
        raise SystemExit(f"refusing to load-test {url}: loopback addresses only (127.0.0.0/8, localhost, ::1)")


def run_load(url: str, clients: int = 20, duration: float = 60.0, abuse: bool = True) -> dict:
    """Run the load test against a server already listening on a loopback `url`; return the report."""
    check_loopback(url)
    clients = max(1, min(int(clients), MAX_CLIENTS))
    duration = max(1.0, min(float(duration), MAX_DURATION))
    return asyncio.run(_run(url.rstrip("/"), clients, duration, abuse))


def start_server(port: int) -> subprocess.Popen:
    env = {**os.environ, "TUTOR_RATE_LIMIT_PER_MINUTE": "0", "GRADIO_ANALYTICS_ENABLED": "False"}
    log = open(Path(tempfile.gettempdir()) / f"tutor-load-test-{port}.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "ui.serve", "127.0.0.1", str(port)], cwd=str(ROOT), env=env, stdout=log, stderr=subprocess.STDOUT)
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit(f"server exited ({proc.returncode}); see {log.name}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.terminate()
    raise SystemExit("server did not start in 5 minutes")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", help="a running server (loopback only); default: start one (rate limit off) on a free port")
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--duration", type=float, default=60.0, help="seconds (at most 300)")
    ap.add_argument("--no-abuse", action="store_true", help="skip the malformed/huge/invalid/disconnect traffic")
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    a = ap.parse_args(argv)
    proc = None
    url = a.url
    if not url:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        print(f"starting a server on 127.0.0.1:{port} …", file=sys.stderr)
        proc = start_server(port)
        url = f"http://127.0.0.1:{port}"
    try:
        rep = run_load(url, a.clients, a.duration, abuse=not a.no_abuse)
        if proc is not None:
            rep["server_process_alive"] = proc.poll() is None
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(15)
    if a.json:
        print(json.dumps(rep, ensure_ascii=False, indent=2))
    else:
        print(f"{rep['clients']} clients × {rep['duration_s']} s: {rep['requests']} requests ({rep['throughput_rps']} req/s), "
              f"errors {len(rep['errors'])}, crossed sessions {rep['crossed']}")
        print(f"latency p50 {rep['p50_ms']} ms, p95 {rep['p95_ms']} ms, max {rep['max_ms']} ms")
        for k, v in rep["by_kind"].items():
            print(f"  {k:7s} n={v['n']:5d}  p50 {v['p50_ms']:8.1f} ms  p95 {v['p95_ms']:8.1f} ms")
        print(f"abuse requests {rep['abuse_requests']} (5xx: {rep['abuse_5xx']}); server up afterwards: {rep['server_up_after_abuse']}")
        for e in rep["errors"][:10]:
            print("  error:", e)
    ok = not rep["errors"] and rep["crossed"] == 0 and rep["server_up_after_abuse"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
