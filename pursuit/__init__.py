"""The ``pursuit`` command line and the assembly of processes (web app, demo, private Redis)."""

import os

# One BLAS thread: the forecast's matrix products are small, and split over every core they wait on
# whatever else the machine runs (a web process, Redis): the 100,000-runner tick took 129-154 ms
# with another core busy against 102-103 ms with one thread. Set before anything imports numpy;
# an operator's own setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
