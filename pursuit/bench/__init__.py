"""``pursuit bench``: the performance figures of SPEC §8 and the load generators behind them.

Tools, not the product: only the command line imports this package, in ``pursuit/measurement.py``.
One module a bench: ``tick``, ``fanout`` (with ``fanout_bare``, the baseline server, and
``fanout_clients``, the spectator processes), ``ingest``, ``replay``, ``browser``; what they share is in
``common``.
"""
