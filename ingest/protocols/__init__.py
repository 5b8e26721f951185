"""One module per reader protocol: parsers that take bytes and return typed messages or errors."""
