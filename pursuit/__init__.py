"""The ``pursuit`` command line and the assembly of processes (web app, demo, private Redis)."""
