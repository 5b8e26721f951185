"""The only door to Redis: keys, connection, Lua scripts, leases, the store."""
