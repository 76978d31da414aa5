"""vigil.sdk: a RAG call recorded with the context manager and the decorator, sent over OTLP."""

from __future__ import annotations

import pytest

from tests.otlp.conftest import RunningReceiver
from vigil import sdk


def test_context_manager_and_decorator(conn, receiver: RunningReceiver) -> None:  # type: ignore[no-untyped-def]
    sdk.configure(endpoint=receiver.url, api_key=receiver.key, service_name="shop")
    try:
        with sdk.rag_call("Is it waterproof?", prompt_version="v3",
                          segment={"route": "product"}) as call:  # fmt: skip
            call.retrieved([sdk.Chunk("kb-1", "The camera is rated IP65.", 0.9),
                            sdk.Chunk("kb-2", "It works indoors and outdoors.", 0.7)])  # fmt: skip
            call.answered("Yes, it is rated IP65.", model="gpt-4o-mini", tokens_in=300,
                          tokens_out=9)  # fmt: skip

        @sdk.traced_rag(prompt_version="v4")
        def answer(question: str) -> str:
            sdk.current_call().retrieved([sdk.Chunk(None, "Orrin ships worldwide.")])
            return "Yes, worldwide."

        assert answer("Do you ship abroad?") == "Yes, worldwide."
        with pytest.raises(ValueError), sdk.rag_call("Broken?"):
            raise ValueError("retriever down")
        assert sdk.flush()
    finally:
        sdk.shutdown()

    rows = {r["input"]: r for r in conn.execute("SELECT * FROM traces")}
    first = rows["Is it waterproof?"]
    assert (first["output"], first["model"], first["prompt_version"]) == (
        "Yes, it is rated IP65.", "gpt-4o-mini", "v3")  # fmt: skip
    assert (first["tokens_in"], first["tokens_out"], first["segment"]) == (
        300,
        9,
        {"route": "product"},
    )
    assert first["complete"] and first["cost_usd"] > 0
    second = rows["Do you ship abroad?"]
    assert (second["output"], second["prompt_version"]) == ("Yes, worldwide.", "v4")
    assert rows["Broken?"]["status"] == "error"
    ids = conn.execute(
        "SELECT document_id, score FROM retrievals WHERE trace_id = %s ORDER BY rank",
        (first["id"],),
    ).fetchall()
    assert [(r["document_id"], r["score"]) for r in ids] == [("kb-1", 0.9), ("kb-2", 0.7)]


def test_current_call_outside_a_call_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="no RAG call"):
        sdk.current_call()
