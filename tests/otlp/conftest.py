"""A real receiver (uvicorn, in a thread) on the test database, and real OTel SDK senders."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import uvicorn
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tests.conftest import free_port
from vigil.db import connect
from vigil.otlp.server import create_app
from vigil.settings import Settings
from vigil.store.keys import create_key


@dataclass
class RunningReceiver:
    url: str
    key: str
    settings: Settings

    @property
    def traces_url(self) -> str:
        return f"{self.url}/v1/traces"


def start_receiver(db_url: str, **overrides: object) -> tuple[uvicorn.Server, str, Settings]:
    settings = Settings(database_url=db_url, otlp_key_cache_s=0.0, **overrides)  # type: ignore[arg-type]
    port = free_port()
    config = uvicorn.Config(
        create_app(settings, db_url), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("receiver did not start")
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}", settings


@pytest.fixture
def make_receiver(db_url: str) -> Iterator[Callable[..., RunningReceiver]]:
    servers: list[uvicorn.Server] = []

    def make(**overrides: object) -> RunningReceiver:
        server, url, settings = start_receiver(db_url, **overrides)
        servers.append(server)
        with connect(db_url, autocommit=True) as conn:
            _, key = create_key(conn, "rag-app", "test")
        return RunningReceiver(url, key, settings)

    yield make
    for server in servers:
        server.should_exit = True


@pytest.fixture
def receiver(make_receiver: Callable[..., RunningReceiver]) -> RunningReceiver:
    return make_receiver()


def tracer_provider(exporter: object, service: str = "rag-service") -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))  # type: ignore[arg-type]
    return provider
