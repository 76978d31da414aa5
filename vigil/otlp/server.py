"""The OTLP/HTTP receiver: ``POST /v1/traces``, protobuf or JSON, optionally gzipped.

A batch is answered 200 only once it is committed to PostgreSQL. Memory and CPU stay bounded
under a burst: a request takes one of ``otlp_max_inflight`` slots before its body is read, and
is decoded in a worker thread, off the event loop. A request that finds no slot, or then no
writer, within ``otlp_queue_timeout_s`` is refused with 503 and ``Retry-After``, which OTLP
exporters retry: nothing acknowledged is ever dropped.

Every request is counted in ``ingest_counts`` (:mod:`vigil.otlp.counting`): a stored batch
in its own transaction, a refusal (with its reason) after the response was sent.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Generic, TypeVar

import anyio
from google.protobuf import json_format
from google.rpc import code_pb2, status_pb2
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from vigil.db.pool import UNAVAILABLE, connection_pool
from vigil.ingest.enrich import PriceBook, enrich
from vigil.ingest.spans import SpanWrite, store_spans
from vigil.ingest.text import text_filter
from vigil.ingest.tokens import load_tokenizer
from vigil.otlp.counting import IngestTally, answered_counts
from vigil.otlp.decode import JSON, PROTOBUF, DecodeFailure, decode_request, encode_response
from vigil.otlp.decode import media_type as parse_media_type
from vigil.otlp.mapping import MappedBatch, map_request
from vigil.settings import Settings
from vigil.store.keys import app_for_token
from vigil.store.metrics import UNKNOWN_APP, IngestCount
from vigil.store.segments import keys_for

RETRY_AFTER_S = "2"
BUSY_STORAGE = "storage is busy or unreachable; retry later"
BUSY_RECEIVER = "the receiver is at its in-flight limit (VIGIL_OTLP_MAX_INFLIGHT); retry later"


class Refusal(Exception):
    """A request answered with an error; ``reason`` is its label in the ingest counts."""

    def __init__(self, status: int, reason: str, message: str,
                 headers: dict[str, str] | None = None) -> None:  # fmt: skip
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.headers = headers or {}


V = TypeVar("V")


@dataclass
class TTLCache(Generic[V]):
    """Values trusted for ``ttl`` seconds: API keys (a revocation takes effect within that
    time) and each app's promoted segment keys (`vigil segments set`), so that the hot path
    queries once a key and period, not once a request."""

    ttl: float
    entries: dict[str, tuple[V, float]] = field(default_factory=dict)

    def get(self, key: str) -> tuple[bool, V | None]:
        """Whether ``key`` is known (and fresh), and its value."""
        hit = self.entries.get(key)
        if hit is None or hit[1] < time.monotonic():
            return False, None
        return True, hit[0]

    def put(self, key: str, value: V) -> None:
        if len(self.entries) > 10_000:
            self.entries.clear()
        self.entries[key] = (value, time.monotonic() + self.ttl)


class Receiver:
    def __init__(self, settings: Settings, database_url: str) -> None:
        self.settings = settings
        self.max_body = int(settings.otlp_max_body_mb * 1024 * 1024)
        self.pool = connection_pool(database_url, max_size=settings.otlp_max_concurrency + 1)
        inflight = settings.otlp_max_inflight or 2 * settings.otlp_max_concurrency
        self.inflight = anyio.Semaphore(inflight)  # bodies read, decoded or being written
        self.slots = anyio.Semaphore(settings.otlp_max_concurrency)  # PostgreSQL writers
        self.keys: TTLCache[str | None] = TTLCache(settings.otlp_key_cache_s)
        self.promoted: TTLCache[tuple[str, ...]] = TTLCache(settings.otlp_key_cache_s)
        self.safe = text_filter(settings.max_value_chars, settings.redact_pii)
        self.tally = IngestTally()

    # -- steps ----------------------------------------------------------------------
    @asynccontextmanager
    async def room(self, semaphore: anyio.Semaphore, message: str) -> AsyncIterator[None]:
        """Hold a slot of ``semaphore``, waited for at most the queue timeout, else 503."""
        try:
            semaphore.acquire_nowait()
        except anyio.WouldBlock:
            with anyio.move_on_after(self.settings.otlp_queue_timeout_s) as waited:
                await semaphore.acquire()
            if waited.cancelled_caught:
                raise _busy(message) from None
        try:
            yield
        finally:
            semaphore.release()

    async def authenticate(self, request: Request) -> str:
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header[:7].lower() == "bearer " else ""
        if not token:
            raise Refusal(401, "missing_key", "missing API key: send 'Authorization: Bearer <key>' "
                          "(create one with `vigil keys create --app NAME`)",
                          {"WWW-Authenticate": "Bearer"})  # fmt: skip
        known, app = self.keys.get(token)
        if not known:
            try:
                app = await anyio.to_thread.run_sync(self._lookup, token)
            except UNAVAILABLE as err:
                raise _busy(BUSY_STORAGE) from err
            self.keys.put(token, app)
        if app is None:
            raise Refusal(401, "invalid_key", "invalid or revoked API key",
                          {"WWW-Authenticate": "Bearer"})  # fmt: skip
        return app

    def _lookup(self, token: str) -> str | None:
        with self.pool.connection(timeout=self.settings.otlp_queue_timeout_s) as conn:
            return app_for_token(conn, token)

    async def promoted_keys(self, app: str) -> tuple[str, ...]:
        """The app's promoted segment keys, from the cache or the database."""
        known, keys = self.promoted.get(app)
        if not known or keys is None:
            try:
                keys = await anyio.to_thread.run_sync(self._promoted_lookup, app)
            except UNAVAILABLE as err:
                raise _busy(BUSY_STORAGE) from err
            self.promoted.put(app, keys)
        return keys

    def _promoted_lookup(self, app: str) -> tuple[str, ...]:
        with self.pool.connection(timeout=self.settings.otlp_queue_timeout_s) as conn:
            return keys_for(conn, app)

    def check_headers(self, request: Request, kind: str) -> bool:
        """Refusals that need no body (and no slot); whether the body is gzipped."""
        if kind not in (PROTOBUF, JSON):
            raise Refusal(415, "unsupported_media",
                          f"unsupported Content-Type {kind or '(none)'!r}: "
                          f"send {PROTOBUF} or {JSON}")  # fmt: skip
        encoding = request.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity", "gzip"):
            message = f"unsupported Content-Encoding {encoding!r}: use gzip or none"
            raise Refusal(415, "unsupported_media", message)
        declared = request.headers.get("content-length")
        if declared and declared.isdecimal() and int(declared) > self.max_body:
            raise self._too_large()
        return encoding == "gzip"

    async def read_body(self, request: Request) -> bytes:
        """The body as sent, refused as soon as it passes the limit (never read further)."""
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body:
                raise self._too_large()
            chunks.append(chunk)
        return b"".join(chunks)

    def decode(
        self, body: bytes, gzipped: bool, kind: str, promoted: tuple[str, ...] = ()
    ) -> MappedBatch:
        """Gunzip, parse and map a body (with the app's promoted segment keys): CPU-bound,
        so it runs in a worker thread."""
        if gzipped:
            body = self._gunzip(body)
        try:
            message = decode_request(body, kind)
        except DecodeFailure as err:
            raise Refusal(400, "decode_error", str(err)) from err
        return map_request(message, self.safe, promoted)

    def _gunzip(self, body: bytes) -> bytes:
        inflater = zlib.decompressobj(wbits=31)
        try:
            out = inflater.decompress(body, self.max_body + 1)
        except zlib.error as err:
            raise Refusal(400, "bad_gzip", f"the body is not valid gzip ({err})") from err
        if len(out) > self.max_body or inflater.unconsumed_tail:
            raise self._too_large()
        return out

    def _too_large(self) -> Refusal:
        mb = self.settings.otlp_max_body_mb
        return Refusal(413, "too_large",
                       f"the body is over the {mb:g} MiB limit (VIGIL_OTLP_MAX_BODY_MB); "
                       "export smaller batches")  # fmt: skip

    def write(self, app: str, batch: MappedBatch) -> SpanWrite:
        """Store the batch and add its counts (and pending ones) in one transaction."""
        timeout = self.settings.otlp_queue_timeout_s
        taken: list[IngestCount] = []
        try:
            with self.pool.connection(timeout=timeout) as conn, conn.transaction():
                prices = PriceBook(conn)
                written = store_spans(conn, app, batch.spans, partial(enrich, prices))
                taken = self.tally.write(conn, answered_counts(app, batch, written))
        except BaseException:
            self.tally.restore(taken)  # rolled back with the batch: written next time
            raise
        return written

    def flush_counts(self) -> None:
        """Write pending counts (refusals, batches with nothing to store); runs after the
        response was sent."""
        timeout = self.settings.otlp_queue_timeout_s
        self.tally.flush(partial(self.pool.connection, timeout=timeout))

    # -- the endpoint -------------------------------------------------------------------
    async def export(self, request: Request) -> Response:
        kind = parse_media_type(request.headers.get("content-type"))
        app, spans = UNKNOWN_APP, 0
        try:
            gzipped = self.check_headers(request, kind)
            async with self.room(self.inflight, BUSY_RECEIVER):
                app = await self.authenticate(request)
                promoted = await self.promoted_keys(app)
                batch = await anyio.to_thread.run_sync(
                    self.decode, await self.read_body(request), gzipped, kind, promoted
                )
                spans = len(batch.spans) + len(batch.rejected)
                written = await self._store(app, batch)
        except Refusal as refusal:
            self.tally.add(IngestCount(app, "refused", refusal.reason, 1, spans))
            return _status(refusal, kind, BackgroundTask(self.flush_counts))
        rejected = batch.rejected + written.rejected
        payload, ctype = encode_response(len(rejected), "; ".join(rejected[:20]), kind)
        flush = None if batch.spans else BackgroundTask(self.flush_counts)
        return Response(payload, media_type=ctype, background=flush)

    async def _store(self, app: str, batch: MappedBatch) -> SpanWrite:
        if not batch.spans:  # nothing to write: the counts wait for a flush
            written = SpanWrite(0, 0, [], [])
            for count in answered_counts(app, batch, written):
                self.tally.add(count)
            return written
        async with self.room(self.slots, BUSY_STORAGE):
            try:
                return await anyio.to_thread.run_sync(self.write, app, batch)
            except UNAVAILABLE as err:
                raise _busy(BUSY_STORAGE) from err

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})


