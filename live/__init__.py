"""The domain of pursuit: race model, course geometry, chase maths, the Redis layout and store, the engine.

``live`` imports none of the other packages; ``web``, ``ingest``, ``dashboard`` and ``simulator`` build on it.
"""
