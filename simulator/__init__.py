"""Synthetic races and emulated timing readers that talk to the ingestor over real sockets."""