def _busy(message: str) -> Refusal:
    reason = "busy_receiver" if message == BUSY_RECEIVER else "busy_storage"
    return Refusal(503, reason, message, {"Retry-After": RETRY_AFTER_S})


def _status(refusal: Refusal, kind: str, background: BackgroundTask | None = None) -> Response:
    """An error body as OTLP asks: a google.rpc.Status, in the request's encoding."""
    codes = {400: code_pb2.INVALID_ARGUMENT, 401: code_pb2.UNAUTHENTICATED,
             413: code_pb2.RESOURCE_EXHAUSTED, 415: code_pb2.INVALID_ARGUMENT,
             503: code_pb2.UNAVAILABLE}  # fmt: skip
    status = status_pb2.Status(code=codes.get(refusal.status, code_pb2.UNKNOWN),
                               message=refusal.message)  # fmt: skip
    if kind == PROTOBUF:
        body: bytes | str = status.SerializeToString()
        return Response(body, refusal.status, refusal.headers, PROTOBUF, background)
    body = json_format.MessageToJson(status)
    return Response(body, refusal.status, refusal.headers, JSON, background)


def app_from_environment() -> Starlette:
    """The app for ``uvicorn --factory`` workers: settings and database from the environment."""
    from vigil.db import database_url
    from vigil.settings import load_settings

    settings = load_settings()
    return create_app(settings, database_url(settings, start=False))


def create_app(settings: Settings, database_url: str) -> Starlette:
    receiver = Receiver(settings, database_url)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        receiver.pool.open(wait=True, timeout=30)
        await anyio.to_thread.run_sync(load_tokenizer)  # for traces that report no tokens
        try:
            yield
        finally:
            receiver.flush_counts()  # best effort: what is pending now
            receiver.pool.close()

    return Starlette(
        routes=[
            Route("/v1/traces", receiver.export, methods=["POST"]),
            Route("/health", receiver.health, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


__all__ = ["create_app"]
