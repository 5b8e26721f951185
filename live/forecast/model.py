"""The forecast's fitted model (:class:`ForecastModel`): coefficients and residual tables, one row per
split point of a marathon, fitted offline on real marathons (:mod:`live.forecast.fit`, ``pursuit
fit``) and shipped as ``live/forecast/model.json``; and the units its pace levels are in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

MARATHON_M = 42195.0
PACE_REFERENCE_S = 14400.0  # a 4-hour marathon: pace levels are logs relative to its pace
MODEL_FILE = Path(__file__).with_name("model.json")
# pace levels at which a segment's usual slowing is tabulated (``segment_coef``), from a 2:10 to a
# 7:50 marathon; between them it is linear, beyond them flat (:func:`live.forecast.race_conditions.segment_expected`)
SEGMENT_LEVELS = np.array([-0.6, -0.45, -0.35, -0.25, -0.15, -0.05, 0.05, 0.15, 0.25, 0.35, 0.5, 0.65])


def _segment_table(coef: np.ndarray) -> np.ndarray:
    """A model file's segment expectations on :data:`SEGMENT_LEVELS`; from before the table, a
    quadratic per segment, evaluated there."""
    x = SEGMENT_LEVELS
    if coef.ndim == 2 and coef.shape[1] == 3:
        out: np.ndarray = coef[:, :1] + coef[:, 1:2] * x + coef[:, 2:3] * x * x
        return out
    if coef.ndim != 2 or coef.shape[1] != len(x):
        raise ValueError(
            f"segment_coef has {coef.shape[-1]} values per segment; this version expects {len(x)} "
            "(one per SEGMENT_LEVELS) or 3 (a quadratic): refit the model with `pursuit fit`"
        )
    return coef


@dataclass(frozen=True, eq=False)  # hashed by identity: its tables are cached per model
class ForecastModel:
    """Fitted coefficients, one row per fitted course fraction (a marathon's split points)."""

    fractions: np.ndarray  # (m,) fraction of the course at which each row was fitted
    coef: np.ndarray  # (m, features) mean of log(finish / E)
    scale_coef: np.ndarray  # (m, 2) log of the residual scale: intercept, slope in pace level
    levels: np.ndarray  # (q,) probability levels of the residual table
    residual_quantiles: np.ndarray  # (m, G, q) standardised residuals at ``levels``, per pace band
    level_edges: np.ndarray  # (G - 1,) pace levels between the bands of ``residual_quantiles``
    pursuer_coef: np.ndarray  # (m, 2) pursuer log(finish / E): intercept, slope in log(E / plan)
    pursuer_scale: np.ndarray  # (m,) scale of the pursuer's Student t, by fraction reached
    pursuer_prior_scale: float  # scale around his plan before his first split
    pursuer_nu: float  # degrees of freedom of the pursuer's Student t (heavy tails)
    pursuer_quantiles: np.ndarray  # (K,) standard Student t quantiles at the midpoints of K bins
    race_shift_sd: np.ndarray  # (m,) sd of the race-wide shift of log finish per unit of course left, by row
    segment_coef: np.ndarray  # (m, L) expected log(segment pace / pace before it) at SEGMENT_LEVELS
    prior_scale: float  # spread of log(finish / declared) for a runner not yet read
    reference_finish_s: float  # a marathon winner's finish (mean of the training winners)
    trained_on: tuple[str, ...]
    race_shift_nu: float = 0.0  # degrees of freedom of the race shift's Student t; 0: normal (models before it)

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> ForecastModel:
        arr = {k: np.asarray(v, dtype=float) for k, v in d.items() if isinstance(v, list) and k != "trained_on"}
        return cls(
            fractions=arr["fractions"],
            coef=arr["coef"],
            scale_coef=arr["scale_coef"],
            levels=arr["levels"],
            residual_quantiles=(
                arr["residual_quantiles"][:, None, :]  # a model from before the pace bands: one band
                if arr["residual_quantiles"].ndim == 2
                else arr["residual_quantiles"]
            ),
            level_edges=arr.get("level_edges", np.zeros(0)),
            pursuer_coef=arr["pursuer_coef"],
            pursuer_scale=arr["pursuer_scale"],
            pursuer_prior_scale=float(d["pursuer_prior_scale"]),  # type: ignore[arg-type]
            pursuer_nu=float(d["pursuer_nu"]),  # type: ignore[arg-type]
            pursuer_quantiles=arr["pursuer_quantiles"],
            race_shift_sd=np.broadcast_to(  # a model from before it was by split point: one for all
                np.asarray(d["race_shift_sd"], dtype=float), arr["fractions"].shape
            ).copy(),
            segment_coef=_segment_table(arr["segment_coef"]),
            prior_scale=float(d["prior_scale"]),  # type: ignore[arg-type]
            reference_finish_s=float(d["reference_finish_s"]),  # type: ignore[arg-type]
            trained_on=tuple(d.get("trained_on", ())),  # type: ignore[arg-type]
            race_shift_nu=float(d.get("race_shift_nu", 0.0)),  # type: ignore[arg-type]
        )

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for name, value in self.__dict__.items():
            if isinstance(value, np.ndarray):
                out[name] = np.round(value, 6).tolist()
            elif isinstance(value, tuple):
                out[name] = list(value)
            else:
                out[name] = round(float(value), 6)
        return out

    def save(self, path: Path | str) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path | str) -> ForecastModel:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


@lru_cache(maxsize=16)
def student_t_quantiles(nu: float, levels: tuple[float, ...]) -> np.ndarray:
    """Quantiles of the standard Student t with ``nu`` degrees of freedom at ``levels`` (numerically,
    to about 1e-4)."""
    x = np.linspace(-80.0, 80.0, 320_001)
    pdf = (1.0 + x * x / nu) ** (-(nu + 1.0) / 2.0)
    cdf = np.cumsum(pdf) - 0.5 * pdf  # the midpoint rule: symmetric about 0
    cdf /= cdf[-1] + 0.5 * pdf[-1]
    out: np.ndarray = np.interp(np.asarray(levels), cdf, x)
    return out


def node_levels(k: int) -> np.ndarray:
    """The probability levels of ``k`` equal-probability nodes: the midpoints of ``k`` bins, (i + ½)/k."""
    out: np.ndarray = (np.arange(k) + 0.5) / k
    return out


@lru_cache(maxsize=1)
def default_model() -> ForecastModel:
    """The shipped model, fitted on the eight marathons of ``data/results/``."""
    return ForecastModel.load(MODEL_FILE)
