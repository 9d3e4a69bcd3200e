"""A latent-class (finite mixture) model for mixed data, fitted by EM.

Numeric columns are modelled per class as independent Gaussians (on log(1 + x) for
non-negative money-like columns when ``log``), categorical columns as per-class category
probabilities (with a small Laplace prior). The number of classes is chosen by BIC; several
random starts guard against poor local optima; a fixed seed makes results reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from territory.errors import ValidationError

VAR_FLOOR = 1e-3
ALPHA = 0.5  # Laplace prior on category counts


@dataclass
class LatentClassModel:
    """A fitted model. ``responsibilities_[i, k]`` is P(class k | account i)."""

    numeric: list[str]
    categorical: list[str]
    n_classes: int
    weights_: np.ndarray
    means_: np.ndarray
    variances_: np.ndarray
    probs_: list[np.ndarray]
    levels_: list[np.ndarray]
    responsibilities_: np.ndarray
    log_likelihood_: float
    bic_by_k: dict[int, float] = field(default_factory=dict)
    _x: np.ndarray | None = None
    _codes: np.ndarray | None = None

    def predict(self) -> np.ndarray:
        return self.responsibilities_.argmax(axis=1)

    def describe(self) -> pd.DataFrame:
        """One row per class: label, share of accounts and a description in words."""
        assign = self.predict()
        rows = []
        for k in np.argsort(-np.bincount(assign, minlength=self.n_classes)):
            members = assign == k
            parts = []
            for j, col in enumerate(self.numeric):
                z = (self._x[members, j].mean() - self._x[:, j].mean()) / (self._x[:, j].std() or 1)
                if z > 0.5:
                    parts.append(f"high {col}")
                elif z < -0.5:
                    parts.append(f"low {col}")
            for c in range(len(self.categorical)):
                codes = self._codes[:, c]
                inside = np.bincount(codes[members], minlength=len(self.levels_[c])) / max(
                    members.sum(), 1
                )
                overall = np.bincount(codes, minlength=len(self.levels_[c])) / len(codes)
                lift = inside / np.maximum(overall, 1e-9)
                best = int(np.argmax(lift * (inside >= 0.2)))
                if inside[best] >= 0.2 and lift[best] > 1.15:
                    parts.append(f"mostly {self.levels_[c][best]} ({inside[best]:.0%} vs "
                                 f"{overall[best]:.0%})")  # fmt: skip
            description = ", ".join(parts) or "close to the average account"
            rows.append({"class": int(k), "share": float(members.mean()),
                         "description": description})  # fmt: skip
        out = pd.DataFrame(rows)
        out.insert(1, "label", [f"Class {i + 1}: {d}" for i, d in enumerate(out["description"])])
        return out

    def labels(self) -> np.ndarray:
        """Per-account label ``"Class n: short description"`` (classes ordered by size)."""
        table = self.describe()
        short = {
            row["class"]: row["label"].split(" (")[0] if len(row["label"]) > 80 else row["label"]
            for _, row in table.iterrows()
        }
        return np.array([short[k] for k in self.predict()], dtype=object)


def fit(
    frame: pd.DataFrame,
    *,
    numeric: list[str],
    categorical: list[str],
    max_classes: int = 6,
    seed: int = 0,
    log: bool = True,
    n_init: int = 4,
    max_iter: int = 300,
) -> LatentClassModel:
    """Fit models with 1..``max_classes`` classes and return the one with the lowest BIC."""
    if not numeric and not categorical:
        raise ValidationError("latent_class: name at least one numeric or categorical column.")
    missing = [c for c in [*numeric, *categorical] if c not in frame.columns]
    if missing:
        raise ValidationError(
            f"latent_class: column(s) {', '.join(missing)} not in the accounts; available: "
            f"{', '.join(map(str, frame.columns))}."
        )
    if max_classes < 1:
        raise ValidationError("latent_class: max_classes must be at least 1.")
    x = np.column_stack([pd.to_numeric(frame[c], errors="coerce").to_numpy(float)
                         for c in numeric]) if numeric else np.empty((len(frame), 0))  # fmt: skip
    if np.isnan(x).any():
        x = np.where(np.isnan(x), np.nanmedian(x, axis=0), x)
    if log:
        nonneg = (x >= 0).all(axis=0)
        x[:, nonneg] = np.log1p(x[:, nonneg])
    levels, codes = [], []
    for col in categorical:
        values = frame[col].astype("string").fillna("(blank)").to_numpy(dtype=object)
        lv, cd = np.unique(values, return_inverse=True)
        levels.append(lv)
        codes.append(cd)
    codes_arr = np.column_stack(codes) if codes else np.empty((len(frame), 0), dtype=int)
    rng = np.random.default_rng(seed)
    best_by_k, bic_by_k = {}, {}
    n = len(frame)
    for k in range(1, min(max_classes, n) + 1):
        fits = [_em(x, codes_arr, levels, k, rng, max_iter) for _ in range(n_init if k > 1 else 1)]
        best = max(fits, key=lambda f: f[-1])
        n_params = (k - 1) + k * 2 * x.shape[1] + k * sum(len(lv) - 1 for lv in levels)
        bic_by_k[k] = -2 * best[-1] + n_params * np.log(n)
        best_by_k[k] = best
    k = min(bic_by_k, key=bic_by_k.get)
    w, mu, var, probs, resp, ll = best_by_k[k]
    return LatentClassModel(numeric, categorical, k, w, mu, var, probs, levels, resp, ll,
                            bic_by_k, x, codes_arr)  # fmt: skip


def _em(x, codes, levels, k, rng, max_iter, tol=1e-6):
    n = len(x)
    resp = rng.dirichlet(np.ones(k), size=n)
    ll_old = -np.inf
    for _ in range(max_iter):
        w, mu, var, probs = _m_step(x, codes, levels, resp)
        log_p = _log_joint(x, codes, w, mu, var, probs)
        top = log_p.max(axis=1, keepdims=True)
        norm = top[:, 0] + np.log(np.exp(log_p - top).sum(axis=1))
        resp = np.exp(log_p - norm[:, None])
        ll = float(norm.sum())
        if ll - ll_old < tol * abs(ll):
            break
        ll_old = ll
    return w, mu, var, probs, resp, ll


def _m_step(x, codes, levels, resp):
    nk = resp.sum(axis=0) + 1e-12
    w = nk / nk.sum()
    mu = (resp.T @ x) / nk[:, None]
    var = (resp.T @ x**2) / nk[:, None] - mu**2
    var = np.maximum(var, VAR_FLOOR)
    probs = []
    for c, lv in enumerate(levels):
        onehot = np.eye(len(lv))[codes[:, c]]
        counts = resp.T @ onehot + ALPHA
        probs.append(counts / counts.sum(axis=1, keepdims=True))
    return w, mu, var, probs


def _log_joint(x, codes, w, mu, var, probs):
    out = np.log(w)[None, :].repeat(len(x), axis=0)
    if x.shape[1]:
        diff = x[:, None, :] - mu[None, :, :]
        out += -0.5 * (np.log(2 * np.pi * var)[None] + diff**2 / var[None]).sum(axis=2)
    for c, p in enumerate(probs):
        out += np.log(p[:, codes[:, c]]).T
    return out
