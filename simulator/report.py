"""What ``pursuit evaluate`` prints and draws: tables per race and moment, calibration, a history plot."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from live.engine.evaluation import Evaluation

MIN_DECILE_RUNNERS = 200  # a decile with fewer runners says little about calibration
Z95 = 1.959964


@dataclass(frozen=True)
class CalibrationRow:
    """One decile of win probability pooled over races at one moment: runners, mean probability, the
    observed win rate with its 95 % binomial (Wilson) interval, and the worst single race's gap."""

    decile: int
    runners: int
    predicted: float
    observed: float
    low: float
    high: float
    worst_gap: float | None  # over races with MIN_DECILE_RUNNERS in the decile


def wilson(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, float(centre - half)), min(1.0, float(centre + half))


def pooled_calibration(evaluations: list[Evaluation], moment: float) -> list[CalibrationRow]:
    """The calibration of the evaluations at ``moment`` (pursuer fraction), pooled over their races."""
    pooled: dict[int, list[tuple[int, float, float]]] = {}
    for e in (e for e in evaluations if e.at_fraction == moment):
        for row in e.calibration():
            pooled.setdefault(int(row["decile"]), []).append(
                (int(row["runners"]), float(row["predicted"]), float(row["observed"]))
            )
    out = []
    for d in sorted(pooled):
        rows = pooled[d]
        n = sum(r[0] for r in rows)
        pred = sum(r[0] * r[1] for r in rows) / n
        won = sum(r[0] * r[2] for r in rows)
        gaps = [abs(r[2] - r[1]) for r in rows if r[0] >= MIN_DECILE_RUNNERS]
        out.append(CalibrationRow(d, n, pred, won / n, *wilson(won, n), max(gaps) if gaps else None))
    return out


