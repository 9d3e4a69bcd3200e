"""Forecast range of a tracked row (territory, territory x segment or the total).

The model, stated in every report's notes (:data:`METHOD`):

``final = actual to date + pipeline + base``

- ``pipeline``: every open opportunity (closing after the as-of date, within the period, not
  closed won or lost) closes for its full amount with its probability, independently of the
  others (a Bernoulli draw each), or not at all;
- ``base``: the rest of the business, ``max(B, 0)`` for a Normal ``B`` with mean
  ``max(run-rate forecast - actual - weighted pipeline, 0)`` (the run rate's remaining sales
  not already in the weighted pipeline) and standard deviation ``spread x run-rate
  forecast``, where ``spread`` is the
  standard deviation of the run rate's relative error in past periods: for each of the last
  :data:`DEPTH` periods, the full-period sales against what the run rate would have forecast
  at the same point of that period (sales to that point / the share of the period before's
  sales made by that point). A row needs two past periods with sales to the point for its
  own spread; otherwise the whole plan's is used.

``P(reach target)`` and the P10/P50/P90 forecast come from :data:`DRAWS` simulated pipelines
(fixed seed :data:`SEED`, so a run gives the same figures every time); for each pipeline draw
the base is integrated exactly for the probability (the Normal's tail), so only the pipeline
is sampled; the percentiles add one Normal draw of the base per pipeline draw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

DRAWS = 10_000
SEED = 20_170_630
DEPTH = 3
COLUMNS = ("base_remaining", "base_sd", "forecast_p10", "forecast_p50", "forecast_p90",
           "p_reach_target")  # fmt: skip
METHOD = (
    "Forecast range: final = actual to date + pipeline + base. Pipeline: each open opportunity "
    "(closing after the as-of date within the period) closes for its amount with its "
    "probability, independently (Bernoulli). Base: the rest of the business, max(B, 0) for B "
    "Normal with mean max(run-rate forecast - actual - weighted pipeline, 0) and standard "
    "deviation = the run "
    "rate's relative error in up to {depth} past periods (std of full-period sales / run-rate "
    "forecast at the same point - 1) x the run-rate forecast; a row with fewer than two past "
    "periods uses the whole plan's spread ({plan_spread}). P(reach target) and P10/P50/P90 "
    "from {draws:,} simulated pipelines (fixed seed {seed}), the base integrated exactly."
)


def relative_errors(amounts, dates, keys, periods, share: float) -> pd.DataFrame:
    """Run-rate relative error per key (rows) and past period (columns).

    ``periods`` is a list of ``(period, point, share_of_period_before)`` from the most recent
    past period; ``share`` is used where the period before has no sales.
    """
    out = {}
    for period, point, curve in periods:
        to_point = amounts.where(dates.between(period.start, point), 0.0).groupby(keys).sum()
        full = amounts.where(dates.between(period.start, period.end), 0.0).groupby(keys).sum()
        pace = curve if curve and curve > 0 else share
        predicted = to_point / pace
        out[period.label] = (full / predicted - 1).where(to_point > 0)
    return pd.DataFrame(out)


def spreads(errors: pd.DataFrame, plan_errors: pd.Series) -> tuple[pd.Series, float]:
    """Per-row spread (std of the relative errors, two periods or more), else the plan's."""
    valid = plan_errors.dropna()
    plan = float(valid.std(ddof=1)) if len(valid) >= 2 else 0.0
    own = errors.std(axis=1, ddof=1).where(errors.notna().sum(axis=1) >= 2)
    return own.fillna(plan), plan


@dataclass
class Outcomes:
    """Simulated outcomes of a table's rows, in row order."""

    known: np.ndarray  # rows x DRAWS: actual + one pipeline draw
    mean: np.ndarray  # rows: mean of the base's Normal
    sd: np.ndarray  # rows: its standard deviation

    def columns(self, target: np.ndarray) -> dict[str, np.ndarray]:
        """``p_reach_target`` and P10/P50/P90 for the given targets."""
        from scipy.special import ndtr  # imported here: plans load without SciPy

        target = np.asarray(target, float)
        mean, sd = self.mean[:, None], self.sd[:, None]
        short = target[:, None] - self.known  # what the base must bring, per pipeline draw
        with np.errstate(divide="ignore", invalid="ignore"):
            tail = np.where(sd > 0, ndtr((mean - short) / np.where(sd > 0, sd, 1.0)),
                            (mean >= short).astype(float))  # fmt: skip
        reach = np.where(short <= 0, 1.0, tail).mean(axis=1)
        reach = np.where(target > 0, reach, np.nan)
        rng = np.random.default_rng(SEED + 1)
        finals = self.known + np.maximum(mean + sd * rng.standard_normal(self.known.shape), 0.0)
        p10, p50, p90 = np.quantile(finals, [0.1, 0.5, 0.9], axis=1)
        return {"forecast_p10": p10, "forecast_p50": p50, "forecast_p90": p90,
                "p_reach_target": reach}  # fmt: skip


def pipeline_draws(index: pd.Index, opps: pd.DataFrame | None, keys: list[str]) -> np.ndarray:
    """Simulated pipeline of each row of ``index`` (rows x :data:`DRAWS`): each open
    opportunity (``amount``, ``probability`` and the ``keys`` columns) closes or not."""
    rng = np.random.default_rng(SEED)
    pipeline = np.zeros((len(index), DRAWS))
    if opps is None or not len(opps):
        return pipeline
    where = pd.MultiIndex.from_frame(opps[keys]) if len(keys) > 1 else pd.Index(opps[keys[0]])
    row = index.get_indexer(where)
    amount, prob = opps["amount"].to_numpy(float), opps["probability"].to_numpy(float)
    for i in np.unique(row[row >= 0]):
        mine = np.flatnonzero(row == i)
        for chunk in np.array_split(mine, max(1, len(mine) // 256)):
            hits = rng.random((len(chunk), DRAWS), dtype=np.float32) < prob[chunk, None]
            pipeline[i] = pipeline[i] + amount[chunk] @ hits.astype(np.float32)
    return pipeline


def add_up(draws: np.ndarray, groups, index: pd.Index) -> np.ndarray:
    """The draws of coarser rows (``index``): the sum of the rows whose group is each row."""
    out = np.zeros((len(index), draws.shape[1]))
    position = index.get_indexer(pd.Index(groups))
    np.add.at(out, position[position >= 0], draws[position >= 0])
    return out


def outcomes(frame: pd.DataFrame, pipeline: np.ndarray, spread: pd.Series) -> Outcomes:
    """Outcomes of ``frame``'s rows (``actual``, ``run_rate_forecast``, ``weighted_pipeline``)
    from their pipeline draws and run-rate ``spread`` (indexed like ``frame``)."""
    base = np.maximum(frame["run_rate_forecast"] - frame["actual"] - frame["weighted_pipeline"],
                      0.0).to_numpy(float)  # fmt: skip
    sd = (spread.reindex(frame.index).fillna(0.0) * frame["run_rate_forecast"]).to_numpy(float)
    return Outcomes(frame["actual"].to_numpy(float)[:, None] + pipeline, base, np.abs(sd))


def add_forecast(frame: pd.DataFrame, outcomes: Outcomes) -> None:
    """Write the forecast columns into ``frame`` (targets from its ``target`` column)."""
    frame["base_remaining"] = np.maximum(
        frame["run_rate_forecast"] - frame["actual"] - frame["weighted_pipeline"], 0.0
    )
    frame["base_sd"] = outcomes.sd
    for name, values in outcomes.columns(frame["target"].to_numpy(float)).items():
        frame[name] = values
