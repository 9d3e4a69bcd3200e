"""A latent-class (finite mixture) model for mixed numeric and categorical data, fitted by EM.

How the data are modelled (the choice per column is recorded in ``transforms``):

- A numeric column is one Gaussian per class. A non-negative column is modelled as
  ``log(1 + x)`` when one Gaussian fits that better than the raw values (likelihood with the
  Jacobian, as a Box-Cox choice; it is the case for skewed money columns). A non-negative
  column with at least ``ZERO_SHARE`` zeros has its zeros modelled apart, as a yes/no
  column ``"<column> = 0"``; the Gaussian then describes the non-zero values only (a spike
  of zeros is not a Gaussian, and would otherwise become a class of its own). Blank numeric
  cells are left out of the likelihood (the class then follows from the other columns).
- A categorical column is one set of category probabilities per class (Laplace prior
  ``ALPHA``). Blank cells are the category ``(blank)``.

Model selection: EM from ``restarts`` k-means++ starts (seeded, reproducible) for every number
of classes k = 1..``max_classes``; the solution with the lowest BIC wins. Guards against
degenerate solutions: a class's variance is at least ``VAR_FLOOR_SHARE`` of the column's
variance, and a solution is rejected when a class has fewer than ``min_class_share`` of the
accounts or one value only in a numeric column. When the winner is at the class limit, a note
says so.

Descriptions compare each class with the whole: a numeric column is "low" when the class
median is below the 33rd percentile of the column, "high" above the 67th; a category is
"mostly X" when X is more than half of the class, "more X than average" when it is at least
``LIFT_POINTS`` above its overall share.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from territory.errors import ValidationError

ALPHA = 0.5
VAR_FLOOR_SHARE = 0.01
ZERO_SHARE = 0.05
LOW, HIGH = 1 / 3, 2 / 3
MAJORITY = 0.5
LIFT_POINTS = 0.10


@dataclass
class Prepared:
    """The model's view of the accounts."""

    x: np.ndarray  # (n, p) transformed numeric values, NaN = left out
    raw: np.ndarray  # (n, p) numeric values as given (NaN = blank)
    codes: np.ndarray  # (n, q) category codes (q includes "<column> = 0" columns)
    levels: list[np.ndarray]
    cat_names: list[str]
    transforms: dict[str, str]
    notes: list[str]


@dataclass
class Solution:
    weights: np.ndarray
    means: np.ndarray
    variances: np.ndarray
    probs: list[np.ndarray]
    resp: np.ndarray
    log_likelihood: float