def reliability_plot(evaluations: list[Evaluation], path: str | Path, title: str) -> None:
    """Predicted against observed win rate per decile, pooled over the races, one series per moment,
    with each decile's 95 % binomial interval, as a self-contained HTML page (plotly)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"color": "grey", "dash": "dash"}, name="perfect"))
    for m in sorted({e.at_fraction for e in evaluations}):
        rows = pooled_calibration(evaluations, m)
        fig.add_trace(
            go.Scatter(
                x=[r.predicted for r in rows],
                y=[r.observed for r in rows],
                mode="lines+markers",
                name=f"at {m:.0%} of the pursuer's race",
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [r.high - r.observed for r in rows],
                    "arrayminus": [r.observed - r.low for r in rows],
                },
                text=[f"{r.runners:,} runners" for r in rows],
            )
        )
    fig.update_layout(
        title=title,
        xaxis_title="predicted win probability (decile mean)",
        yaxis_title="observed win rate",
        template="plotly_white",
        width=900,
        height=450,
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        xaxis={"range": [0, 1]},
        yaxis={"range": [0, 1]},
    )
    fig.write_html(str(path), include_plotlyjs=True, full_html=True, config={"displayModeBar": False})


def evaluation_tables(evaluations: list[Evaluation]) -> str:
    """Per race and moment, the forecast against the truth; per moment, the error over the races;
    the calibration of the probabilities by decile."""
    lines = [
        f"{'race':<22}{'at':>5}{'predicted':>11}{'true':>7}{'error':>8}{'band':>15}{'holds':>7}"
        f"{'right':>8}{'MAE s':>7}{'naive':>7}{'ratio':>7}{'Brier':>7}{'at plan':>9}",
    ]
    for e in evaluations:
        s = e.summary()
        ratio = float(s["margin_mae_s"]) / max(float(s["naive_margin_mae_s"]), 1e-9)
        lines.append(
            f"{e.race:<22}{e.at_fraction:>5.2f}{float(s['winners_predicted']):>11,.0f}{int(s['winners_true']):>7,}"
            f"{float(s['winners_error_pct']):>+7.1f}%{f'{e.band[0]:,}–{e.band[1]:,}':>15}"
            f"{'yes' if s['band_holds_truth'] else 'no':>7}{100 * float(s['accuracy']):>7.2f}%"
            f"{float(s['margin_mae_s']):>7.0f}{float(s['naive_margin_mae_s']):>7.0f}{ratio:>7.2f}"
            f"{float(s['brier']):>7.4f}{int(s['winners_at_plan']):>9,}"
        )
    moments = sorted({e.at_fraction for e in evaluations})
    if len(evaluations) > len(moments):
        lines += ["", f"{'at':>5}{'races':>7}{'RMS error':>11}{'worst':>9}{'band holds':>12}{'level':>7}"]
        for m in moments:
            es = [e for e in evaluations if e.at_fraction == m]
            err = np.array([float(e.summary()["winners_error_pct"]) for e in es])
            holds = sum(bool(e.summary()["band_holds_truth"]) for e in es)
            worst = err[np.argmax(np.abs(err))]
            lines.append(
                f"{m:>5.2f}{len(es):>7}{np.sqrt(np.mean(err**2)):>10.1f}%{worst:>+8.1f}%"
                f"{f'{holds}/{len(es)}':>12}{es[0].level:>7.2f}"
            )
    for m in moments:
        lines += ["", f"calibration at {m:.2f} (runners still open; by decile of win probability, pooled)"]
        lines.append(
            f"{'decile':>8}{'runners':>9}{'predicted':>11}{'observed':>10}{'95 % interval':>16}"
            f"{'gap':>8}{'worst race':>12}"
        )
        for row in pooled_calibration(evaluations, m):
            worst = "–" if row.worst_gap is None else f"{100 * row.worst_gap:.1f} pt"
            lines.append(
                f"{row.decile / 10:>5.1f}–{(row.decile + 1) / 10:.1f}{row.runners:>8,}{row.predicted:>11.3f}"
                f"{row.observed:>10.3f}{f'{row.low:.3f}–{row.high:.3f}':>16}"
                f"{100 * (row.observed - row.predicted):>+6.1f}pt{worst:>12}"
            )
    return "\n".join(lines)


def forecast_history_plot(
    history: list[tuple[float, float, float, float, float | None]],
    truth: int | None,
    quota: int | None,
    path: str | Path,
    title: str,
) -> None:
    """The forecast of winners, its band and the count at the pursuer's plan over race time, against
    the true count (a finished replay) or the quota, as a self-contained HTML page (plotly)."""
    import plotly.graph_objects as go

    t = np.array([h[0] for h in history]) / 60.0
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=t, y=[h[3] for h in history], mode="lines", line={"width": 0}, showlegend=False))
    fig.add_trace(
        go.Scatter(
            x=t,
            y=[h[2] for h in history],
            mode="lines",
            line={"width": 0},
            fill="tonexty",
            fillcolor="rgba(31,119,180,0.2)",
            name="band",
        )
    )
    fig.add_trace(go.Scatter(x=t, y=[h[1] for h in history], mode="lines", name="forecast (sum of p)"))
    if any(h[4] is not None for h in history):
        fig.add_trace(
            go.Scatter(x=t, y=[h[4] for h in history], mode="lines", line={"dash": "dot"}, name="if he holds his plan")
        )
    if truth is not None:
        fig.add_hline(y=truth, line={"color": "black", "dash": "dash"}, annotation_text=f"true {truth:,}")
    if quota is not None:
        fig.add_hline(y=quota, line={"color": "firebrick", "dash": "dash"}, annotation_text=f"quota {quota:,}")
    fig.update_layout(
        title=title,
        xaxis_title="race time (min)",
        yaxis_title="winners",
        template="plotly_white",
        width=900,
        height=450,
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
    )
    fig.write_html(str(path), include_plotlyjs=True, full_html=True, config={"displayModeBar": False})


def history_table(history: list[tuple[float, float, float, float, float | None]], truth: int, quota: int | None) -> str:
    """The forecast over a race as lines of text, against the true count."""
    lines = [
        f"{'minute':>7}{'forecast':>10}{'band':>15}{'at plan':>9}",
    ]
    for t, winners, low, high, plan in history:
        at_plan = "–" if plan is None else f"{plan:,.0f}"
        lines.append(f"{t / 60:>7.1f}{winners:>10,.0f}{f'{low:,.0f}–{high:,.0f}':>15}{at_plan:>9}")
    lines.append(f"true winners {truth:,}" + (f", quota {quota:,}" if quota is not None else ""))
    return "\n".join(lines)
