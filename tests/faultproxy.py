"""A fault-injecting HTTP/1.1 proxy on loopback, for testing the desk ⇄ registry sync protocol.

Put it between an HTTP client (httpx) and a real upstream server on 127.0.0.1 (uvicorn, ``http.server``, …)::

    with FaultProxy("127.0.0.1", upstream_port, seed=7) as proxy:
        client = httpx.Client(base_url=proxy.url)
        proxy.drop_response = 0.3          # 30 % of responses are lost after the registry committed
        ...
        assert proxy.stats["dropped_responses"] == ...

The proxy runs an asyncio loop in a daemon thread. Every fault is an attribute that the test thread may change at any
time; it takes effect from the next request the proxy reads. Probabilities are drawn from ``random.Random(seed)``,
the same fixed number of draws for every request, so a given seed and a given order of arrival give the same faults.

How it handles HTTP (per request, not per byte):

* Client side: HTTP/1.1 with keep-alive. Request bodies with Content-Length or chunked encoding are read whole, then
  forwarded with a Content-Length. ``Expect: 100-continue`` is answered by the proxy itself.
* Upstream side: one fresh connection per request (and per duplicate), with ``Connection: close``. The response body
  (Content-Length, chunked, or read-to-EOF) is read whole and sent to the client with a Content-Length, so a chunked
  upstream response reaches the client de-chunked. 1xx interim responses from upstream are skipped.
* Headers pass through unchanged (Host included) except hop-by-hop ones.
* If upstream cannot be reached or answers garbage, the client connection is closed without a response (the client
  sees a transport error, as it would talking to a dead server directly); ``stats["upstream_errors"]`` counts these.
* Every socket operation has a timeout (``io_timeout``, 10 s); ``stop()`` aborts every connection and returns within
  about two seconds.

API: ``FaultProxy(upstream_host, upstream_port, *, seed=0, io_timeout=10.0, reorder_window=0.25)``; ``start()``
(returns self), ``stop()``, or use it as a context manager; ``url`` / ``port``; the fault attributes below;
``reset_faults()``; ``stats`` (a snapshot dict, keys in ``STAT_KEYS``), ``records`` (one ``Record`` per request, with
the faults that struck it and the status the client got), ``reset_stats()`` (clears both).

Faults, checked in this order for each request:

``partitioned``          the listening socket is closed, so new connections are refused (httpx.ConnectError), and
                         every open connection, client or upstream, is reset when the partition begins. Setting it
                         back to False listens again on the same port. (A spare socket keeps the port reserved.)
``drop_request``         the request is read, then the client connection is closed; upstream never sees it.
``delay``                (lo, hi): seconds to wait before forwarding, drawn uniformly.
``reorder``              the request is held (up to ``reorder_window`` s) until a later request has arrived, been sent
                         upstream and been answered. A request that arrives while another is held is never held
                         itself: it is the one that overtakes.
``cut_request_after``    N: when the body is longer than N bytes, upstream gets the head and the first N body bytes,
                         then EOF; the client connection is closed without a response.
``duplicate``            the request is sent upstream twice, one after the other; the client gets the first or the
                         second response (a coin from the same RNG), the other is discarded.
``drop_response``        upstream processes the request fully; the client connection is closed without a response.
``cut_response_after``   N: when the response body is longer than N bytes, the client gets the full head and the
                         first N body bytes, then the connection closes (httpx raises RemoteProtocolError).

Limitations: bodies are buffered in memory (fine for the protocol's 64 MiB blobs, useless for endless streams such as
server-sent events); no HTTP/2, no TLS, no upgrades (WebSocket); the fault decisions are deterministic only as far as
the order in which concurrent requests reach the proxy is.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import threading
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any, TypeVar

__all__ = ["STAT_KEYS", "FaultProxy", "Record"]

STAT_KEYS = (
    "connections",  # client connections accepted
    "requests",  # requests read from clients (complete head and body)
    "forwarded",  # complete request copies delivered to upstream (a duplicated request counts 2)
    "dropped_requests",
    "dropped_responses",
    "duplicated",
    "cut",  # cut_requests + cut_responses
    "cut_requests",
    "cut_responses",
    "delayed",
    "reordered",  # held requests that a later request did overtake
    "refused",  # connections reset because of a partition (refused connects never reach the proxy)
    "upstream_errors",
    "bytes_up",  # bytes written to upstream (heads and bodies)
    "bytes_down",  # bytes written to clients
)

_T = TypeVar("_T")
_MAX_HEAD = 64 * 1024
_PIECE = 256 * 1024
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "expect"}
)


class _Closed(Exception):
    """The connection is over: EOF, a malformed message, or a fault closed it."""


@dataclass(frozen=True)
class Record:
    """One request as the proxy saw it, appended before the client sees the outcome."""

    seq: int  # arrival order, from 1
    method: str
    target: str
    faults: tuple[str, ...]  # the faults that struck it: "drop_request", "delay", "reorder", "cut_request", …
    status: int | None  # the status sent to the client, None when the client got no (complete) response


@dataclass
class _Message:
    start: str  # request line or status line
    headers: list[tuple[str, str]]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    def tokens(self, name: str) -> set[str]:
        """The comma-separated tokens of every header called `name`, lower-cased."""
        name = name.lower()
        return {t.strip().lower() for key, value in self.headers if key.lower() == name for t in value.split(",")}


@dataclass(frozen=True)
class _Dice:
    drop_request: bool
    delay: float
    reorder: bool
    duplicate: bool
    deliver_second: bool
    drop_response: bool


class FaultProxy:
    """A loopback HTTP/1.1 proxy that injects faults; see the module docstring."""

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        *,
        seed: int = 0,
        io_timeout: float = 10.0,
        reorder_window: float = 0.25,
    ) -> None:
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.io_timeout = io_timeout
        self.reorder_window = reorder_window
        self._rng = random.Random(seed)
        self.drop_request: float = 0.0
        self.drop_response: float = 0.0
        self.delay: tuple[float, float] = (0.0, 0.0)
        self.cut_request_after: int | None = None
        self.cut_response_after: int | None = None
        self.duplicate: float = 0.0
        self.reorder: float = 0.0
        # Faults that must strike requests to a path at least once whatever the dice say: {"/v1/ops": ["drop_response",
        # "duplicate"]} gives the first such request a lost response and the next one a duplicate.
        self.strike: dict[str, list[str]] = {}
        self._partitioned = False
        self._stats: dict[str, int] = dict.fromkeys(STAT_KEYS, 0)
        self.records: list[Record] = []
        self._port = 0
        self._placeholder: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._writers: dict[asyncio.StreamWriter, str] = {}  # open connections -> "client" | "upstream"
        self._seq = 0
        self._held = 0
        self._last_done = 0  # the highest arrival seq whose upstream exchange has finished
        self._done_changed: asyncio.Condition | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        """Bind 127.0.0.1 on a free port and serve from a daemon thread. Returns self."""
        if self._loop is not None:
            raise RuntimeError("FaultProxy already started")
        listener = self._bind(0)
        self._port = listener.getsockname()[1]
        # A second, never-listening socket on the same port keeps it ours while a partition has the listener closed
        # (Linux allows it with SO_REUSEADDR on both, as long as it binds before the listener listens).
        with contextlib.suppress(OSError):
            self._placeholder = self._bind(self._port)
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=self._run, name=f"faultproxy-{self._port}", daemon=True)
        self._thread.start()
        if self._partitioned:
            listener.close()
        else:
            asyncio.run_coroutine_threadsafe(self._listen(listener), loop).result(timeout=5)
        return self

    def stop(self) -> None:
        """Abort every connection and stop the thread; returns within about two seconds. Idempotent."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or self._stopped:
            return
        self._stopped = True
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=1.5)
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=1.0)
        if self._placeholder is not None:
            self._placeholder.close()
            self._placeholder = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (valid after start())."""
        return f"http://127.0.0.1:{self._port}"

    @property
    def stats(self) -> dict[str, int]:
        """A snapshot of the counters (keys: STAT_KEYS)."""
        return dict(self._stats)

    def reset_stats(self) -> None:
        self._stats = dict.fromkeys(STAT_KEYS, 0)
        self.records = []

    def reset_faults(self) -> None:
        """Switch every fault off (heals a partition too). Counters and the RNG carry on."""
        self.drop_request = 0.0
        self.drop_response = 0.0
        self.delay = (0.0, 0.0)
        self.cut_request_after = None
        self.cut_response_after = None
        self.duplicate = 0.0
        self.reorder = 0.0
        self.partitioned = False

    @property
    def partitioned(self) -> bool:
        return self._partitioned

    @partitioned.setter
    def partitioned(self, value: bool) -> None:
        """Takes effect before returning: afterwards connects are refused (True) or accepted again (False)."""
        value = bool(value)
        if value == self._partitioned:
            return
        self._partitioned = value
        loop = self._loop
        if loop is None or self._stopped:
            return
        if threading.current_thread() is self._thread:
            raise RuntimeError("set FaultProxy.partitioned from the test thread, not the proxy's loop")
        asyncio.run_coroutine_threadsafe(self._apply_partition(value), loop).result(timeout=5)

    # -- loop thread -------------------------------------------------------------------------------------------

    @staticmethod
    def _bind(port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
        except OSError:
            sock.close()
            raise
        return sock

    def _run(self) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            with contextlib.suppress(Exception):
                pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.wait(pending, timeout=0.5))
            loop.close()

    async def _listen(self, sock: socket.socket) -> None:
        sock.listen(128)
        sock.setblocking(False)
        self._server = await asyncio.start_server(self._serve_client, sock=sock, limit=_MAX_HEAD)

    async def _apply_partition(self, down: bool) -> None:
        if down:
            if self._server is not None:
                self._server.close()
                self._server = None
            for writer, side in list(self._writers.items()):
                if side == "client":
                    self._count("refused")
                writer.transport.abort()
        elif self._server is None:
            last: OSError | None = None
            for _ in range(20):
                try:
                    await self._listen(self._bind(self._port))
                    return
                except OSError as exc:  # the port may linger without the placeholder; try for about a second
                    last = exc
                    await asyncio.sleep(0.05)
            raise RuntimeError(f"FaultProxy could not listen on port {self._port} again: {last}")

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)

    def _count(self, key: str, n: int = 1) -> None:
        self._stats[key] = self._stats.get(key, 0) + n

    def _draw(self) -> _Dice:
        """Always six draws per request, whatever the settings, so one seed gives one sequence of decisions."""
        rng = self._rng
        lo, hi = self.delay
        u_drop_request = rng.random()
        delay = rng.uniform(lo, hi)
        u_reorder = rng.random()
        u_duplicate = rng.random()
        u_second = rng.random()
        u_drop_response = rng.random()
        return _Dice(
            drop_request=u_drop_request < self.drop_request,
            delay=max(0.0, delay),
            reorder=u_reorder < self.reorder,
            duplicate=u_duplicate < self.duplicate,
            deliver_second=u_second < 0.5,
            drop_response=u_drop_response < self.drop_response,
        )

    # -- I/O helpers (every operation bounded by io_timeout) ----------------------------------------------------

    async def _timed(self, awaitable: Awaitable[_T]) -> _T:
        try:
            return await asyncio.wait_for(awaitable, self.io_timeout)
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError) as exc:
            raise _Closed(repr(exc)) from exc

    async def _send(self, writer: asyncio.StreamWriter, data: bytes, counter: str) -> None:
        view = memoryview(data)
        for start in range(0, len(view), _PIECE):
            piece = view[start : start + _PIECE]
            writer.write(piece)
            self._count(counter, len(piece))
            await self._timed(writer.drain())

    async def _read_head(self, reader: asyncio.StreamReader) -> _Message | None:
        """The next message head, or None on a clean EOF before any byte of it."""
        try:
            raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.io_timeout)
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                return None
            raise _Closed("EOF inside a message head") from exc
        except (TimeoutError, asyncio.LimitOverrunError, ConnectionError) as exc:
            raise _Closed(repr(exc)) from exc
        lines = raw[:-4].decode("latin-1").split("\r\n")
        headers: list[tuple[str, str]] = []
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                raise _Closed(f"malformed header line {line!r}")
            headers.append((name, value.strip()))
        return _Message(lines[0], headers)

    async def _read_body(self, reader: asyncio.StreamReader, msg: _Message, *, to_eof: bool) -> bytes:
        if "chunked" in msg.tokens("transfer-encoding"):
            parts: list[bytes] = []
            while True:
                line = await self._timed(reader.readuntil(b"\r\n"))
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError as exc:
                    raise _Closed(f"bad chunk size {line!r}") from exc
                if size == 0:
                    while (await self._timed(reader.readuntil(b"\r\n"))) != b"\r\n":
                        pass  # trailers are dropped
                    return b"".join(parts)
                parts.append(await self._read_exactly(reader, size))
                if await self._timed(reader.readexactly(2)) != b"\r\n":
                    raise _Closed("chunk not followed by CRLF")
        length = msg.header("content-length")
        if length is not None:
            try:
                n = int(length)
            except ValueError as exc:
                raise _Closed(f"bad Content-Length {length!r}") from exc
            return await self._read_exactly(reader, n)
        if not to_eof:
            return b""
        parts = []
        while chunk := await self._timed(reader.read(_PIECE)):
            parts.append(chunk)
        return b"".join(parts)

    async def _read_exactly(self, reader: asyncio.StreamReader, n: int) -> bytes:
        parts: list[bytes] = []
        while n > 0:
            part = await self._timed(reader.readexactly(min(n, _PIECE)))
            parts.append(part)
            n -= len(part)
        return b"".join(parts)

    # -- the client side ---------------------------------------------------------------------------------------

    async def _serve_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers[writer] = "client"
        self._count("connections")
        try:
            if self._partitioned:  # accepted in the instant before the partition closed the listener
                self._count("refused")
                writer.transport.abort()
                return
            while True:
                request = await self._read_head(reader)
                if request is None:
                    return
                if "100-continue" in request.tokens("expect"):
                    await self._send(writer, b"HTTP/1.1 100 Continue\r\n\r\n", "bytes_down")
                request.body = await self._read_body(reader, request, to_eof=False)
                if not await self._handle(request, writer):
                    return
        except (_Closed, OSError):
            writer.transport.abort()
        finally:
            self._writers.pop(writer, None)
            self._tasks.discard(task)
            if not writer.transport.is_closing():
                writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _handle(self, request: _Message, writer: asyncio.StreamWriter) -> bool:
        """Forward one request and answer it; False when the client connection must close."""
        method, target, version = _split_request_line(request.start)  # raises _Closed on garbage: not counted
        self._seq += 1
        seq = self._seq
        self._count("requests")
        dice = self._draw()
        pending = self.strike.get(target.split("?", 1)[0])
        if pending:  # a fault owed to this path: dealt now, the dice's own draw kept for everything else
            dice = replace(dice, **{pending.pop(0): True})
        faults: list[str] = []

        def record(status: int | None) -> None:
            self.records.append(Record(seq, method, target, tuple(faults), status))

        if dice.drop_request:
            faults.append("drop_request")
            self._count("dropped_requests")
            record(None)
            return False
        if dice.delay > 0:
            faults.append("delay")
            self._count("delayed")
            await asyncio.sleep(dice.delay)
        if dice.reorder and self._held == 0 and await self._hold(seq):
            faults.append("reorder")
            self._count("reordered")
        try:
            response = await self._forward(request, method, target, faults)
            if dice.duplicate and not isinstance(response, _Cut):
                faults.append("duplicate")
                self._count("duplicated")
                second = await self._forward(request, method, target, faults)
                if dice.deliver_second:
                    response = second
        finally:
            self._note_done(seq)
        if isinstance(response, _Cut):
            record(None)
            return False
        if response is None:
            self._count("upstream_errors")
            faults.append("upstream_error")
            record(None)
            return False
        if dice.drop_response:
            faults.append("drop_response")
            self._count("dropped_responses")
            record(None)
            return False

        keep_alive = _client_keeps_alive(request, version)
        head, body = _client_response(response, method, keep_alive)
        cut = self.cut_response_after
        if cut is not None and len(body) > cut:
            faults.append("cut_response")
            self._count("cut")
            self._count("cut_responses")
            record(None)
            await self._send(writer, head + body[: max(0, cut)], "bytes_down")
            return False
        record(_status_of(response))
        await self._send(writer, head + body, "bytes_down")
        return keep_alive

    async def _hold(self, seq: int) -> bool:
        """Wait until a later request has been answered upstream, or reorder_window passes; True if overtaken."""
        cond = self._condition()
        self._held += 1
        try:
            async with cond:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(cond.wait_for(lambda: self._last_done > seq), self.reorder_window)
                return self._last_done > seq
        finally:
            self._held -= 1

    def _note_done(self, seq: int) -> None:
        if seq > self._last_done:
            self._last_done = seq
            cond = self._condition()

            async def notify() -> None:
                async with cond:
                    cond.notify_all()

            task = asyncio.get_running_loop().create_task(notify())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _condition(self) -> asyncio.Condition:
        if self._done_changed is None:
            self._done_changed = asyncio.Condition()
        return self._done_changed

    # -- the upstream side -------------------------------------------------------------------------------------

    async def _forward(self, request: _Message, method: str, target: str, faults: list[str]) -> _Message | _Cut | None:
        """One exchange with upstream on a fresh connection: the response, _CUT, or None on an upstream error."""
        head = _upstream_request_head(request, method, target, f"{self.upstream_host}:{self.upstream_port}")
        body = request.body
        cut = self.cut_request_after
        try:
            reader, writer = await self._timed(
                asyncio.open_connection(self.upstream_host, self.upstream_port, limit=_MAX_HEAD)
            )
        except (_Closed, OSError):
            return None
        self._writers[writer] = "upstream"
        try:
            if cut is not None and len(body) > cut:
                faults.append("cut_request")
                self._count("cut")
                self._count("cut_requests")
                with contextlib.suppress(_Closed, OSError):
                    await self._send(writer, head + body[: max(0, cut)], "bytes_up")
                # Half-close, then wait (briefly) for upstream to give up and close: by the time the client sees its
                # error, upstream has usually finished handling the short request.
                if writer.can_write_eof():
                    writer.write_eof()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(_drain_to_eof(reader), min(2.0, self.io_timeout))
                return _CUT
            # Send and read at once, so an upstream that answers before reading the whole body (413, 411 …) works.
            sending = asyncio.create_task(self._send(writer, head + body, "bytes_up"))
            try:
                response = await self._read_response(reader, method)
            finally:
                if not sending.done():
                    sending.cancel()
                await asyncio.wait([sending])
                if not sending.cancelled():
                    sending.exception()  # retrieved; an early response makes a failed send harmless
            if response is None:
                return None
            self._count("forwarded")
            return response
        except (_Closed, OSError):
            return None
        finally:
            self._writers.pop(writer, None)
            writer.transport.abort()

    async def _read_response(self, reader: asyncio.StreamReader, method: str) -> _Message | None:
        while True:
            response = await self._read_head(reader)
            if response is None:
                return None
            status = _status_of(response)
            if status == 101:
                raise _Closed("upgrades are not supported")
            if status >= 200:
                break  # 1xx interim responses are skipped
        if method == "HEAD" or status in (204, 304):
            return response
        response.body = await self._read_body(reader, response, to_eof=True)
        return response


class _Cut:
    """The request was cut on its way upstream."""


_CUT = _Cut()


async def _drain_to_eof(reader: asyncio.StreamReader) -> None:
    while await reader.read(_PIECE):
        pass


def _split_request_line(line: str) -> tuple[str, str, str]:
    parts = line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise _Closed(f"malformed request line {line!r}")
    method, target, version = parts
    if target.startswith(("http://", "https://")):  # absolute form (client configured with proxy=): make it origin
        rest = target.split("://", 1)[1]
        target = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
    return method, target, version


def _status_of(response: _Message) -> int:
    parts = response.start.split(" ", 2)
    try:
        return int(parts[1])
    except (IndexError, ValueError) as exc:
        raise _Closed(f"malformed status line {response.start!r}") from exc


def _without_hop_by_hop(msg: _Message, also: Iterable[str] = ()) -> list[tuple[str, str]]:
    drop = _HOP_BY_HOP | msg.tokens("connection") | {name.lower() for name in also}
    return [(k, v) for k, v in msg.headers if k.lower() not in drop]


def _format_head(start: str, headers: list[tuple[str, str]]) -> bytes:
    return (start + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n").encode("latin-1")


def _upstream_request_head(request: _Message, method: str, target: str, host: str) -> bytes:
    headers = _without_hop_by_hop(request, also=["content-length"])
    if request.header("host") is None:
        headers.insert(0, ("Host", host))
    framed = request.header("content-length") is not None or request.header("transfer-encoding") is not None
    if request.body or framed:
        headers.append(("Content-Length", str(len(request.body))))
    headers.append(("Connection", "close"))
    return _format_head(f"{method} {target} HTTP/1.1", headers)


def _client_keeps_alive(request: _Message, version: str) -> bool:
    connection = request.tokens("connection")
    if version == "HTTP/1.0":
        return "keep-alive" in connection
    return "close" not in connection


def _client_response(response: _Message, method: str, keep_alive: bool) -> tuple[bytes, bytes]:
    status = _status_of(response)
    reason = response.start.split(" ", 2)[2] if response.start.count(" ") >= 2 else ""
    if method == "HEAD" or status == 304:
        headers = _without_hop_by_hop(response)  # Content-Length, if any, describes the entity: keep it
        body = b""
    elif status == 204:
        headers = _without_hop_by_hop(response, also=["content-length"])
        body = b""
    else:
        headers = _without_hop_by_hop(response, also=["content-length"])
        body = response.body
        headers.append(("Content-Length", str(len(body))))
    headers.append(("Connection", "keep-alive" if keep_alive else "close"))
    return _format_head(f"HTTP/1.1 {status} {reason}", headers), body
