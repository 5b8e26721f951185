"""Hand-built pieces of a forecast shared by the forecast tests: a marathon's splits, a pursuer whose
finish is known."""

from __future__ import annotations

import numpy as np

from live.forecast.forecast import PursuerForecast

MARATHON = np.array([5000, 10000, 15000, 20000, 21097.5, 25000, 30000, 35000, 40000, 42195.0])


def fixed_pursuer(finish: float) -> PursuerForecast:
    """A pursuer whose finish is known exactly (no spread)."""
    return PursuerForecast(np.array([finish]), finish, finish, finish, finish, "finished")
