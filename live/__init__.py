"""The core of pursuit: race model, course geometry, chase maths, Redis layout and the web API.

``live`` imports none of the other packages; ``ingest``, ``dashboard`` and ``simulator`` build on it.
"""
