"""The fault-injecting proxy itself, against small real upstreams (http.server, and uvicorn for one ASGI check)."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.faultproxy import STAT_KEYS, FaultProxy


@dataclass(frozen=True)
class Hit:
    n: int  # 1-based arrival number at upstream
    method: str
    path: str
    body: bytes
    complete: bool  # False: the connection ended before Content-Length bytes arrived


@dataclass
class Upstream:
    port: int = 0
    hits: list[Hit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, method: str, path: str, body: bytes, complete: bool) -> int:
        with self.lock:
            n = len(self.hits) + 1
            self.hits.append(Hit(n, method, path, body, complete))
            return n

    def complete(self) -> list[Hit]:
        with self.lock:
            return [h for h in self.hits if h.complete]

    def wait_for(self, predicate: Callable[[list[Hit]], bool], timeout: float = 3.0) -> list[Hit]:
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                hits = list(self.hits)
            if predicate(hits) or time.monotonic() > deadline:
                return hits
            time.sleep(0.01)


def _handler(state: Upstream) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 5

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: bytes, n: int, *, chunked: bool = False) -> None:
            self.send_response(status)
            self.send_header("X-Hit", str(n))
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for start in range(0, len(body), 7000):
                    piece = body[start : start + 7000]
                    self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                self.wfile.write(b"0\r\nX-Trailer: yes\r\n\r\n")
            else:
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            n = state.record("GET", url.path, b"", True)
            if url.path == "/slow":
                time.sleep(float(query["s"]))
            if url.path in ("/big", "/chunked"):
                body = _pattern(int(query["n"]))
                self._reply(200, body, n, chunked=url.path == "/chunked")
            elif url.path == "/empty":
                self.send_response(204)
                self.send_header("X-Hit", str(n))
                self.end_headers()
            else:
                self._reply(200, json.dumps({"path": self.path, "hit": n}).encode(), n)

        def do_HEAD(self) -> None:
            n = state.record("HEAD", self.path, b"", True)
            self.send_response(200)
            self.send_header("Content-Length", "1234")
            self.send_header("X-Hit", str(n))
            self.end_headers()

        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            body = self.rfile.read(length)  # short on EOF: a cut upload
            complete = len(body) == length
            n = state.record("POST", self.path, body, complete)
            if not complete:
                self.close_connection = True
                return
            self._reply(200, body, n)

    return Handler


def _pattern(n: int) -> bytes:
    return (b"0123456789abcdef" * (n // 16 + 1))[:n]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # broken pipes when a fault closed the connection are expected


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    state = Upstream()
    server = _QuietServer(("127.0.0.1", 0), _handler(state))
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(upstream: Upstream) -> Iterator[FaultProxy]:
    with FaultProxy("127.0.0.1", upstream.port, seed=1234) as started:
        yield started


@pytest.fixture
def client(proxy: FaultProxy) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=proxy.url, timeout=5.0) as c:
        yield c


def test_pass_through_keeps_bodies_and_connections(proxy: FaultProxy, client: httpx.Client, upstream: Upstream) -> None:
    got = client.get("/hello?x=1")
    assert got.status_code == 200
    assert got.json() == {"path": "/hello?x=1", "hit": 1}

    assert client.post("/store", content=b"small body").content == b"small body"
    big = os.urandom(1024 * 1024)
    echoed = client.post("/store", content=big)
    assert echoed.status_code == 200
    assert hashlib.sha256(echoed.content).digest() == hashlib.sha256(big).digest()

    # A chunked upstream response reaches the client whole (de-chunked, with a Content-Length).
    chunked = client.get("/chunked", params={"n": 300_000})
    assert chunked.content == _pattern(300_000)
    assert chunked.headers["content-length"] == "300000"
    assert "transfer-encoding" not in chunked.headers

    # A chunked request body from the client reaches upstream with a Content-Length.
    streamed = client.post("/store", content=iter([b"ab", b"cd", b"ef"]))
    assert streamed.content == b"abcdef"

    head = client.head("/anything")
    assert head.status_code == 200 and head.headers["content-length"] == "1234" and head.content == b""
    empty = client.get("/empty")
    assert empty.status_code == 204 and empty.content == b""
    assert client.post("/store", content=b"").content == b""

    assert [(h.method, h.path, len(h.body), h.complete) for h in upstream.hits] == [
        ("GET", "/hello", 0, True),
        ("POST", "/store", 10, True),
        ("POST", "/store", len(big), True),
        ("GET", "/chunked", 0, True),
        ("POST", "/store", 6, True),
        ("HEAD", "/anything", 0, True),
        ("GET", "/empty", 0, True),
        ("POST", "/store", 0, True),
    ]
    stats = proxy.stats
    assert set(stats) == set(STAT_KEYS)
    assert stats["requests"] == stats["forwarded"] == 8
    assert stats["connections"] == 1  # keep-alive on the client side
    assert stats["bytes_up"] > len(big) and stats["bytes_down"] > len(big) + 300_000
    assert all(stats[k] == 0 for k in ("dropped_requests", "dropped_responses", "duplicated", "cut", "refused"))
    assert [r.status for r in proxy.records] == [200, 200, 200, 200, 200, 200, 204, 200]


def test_drop_request_never_reaches_upstream(proxy: FaultProxy, client: httpx.Client, upstream: Upstream) -> None:
    proxy.drop_request = 1.0
    with pytest.raises(httpx.TransportError):
        client.post("/store", content=b"lost on the way")
    with pytest.raises(httpx.TransportError):
        client.get("/hello")
    assert upstream.hits == []
    assert proxy.stats["dropped_requests"] == 2 and proxy.stats["forwarded"] == 0

    proxy.reset_faults()
    assert client.post("/store", content=b"retry").content == b"retry"  # a fresh connection works
    assert [h.body for h in upstream.hits] == [b"retry"]


def test_drop_response_after_upstream_committed(proxy: FaultProxy, client: httpx.Client, upstream: Upstream) -> None:
    proxy.drop_response = 1.0
    with pytest.raises(httpx.TransportError):
        client.post("/store", content=b"op-1")
    # Upstream processed it completely before the client saw the error.
    assert [(h.body, h.complete) for h in upstream.hits] == [(b"op-1", True)]
    stats = proxy.stats
    assert stats["dropped_responses"] == 1 and stats["forwarded"] == 1 and stats["requests"] == 1
    assert proxy.records[0].faults == ("drop_response",) and proxy.records[0].status is None


def test_a_struck_path_gets_its_faults_once_each_whatever_the_dice(
    proxy: FaultProxy, client: httpx.Client, upstream: Upstream
) -> None:
    proxy.strike = {"/store": ["drop_response", "duplicate"]}
    assert client.post("/other", content=b"x").status_code < 500  # another path: no fault owed
    with pytest.raises(httpx.TransportError):
        client.post("/store", content=b"op-1")  # the first request to the path loses its response
    assert client.post("/store", content=b"op-2").content == b"op-2"  # the second is delivered twice
    assert client.post("/store", content=b"op-3").content == b"op-3"  # then the dice (all zero) again
    assert [r.faults for r in proxy.records] == [(), ("drop_response",), ("duplicate",), ()]
    assert proxy.strike == {"/store": []}


def test_cut_request_truncates_the_upload(proxy: FaultProxy, client: httpx.Client, upstream: Upstream) -> None:
    proxy.cut_request_after = 1000
    assert client.post("/store", content=b"short enough").content == b"short enough"  # not longer than N: intact

    with pytest.raises(httpx.TransportError):
        client.post("/store", content=_pattern(100_000))
    hits = upstream.wait_for(lambda hits: len(hits) == 2)
    assert [(len(h.body), h.complete) for h in hits] == [(12, True), (1000, False)]
    assert hits[1].body == _pattern(1000)
    stats = proxy.stats
    assert stats["cut"] == stats["cut_requests"] == 1 and stats["forwarded"] == 1
    assert proxy.records[1].faults == ("cut_request",)


def test_cut_response_gives_a_short_body(proxy: FaultProxy, client: httpx.Client, upstream: Upstream) -> None:
    proxy.cut_response_after = 100
    assert client.get("/big", params={"n": 100}).content == _pattern(100)  # not longer than N: intact
    with pytest.raises(httpx.RemoteProtocolError):
        client.get("/big", params={"n": 10_000})

    # Streaming shows what did arrive: the head and exactly N body bytes.
    received = bytearray()
    with pytest.raises(httpx.RemoteProtocolError), client.stream("GET", "/big", params={"n": 10_000}) as response:
        assert response.status_code == 200
        for piece in response.iter_raw():
            received += piece
    assert bytes(received) == _pattern(100)
    assert len(upstream.hits) == 3
    assert proxy.stats["cut_responses"] == proxy.stats["cut"] == 2


def test_duplicate_sends_each_request_twice(proxy: FaultProxy, client: httpx.Client, upstream: Upstream) -> None:
    proxy.duplicate = 1.0
    delivered: list[int] = []
    for i in range(12):
        body = f"op-{i}".encode()
        response = client.post("/store", content=body)
        assert response.content == body
        copies = [h.n for h in upstream.hits if h.body == body]
        assert len(copies) == 2
        delivered.append(copies.index(int(response.headers["x-hit"])))
    assert set(delivered) == {0, 1}  # sometimes the first copy's response, sometimes the second's
    stats = proxy.stats
    assert stats["duplicated"] == 12 and stats["forwarded"] == 24 == len(upstream.hits)


def test_partition_refuses_then_heals(proxy: FaultProxy, client: httpx.Client, upstream: Upstream) -> None:
    assert client.get("/before").status_code == 200  # leaves a pooled keep-alive connection
    proxy.partitioned = True
    assert proxy.stats["refused"] == 1  # the open connection was reset
    started = time.monotonic()
    for _ in range(3):
        with pytest.raises(httpx.ConnectError):
            client.get("/during")
    with pytest.raises(httpx.ConnectError), httpx.Client(base_url=proxy.url, timeout=5.0) as fresh:
        fresh.post("/store", content=b"x")
    assert time.monotonic() - started < 5.0  # refused at once: one timeout alone would take the clients' 5 s
    assert [h.path for h in upstream.hits] == ["/before"]

    proxy.partitioned = False
    assert client.get("/after").status_code == 200
    assert [h.path for h in upstream.hits] == ["/before", "/after"]


def test_partition_cuts_a_request_in_flight(proxy: FaultProxy, client: httpx.Client, upstream: Upstream) -> None:
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(client.get, "/slow", params={"s": "0.5"})
        upstream.wait_for(lambda hits: len(hits) == 1)
        proxy.partitioned = True
        with pytest.raises(httpx.TransportError):
            pending.result(timeout=5)
    proxy.reset_faults()
    assert not proxy.partitioned
    assert client.get("/again").status_code == 200


def test_delay_adds_time(proxy: FaultProxy, client: httpx.Client) -> None:
    started = time.monotonic()
    client.get("/quick")
    quick = time.monotonic() - started

    proxy.delay = (0.3, 0.4)
    started = time.monotonic()
    client.get("/slowed")
    slowed = time.monotonic() - started
    assert 0.3 <= slowed < 2.0 and slowed > quick
    assert proxy.stats["delayed"] == 1 and proxy.records[1].faults == ("delay",)


def test_reorder_lets_a_later_request_overtake(proxy: FaultProxy, client: httpx.Client, upstream: Upstream) -> None:
    proxy.reorder = 0.5
    proxy.reorder_window = 0.2
    overtaken = 0
    with ThreadPoolExecutor(2) as pool:
        for i in range(10):
            first = pool.submit(client.post, "/store", content=f"a{i}".encode())
            time.sleep(0.05)
            second = pool.submit(client.post, "/store", content=f"b{i}".encode())
            assert first.result(timeout=5).status_code == second.result(timeout=5).status_code == 200
            order = [h.body for h in upstream.hits if h.body in (f"a{i}".encode(), f"b{i}".encode())]
            overtaken += order == [f"b{i}".encode(), f"a{i}".encode()]
    assert 1 <= overtaken < 10
    assert proxy.stats["reordered"] == overtaken
    assert proxy.stats["forwarded"] == 20


def _mixed_run(upstream: Upstream, seed: int) -> tuple[list[tuple[str, ...]], int, dict[str, int]]:
    with FaultProxy("127.0.0.1", upstream.port, seed=seed) as proxy, httpx.Client(base_url=proxy.url) as c:
        proxy.drop_request = 0.2
        proxy.drop_response = 0.2
        proxy.duplicate = 0.2
        errors = 0
        for i in range(30):
            try:
                c.post("/store", content=f"op-{i}".encode())
            except httpx.TransportError:
                errors += 1
        return [r.faults for r in proxy.records], errors, proxy.stats


def test_stats_add_up_and_a_seed_repeats(upstream: Upstream) -> None:
    faults, errors, stats = _mixed_run(upstream, seed=99)
    assert stats["requests"] == len(faults) == 30
    assert errors == stats["dropped_requests"] + stats["dropped_responses"] > 0
    assert stats["duplicated"] > 0
    assert stats["forwarded"] == 30 - stats["dropped_requests"] + stats["duplicated"] == len(upstream.hits)
    assert stats["connections"] == 1 + errors  # every error closes the connection; httpx opens a new one

    again, _, _ = _mixed_run(upstream, seed=99)
    other, _, _ = _mixed_run(upstream, seed=100)
    assert again == faults
    assert other != faults


def test_stop_returns_quickly_with_a_request_in_flight(upstream: Upstream) -> None:
    proxy = FaultProxy("127.0.0.1", upstream.port).start()
    with httpx.Client(base_url=proxy.url, timeout=5.0) as c, ThreadPoolExecutor(1) as pool:
        pending = pool.submit(c.get, "/slow", params={"s": "4.5"})
        upstream.wait_for(lambda hits: len(hits) == 1)
        started = time.monotonic()
        proxy.stop()
        assert time.monotonic() - started < 3.5  # it did not wait for the request's 4.5 s
        with pytest.raises(httpx.TransportError):
            pending.result(timeout=5)
    proxy.stop()  # idempotent


async def _asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Two routes: POST /upload answers with the byte count (or records a disconnect); GET /stream streams chunks."""
    assert scope["type"] == "http"
    state = _ASGI_LOG
    if scope["path"] == "/upload":
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                state.append(("disconnect", size))
                return
            size += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        state.append(("upload", size))
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": str(size).encode()})
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    for i in range(5):  # no Content-Length: uvicorn answers chunked
        await send({"type": "http.response.body", "body": f"part{i};".encode(), "more_body": True})
    await send({"type": "http.response.body", "body": b""})


