"""Ways traces come in: JSONL files and the SDK (whole traces), OTLP (spans assembled into
traces, :mod:`vigil.ingest.spans`). The SQL is in the store; the rules are here."""
