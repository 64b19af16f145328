"""``RestTestServer``: an HTTP/1.1 keep-alive server for a bot's REST tests,
answering from a route table, recording every request, and failing on cue
(delays, stalls, connections dropped after the request was read: the cases
``RequestNotSent`` / ``OutcomeUnknown`` are about). Built on our own sans-IO
``RequestReader`` and ``write_response``."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from nexus_net.http import HttpError, RequestReader, write_response
from nexus_net.testing.tls import TestTls


@dataclass
class Delay:
    """Answer ``response`` after ``seconds``."""
    seconds: float
    response: Any


@dataclass
class Drop:
    """Read the request, then close the connection without answering (what
    a client sees as ``OutcomeUnknown``)."""


@dataclass
class Stall:
    """Read the request and never answer (a read timeout on the client)."""


@dataclass
class RecordedRequest:
    """One request the server read."""
    method: str
    path: str
    query: dict[str, str]
    headers: list[tuple[str, str]]
    body: bytes
    target: str = ""
    connection: int = 0                  # which connection (1, 2, ...) carried it
    query_list: list[tuple[str, str]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    def json(self) -> Any:
        return orjson.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))


def _encode(body: Any) -> tuple[bytes, str | None]:
    if body is None:
        return b"", None
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body), "application/octet-stream"
    if isinstance(body, str):
        return body.encode(), "text/plain; charset=utf-8"
    return orjson.dumps(body), "application/json"


class RestTestServer:
    """``server = await RestTestServer(routes, tls=None).start()``.

    ``routes`` maps ``"METHOD /path"`` (the query is not part of the key) to
    a response: ``(status, body)`` or ``(status, body, headers)`` (a dict or
    list body is JSON, ``str`` text, ``bytes`` as is, None empty); a callable
    ``fn(request)`` returning one (or an awaitable of one); ``Delay(s, r)``,
    ``Drop()``, ``Stall()``; or a list of those, used one per request in turn
    (the last one repeats: ``[(429, {...}, {"Retry-After": "1"}), (200, {...})]``).
    An unknown route answers 404. ``requests`` lists every request read, in
    order; ``route(key, response)`` changes the table. A handler that raises
    answers 500 and the error is raised again by ``aclose()``.
    """

    __test__ = False

    def __init__(self, routes: Mapping[str, Any] | None = None, *, tls: TestTls | None = None,
                 max_body_size: int = 16 << 20) -> None:
        self.routes: dict[str, Any] = {}
        self.calls: dict[str, int] = {}
        for key, response in (routes or {}).items():
            self.route(key, response)
        self.tls = tls
        self.max_body_size = max_body_size
        self.requests: list[RecordedRequest] = []
        self.errors: list[BaseException] = []
        self.connections = 0
        self.server: asyncio.base_events.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.tasks: set[asyncio.Task[Any]] = set()

    def route(self, key: str, response: Any) -> None:
        method, _, path = key.partition(" ")
        if not path.startswith("/"):
            raise ValueError(f"a route is 'METHOD /path', got {key!r}")
        self.routes[f"{method.upper()} {path}"] = response
        self.calls[f"{method.upper()} {path}"] = 0

    async def start(self) -> RestTestServer:
        ssl_ctx = self.tls.server_context() if self.tls is not None else None
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=ssl_ctx)
        return self

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}" if self.tls is not None else f"http://127.0.0.1:{self.port}"

    async def aclose(self) -> None:
        if self.server is not None:
            self.server.close()
            for w in list(self.writers):
                w.close()
            for task in list(self.tasks):       # (a Stall or a Delay still sleeping)
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            await self.server.wait_closed()
            self.server = None
        if self.errors:
            raise AssertionError(f"a route handler of the test server failed: {self.errors[0]!r}") \
                from self.errors[0]

    async def __aenter__(self) -> RestTestServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---- serving --------------------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        me = self.connections
        self.writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self.tasks.add(task)
        parser = RequestReader(max_body_size=self.max_body_size)
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    return
                parser.feed(data)
                while (req := parser.next()) is not None:
                    if not await self._answer(req, me, writer):
                        return
        except HttpError as exc:
            writer.write(self._response(400, {"error": str(exc)}, {"Connection": "close"}))
        except (ConnectionError, asyncio.CancelledError):
            pass
        except Exception as exc:           # a bad response spec: the test must hear of it
            self.errors.append(exc)
        finally:
            self.writers.discard(writer)
            if task is not None:
                self.tasks.discard(task)
            writer.close()

    async def _answer(self, req: Any, conn: int, writer: asyncio.StreamWriter) -> bool:
        parts = urlsplit(req.target)
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        recorded = RecordedRequest(req.method, parts.path, dict(pairs), req.headers(), req.bytes(),
                                   req.target, conn, pairs)
        self.requests.append(recorded)
        key = f"{req.method} {parts.path}"
        spec = self.routes.get(key)
        if spec is None:
            writer.write(self._response(404, {"error": f"no route for {key}"}))
            return req.keep_alive
        if isinstance(spec, list):
            n = self.calls[key]
            self.calls[key] = n + 1
            spec = spec[min(n, len(spec) - 1)]
        while True:
            if isinstance(spec, Delay):
                await asyncio.sleep(spec.seconds)
                spec = spec.response
            elif isinstance(spec, Drop):
                return False
            elif isinstance(spec, Stall):
                await asyncio.sleep(3600)
                return False
            elif callable(spec):
                try:
                    spec = spec(recorded)
                    if inspect.isawaitable(spec):
                        spec = await spec
                except Exception as exc:
                    self.errors.append(exc)
                    spec = (500, {"error": f"the test's handler raised {type(exc).__name__}"})
            else:
                break
        status, body, *rest = spec
        writer.write(self._response(status, body, rest[0] if rest else None))
        await writer.drain()
        return bool(req.keep_alive)

    @staticmethod
    def _response(status: int, body: Any, headers: Any = None) -> bytes:
        raw, ctype = _encode(body)
        pairs = list(headers.items() if isinstance(headers, Mapping) else headers or [])
        if ctype is not None and not any(k.lower() == "content-type" for k, _ in pairs):
            pairs.append(("Content-Type", ctype))
        out = bytearray(len(raw) + 256 + sum(len(k) + len(v) + 4 for k, v in pairs))
        n = write_response(out, status, pairs, raw if status not in (204, 304) and raw else None)
        return bytes(out[:n])
