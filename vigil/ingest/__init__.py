"""Ways traces come in. JSONL files for now; OTLP and the SDK build on the same store calls."""
