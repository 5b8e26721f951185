"""The HTTP, WebSocket and SSE edge over ``live``: the race API, admin actions, the live and events feeds.

``web`` imports ``live`` and none of ``ingest``, ``dashboard`` or ``simulator``; ``pursuit/web.py`` mounts it.
"""