_ASGI_LOG: list[tuple[str, int]] = []


@pytest.fixture
def uvicorn_port() -> Iterator[int]:
    uvicorn = pytest.importorskip("uvicorn")
    _ASGI_LOG.clear()
    config = uvicorn.Config(_asgi_app, host="127.0.0.1", port=0, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    port: int = server.servers[0].sockets[0].getsockname()[1]
    yield port
    server.should_exit = True
    thread.join(timeout=5)


def test_uvicorn_upstream(uvicorn_port: int) -> None:
    with FaultProxy("127.0.0.1", uvicorn_port, seed=5) as proxy, httpx.Client(base_url=proxy.url) as c:
        assert c.get("/stream").text == "part0;part1;part2;part3;part4;"
        assert c.post("/upload", content=b"x" * 500_000).text == "500000"

        proxy.cut_request_after = 4096
        with pytest.raises(httpx.TransportError):
            c.post("/upload", content=b"y" * 500_000)
        deadline = time.monotonic() + 3
        while len(_ASGI_LOG) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _ASGI_LOG[0] == ("upload", 500_000)
        assert _ASGI_LOG[1][0] == "disconnect" and _ASGI_LOG[1][1] <= 4096

        proxy.reset_faults()
        proxy.drop_response = 1.0
        with pytest.raises(httpx.TransportError):
            c.post("/upload", content=b"z" * 10)
        assert _ASGI_LOG[2] == ("upload", 10)
