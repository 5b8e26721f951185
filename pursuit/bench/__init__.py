"""``pursuit bench``: the performance figures of SPEC §8 and the load generators behind them.

Tools, not the product: only ``pursuit/cli.py`` imports this package. ``fanout`` holds ``bench tick`` and
``bench fanout`` (with ``fanout_bare``, the baseline server, and ``fanout_clients``, the spectator processes),
``ingest``, ``replay`` and ``browser`` one bench each.
"""
