"""Latent classes in plain words, each class compared with all accounts.

Rules (stated in the README, checked by the tests):

- numeric column: "low <column>" when the class median is below the 33rd percentile of the
  column over all accounts, "high <column>" above the 67th; the description gives both
  figures ("high revenue (median 5,120; overall 33rd-67th percentile 410-1,260)").
- a column whose zeros are modelled apart: "no <column>" when more than half the class is
  zero, "more with no <column> than average" when its share of zeros is ``LIFT_POINTS`` above
  the overall share.
- categorical column: "mostly X" only when X is more than half the class and ``LIFT_POINTS``
  above its overall share; otherwise "more X than average" for the category furthest above
  its overall share (at least ``LIFT_POINTS``); always with both shares ("62% vs 30%").
- classes that read the same get the median of the numeric column that differs most between
  them added; classes that still read the same are merged into one label.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from territory_latent_class.model import HIGH, LIFT_POINTS, LOW, MAJORITY


def describe(model) -> pd.DataFrame:
    data = model.data
    assign = model.predict()
    k_all = model.n_classes
    sizes = np.bincount(assign, minlength=k_all)
    order = [int(k) for k in np.argsort(-sizes, kind="stable") if sizes[k]]
    words = {k: _class_words(data, model.numeric, assign == k) for k in order}
    short = {k: ", ".join(s for s, _ in words[k]) or "close to the average account" for k in order}
    long = {k: ", ".join(d for _, d in words[k]) or "close to the average account" for k in order}
    for same in _repeated(short):
        col, extra = _distinguish(data, model.numeric, assign, same)
        for k, text in extra.items():
            short[k] += text
            if f" {col} (median " not in f" {long[k]}":  # the figure is not there yet
                long[k] += text
    groups: dict[str, list[int]] = {}
    for k in order:
        groups.setdefault(short[k], []).append(k)
    rows = []
    for i, (text, classes) in enumerate(groups.items()):
        count = int(sizes[classes].sum())
        rows.append({
            "label": f"Class {i + 1}: {text}",
            "accounts": count,
            "share": count / len(assign),
            "description": long[classes[0]],
            "classes": classes,
        })  # fmt: skip
    return pd.DataFrame(rows)


def _repeated(texts: dict[int, str]) -> list[list[int]]:
    """Groups of classes that read the same."""
    groups: dict[str, list[int]] = {}
    for k, text in texts.items():
        groups.setdefault(text, []).append(k)
    return [g for g in groups.values() if len(g) > 1]


def _class_words(data, numeric: list[str], members: np.ndarray) -> list[tuple[str, str]]:
    """(short, with figures) phrases for one class, numeric columns first."""
    out = []
    for j, col in enumerate(numeric):
        zero_col = f"{col} = 0"
        if zero_col in data.cat_names:
            c = data.cat_names.index(zero_col)
            yes = np.flatnonzero(data.levels[c] == "yes")
            codes = data.codes[:, c]
            inside = float((codes[members] == yes[0]).mean()) if len(yes) else 0.0
            overall = float((codes == yes[0]).mean()) if len(yes) else 0.0
            figures = f"({inside:.0%} vs {overall:.0%})"
            if inside > MAJORITY:
                out.append((f"no {col}", f"no {col} {figures}"))
                continue
            if inside - overall >= LIFT_POINTS:
                text = f"more with no {col} than average"
                out.append((text, f"{text} {figures}"))
        words = _numeric_words(data.raw[:, j], members, col)
        if words:
            out.append(words)
    for c, col in enumerate(data.cat_names):
        if col.endswith(" = 0") and col[:-4] in numeric:
            continue
        words = _category_words(data.codes[:, c], data.levels[c], members)
        if words:
            out.append(words)
    return out


def _numeric_words(values: np.ndarray, members: np.ndarray, col: str):
    seen = ~np.isnan(values)
    inside = values[members & seen]
    if not len(inside):
        return None
    low, high = np.quantile(values[seen], [LOW, HIGH])
    median = float(np.median(inside))
    figures = f"(median {_fmt(median)}; overall 33rd-67th percentile {_fmt(low)}-{_fmt(high)})"
    if median < low:
        return f"low {col}", f"low {col} {figures}"
    if median > high:
        return f"high {col}", f"high {col} {figures}"
    return None


def _category_words(codes: np.ndarray, levels: np.ndarray, members: np.ndarray):
    inside = np.bincount(codes[members], minlength=len(levels)) / max(int(members.sum()), 1)
    overall = np.bincount(codes, minlength=len(levels)) / len(codes)
    top = int(np.argmax(inside))
    if inside[top] > MAJORITY and inside[top] - overall[top] >= LIFT_POINTS:
        value = levels[top]
        return f"mostly {value}", f"mostly {value} ({inside[top]:.0%} vs {overall[top]:.0%})"
    lift = inside - overall
    best = int(np.argmax(lift))
    if lift[best] >= LIFT_POINTS:
        value = levels[best]
        text = f"more {value} than average"
        return text, f"{text} ({inside[best]:.0%} vs {overall[best]:.0%})"
    return None


def _distinguish(data, numeric: list[str], assign: np.ndarray, same: list[int]):
    """``"; median <column> <value>"`` per class, for the numeric column whose class medians
    lie furthest apart in percentile rank, and that column (no text when none differs)."""
    best, spread = None, 0.0
    for j, col in enumerate(numeric):
        values = data.raw[:, j]
        seen = np.sort(values[~np.isnan(values)])
        medians = {}
        for k in same:
            inside = values[(assign == k) & ~np.isnan(values)]
            if len(inside):
                medians[k] = float(np.median(inside))
        ranks = [np.searchsorted(seen, m) / len(seen) for m in medians.values()]
        if len(set(medians.values())) > 1 and max(ranks) - min(ranks) >= spread:
            best, spread = (col, medians), max(ranks) - min(ranks)
    if best is None:
        return None, {}
    col, medians = best
    return col, {k: f"; median {col} {_fmt(m)}" for k, m in medians.items()}


def _fmt(value: float) -> str:
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:.3g}"
