"""OTLP/HTTP trace ingestion: decoding, attribute mapping, the receiver."""