@dataclass
class LatentClassModel:
    """A fitted model.

    ``responsibilities_[i, k]`` is P(class k | account i); ``bic_by_k`` the BIC of every
    accepted number of classes, ``rejected_by_k`` why the others were rejected;
    ``transforms`` how each numeric column was modelled; ``notes`` what a user should know
    (class limit reached, all larger sizes rejected, blanks).
    """

    numeric: list[str]
    categorical: list[str]
    n_classes: int
    max_classes: int
    solution: Solution
    data: Prepared
    bic_by_k: dict[int, float] = field(default_factory=dict)
    rejected_by_k: dict[int, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def responsibilities_(self) -> np.ndarray:
        return self.solution.resp

    @property
    def transforms(self) -> dict[str, str]:
        return self.data.transforms

    @property
    def notes(self) -> list[str]:
        notes = list(self.data.notes)
        above = range(self.n_classes + 1, self.max_classes + 1)
        if len(above) and all(k in self.rejected_by_k for k in above):
            notes.append(
                f"latent_class: every size above {self.n_classes} classes was rejected (e.g. "
                f"{above[0]}: {self.rejected_by_k[above[0]]}), so BIC could not check whether "
                "more classes fit better. Lower min_class_share if small classes are expected."
            )
        if self.n_classes == self.max_classes and self.max_classes > 1:
            notes.append(
                f"latent_class: BIC is lowest at the class limit (max_classes = "
                f"{self.max_classes}), so the data may hold more classes. Raise max_classes "
                f"(e.g. max_classes = {self.max_classes + 3}; --max-classes on the command "
                "line) to try more."
            )
        return notes

    def predict(self) -> np.ndarray:
        """The most likely class of each account (0-based, in the model's order)."""
        return self.solution.resp.argmax(axis=1)

    def describe(self) -> pd.DataFrame:
        """One row per class, largest first: ``label`` (short words), ``accounts``, ``share``,
        ``description`` (the same words with the figures behind them) and ``classes`` (the
        model's class numbers; two classes that cannot be told apart in words are merged)."""
        from territory_latent_class.describe import describe

        return describe(self)

    def labels(self) -> np.ndarray:
        """Per-account label ``"Class n: short description"`` (classes ordered by size)."""
        table = self.describe()
        by_class = {k: row.label for row in table.itertuples() for k in row.classes}
        return np.array([by_class[k] for k in self.predict()], dtype=object)


def fit(
    frame: pd.DataFrame,
    *,
    numeric: list[str],
    categorical: list[str],
    max_classes: int = 6,
    seed: int = 0,
    log: bool = True,
    restarts: int = 5,
    min_class_share: float = 0.02,
    max_iter: int = 300,
) -> LatentClassModel:
    """Fit 1..``max_classes`` classes and return the accepted solution with the lowest BIC.

    Parameters
    ----------
    frame : DataFrame with the named columns (one row per account).
    numeric, categorical : column names.
    max_classes : largest number of classes tried.
    seed : random seed; the same seed gives the same classes.
    log : model a non-negative column as ``log(1 + x)`` where that fits better (per column).
    restarts : EM starts per number of classes (the best accepted one is kept).
    min_class_share : a solution with a class smaller than this share of accounts is rejected.
    """
    import time

    start = time.perf_counter()
    _check_args(frame, numeric, categorical, max_classes, restarts, min_class_share)
    data = prepare(frame, numeric, categorical, log)
    n = len(frame)
    min_size = max(2, int(np.ceil(min_class_share * n)))
    bic_by_k: dict[int, float] = {}
    rejected: dict[int, str] = {}
    best: dict[int, Solution] = {}
    for k in range(1, min(max_classes, n) + 1):
        rng = np.random.default_rng([seed, k])
        accepted, reasons = [], []
        for _ in range(restarts if k > 1 else 1):
            sol = _em(data, k, rng, max_iter)
            reason = degenerate(sol, data, min_size)
            (reasons if reason else accepted).append(reason or sol)
        if not accepted:
            rejected[k] = reasons[0]
            continue
        best[k] = max(accepted, key=lambda s: s.log_likelihood)
        bic_by_k[k] = float(-2 * best[k].log_likelihood + n_parameters(data, k) * np.log(n))
    k = min(bic_by_k, key=bic_by_k.get)
    return LatentClassModel(
        list(numeric), list(categorical), k, max_classes, best[k], data, bic_by_k, rejected,
        time.perf_counter() - start,
    )  # fmt: skip


def _check_args(frame, numeric, categorical, max_classes, restarts, min_class_share) -> None:
    if not numeric and not categorical:
        raise ValidationError(
            "latent_class: name at least one numeric or categorical column (numeric = [...], "
            "categorical = [...])."
        )
    missing = [c for c in [*numeric, *categorical] if c not in frame.columns]
    if missing:
        raise ValidationError(
            f"latent_class: column(s) {', '.join(missing)} not in the accounts; available: "
            f"{', '.join(map(str, frame.columns))}."
        )
    if max_classes < 1:
        raise ValidationError("latent_class: max_classes must be at least 1.")
    if restarts < 1:
        raise ValidationError("latent_class: restarts must be at least 1.")
    if not 0 <= min_class_share < 0.5:
        raise ValidationError("latent_class: min_class_share must be from 0 to below 0.5.")
    if len(frame) == 0:
        raise ValidationError("latent_class: there are no accounts to find classes in.")


def prepare(frame: pd.DataFrame, numeric: list[str], categorical: list[str], log: bool):
    """Numbers (transformed, zeros apart) and category codes; how each column is modelled."""
    n = len(frame)
    raw = np.column_stack([_numbers(frame, c) for c in numeric]) if numeric else np.empty((n, 0))
    x = raw.copy()
    transforms, notes = {}, []
    cat_names, columns = [], []
    for j, col in enumerate(numeric):
        values = raw[:, j]
        seen = values[~np.isnan(values)]
        blanks = n - len(seen)
        if blanks:
            notes.append(
                f"latent_class: {blanks} blank value(s) in '{col}' are left out of the fit "
                "(those accounts are classed by their other columns)."
            )
        how = []
        if len(seen) and seen.min() >= 0 and (seen == 0).mean() >= ZERO_SHARE:
            zero = np.where(np.isnan(values), "(blank)", np.where(values == 0, "yes", "no"))
            cat_names.append(f"{col} = 0")
            columns.append(zero.astype(object))
            x[values == 0, j] = np.nan
            how.append(f"zeros ({(seen == 0).mean():.0%}) apart as '{col} = 0'")
        positive = x[:, j][~np.isnan(x[:, j])]
        if log and len(positive) > 2 and positive.min() >= 0 and _log_fits_better(positive):
            x[:, j] = np.log1p(x[:, j])
            how.insert(0, "log(1 + x)")
        transforms[col] = ", ".join(how) or "as is"
    for col in categorical:
        values = frame[col].astype("string").fillna("(blank)").str.strip()
        cat_names.append(col)
        columns.append(values.replace("", "(blank)").to_numpy(dtype=object))
    levels, codes = [], []
    for values in columns:
        lv, cd = np.unique(values, return_inverse=True)
        levels.append(lv)
        codes.append(cd)
    codes_arr = np.column_stack(codes) if codes else np.empty((n, 0), dtype=int)
    return Prepared(x, raw, codes_arr, levels, cat_names, transforms, notes)


def _numbers(frame: pd.DataFrame, col: str) -> np.ndarray:
    given = frame[col]
    values = pd.to_numeric(given, errors="coerce")
    text = values.isna() & given.notna() & (given.astype("string").str.strip() != "")
    if text.any():
        pos = int(np.flatnonzero(text.to_numpy())[0])
        who = f" (account {frame['account_id'].iloc[pos]!r})" if "account_id" in frame else ""
        raise ValidationError(
            f"latent_class: numeric column '{col}' has {int(text.sum())} value(s) that are not "
            f"numbers, first {given.iloc[pos]!r} in row {pos + 1}{who}. Fix the values or list "
            f"'{col}' under categorical."
        )
    out = values.to_numpy(float)
    if np.isnan(out).all():
        raise ValidationError(f"latent_class: numeric column '{col}' is blank for every account.")
    return out


def _log_fits_better(values: np.ndarray) -> bool:
    """Whether one Gaussian fits ``log(1 + x)`` better than ``x`` (likelihood on the scale of
    ``x``, i.e. with the Jacobian of the transform, as in a Box-Cox choice)."""
    logged = np.log1p(values)
    if values.var() == 0 or logged.var() == 0:
        return False
    raw_ll = -0.5 * len(values) * np.log(values.var())
    log_ll = -0.5 * len(values) * np.log(logged.var()) - logged.sum()
    return bool(log_ll > raw_ll)


def n_parameters(data: Prepared, k: int) -> int:
    """Free parameters of a k-class model: weights, means and variances, category shares."""
    return (k - 1) + k * 2 * data.x.shape[1] + k * sum(len(lv) - 1 for lv in data.levels)


def degenerate(sol: Solution, data: Prepared, min_size: int) -> str | None:
    """Why a solution is degenerate (a tiny or empty class, a one-value class), else None."""
    k = len(sol.weights)
    if k == 1:
        return None
    assign = sol.resp.argmax(axis=1)
    sizes = np.bincount(assign, minlength=k)
    if sizes.min() < min_size:
        return f"a class of {sizes.min()} accounts, fewer than {min_size}"
    for c in range(k):
        members = data.x[assign == c]
        for j in range(members.shape[1]):
            seen = members[:, j][~np.isnan(members[:, j])]
            if len(seen) >= 2 and np.all(seen == seen[0]):
                return f"a class whose accounts all have one value of {list(data.transforms)[j]}"
    return None


def _em(data: Prepared, k: int, rng: np.random.Generator, max_iter: int, tol=1e-6) -> Solution:
    observed = ~np.isnan(data.x)
    x0 = np.where(observed, data.x, 0.0)
    col_var = np.array(
        [np.var(v[m]) if m.any() else 1.0 for v, m in zip(x0.T, observed.T, strict=True)]
    )
    floor = np.maximum(VAR_FLOOR_SHARE * col_var, 1e-9)
    onehots = [np.eye(len(lv))[data.codes[:, c]] for c, lv in enumerate(data.levels)]
    resp = _kmeanspp_start(x0, observed, col_var, onehots, k, rng)
    ll_old = -np.inf
    for _ in range(max_iter):
        w, mu, var, probs = _m_step(x0, observed, onehots, resp, floor)
        log_p = _log_joint(x0, observed, onehots, w, mu, var, probs)
        top = log_p.max(axis=1, keepdims=True)
        norm = top[:, 0] + np.log(np.exp(log_p - top).sum(axis=1))
        resp = np.exp(log_p - norm[:, None])
        ll = float(norm.sum())
        if ll - ll_old <= tol * abs(ll):
            break
        ll_old = ll
    return Solution(w, mu, var, probs, resp, ll)


def _kmeanspp_start(x0, observed, col_var, onehots, k, rng) -> np.ndarray:
    """Hard responsibilities from k-means++ seeds on standardised numbers and one-hot codes."""
    mean = (x0 * observed).sum(axis=0) / np.maximum(observed.sum(axis=0), 1)
    z = np.where(observed, (x0 - mean) / np.sqrt(np.maximum(col_var, 1e-12)), 0.0)
    feats = np.hstack([z, *onehots]) if onehots else z
    centres = [feats[rng.integers(len(feats))]]
    d2 = ((feats - centres[0]) ** 2).sum(axis=1)
    for _ in range(1, k):
        p = d2 / d2.sum() if d2.sum() > 0 else None
        centres.append(feats[rng.choice(len(feats), p=p)])
        d2 = np.minimum(d2, ((feats - centres[-1]) ** 2).sum(axis=1))
    dist = ((feats[:, None, :] - np.array(centres)[None]) ** 2).sum(axis=2)
    return np.eye(k)[dist.argmin(axis=1)] * 0.9 + 0.1 / k


def _m_step(x0, observed, onehots, resp, floor):
    nk = resp.sum(axis=0) + 1e-12
    w = nk / nk.sum()
    nkj = resp.T @ observed + 1e-12
    mu = (resp.T @ x0) / nkj
    var = (resp.T @ x0**2) / nkj - mu**2
    var = np.maximum(var, floor[None, :])
    probs = []
    for onehot in onehots:
        counts = resp.T @ onehot + ALPHA
        probs.append(counts / counts.sum(axis=1, keepdims=True))
    return w, mu, var, probs


def _log_joint(x0, observed, onehots, w, mu, var, probs):
    """log(weight_k) + log p(account i | class k), as (n, k); blank numbers are left out."""
    out = np.repeat(np.log(w)[None, :], len(x0), axis=0)
    if x0.shape[1]:
        # sum_j obs_ij * (log(2 pi var_kj) + (x_ij - mu_kj)^2 / var_kj), as matrix products
        quad = (observed * x0**2) @ (1 / var).T - 2 * x0 @ (mu / var).T
        quad += observed @ (np.log(2 * np.pi * var) + mu**2 / var).T
        out -= 0.5 * quad
    for onehot, p in zip(onehots, probs, strict=True):
        out += onehot @ np.log(p).T
    return out
