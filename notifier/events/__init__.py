"""Journal events: CloudEvents parsing and validation, ingest, the stream consumer."""
