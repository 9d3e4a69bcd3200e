"""Built-in segmentation axes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from territory.columns import find_column
from territory.errors import ValidationError
from territory.extensions import REQUIRED, AxisContext, Param, SegmentAxis
from territory.hookspecs import hookimpl
from territory.io import Source, as_frame

BLANK = "(blank)"

# NAICS 2017 sectors (two-digit codes; 31-33, 44-45 and 48-49 are one sector each).
NAICS_SECTORS = {
    "11": "Agriculture, Forestry, Fishing and Hunting",
    "21": "Mining, Quarrying, and Oil and Gas Extraction",
    "22": "Utilities",
    "23": "Construction",
    **dict.fromkeys(("31", "32", "33"), "Manufacturing"),
    "42": "Wholesale Trade",
    **dict.fromkeys(("44", "45"), "Retail Trade"),
    **dict.fromkeys(("48", "49"), "Transportation and Warehousing"),
    "51": "Information",
    "52": "Finance and Insurance",
    "53": "Real Estate and Rental and Leasing",
    "54": "Professional, Scientific, and Technical Services",
    "55": "Management of Companies and Enterprises",
    "56": "Administrative and Support and Waste Management and Remediation Services",
    "61": "Educational Services",
    "62": "Health Care and Social Assistance",
    "71": "Arts, Entertainment, and Recreation",
    "72": "Accommodation and Food Services",
    "81": "Other Services (except Public Administration)",
    "92": "Public Administration",
}
# SIC divisions by two-digit major group ranges.
SIC_DIVISIONS = [
    (1, 9, "Agriculture, Forestry, and Fishing"),
    (10, 14, "Mining"),
    (15, 17, "Construction"),
    (20, 39, "Manufacturing"),
    (40, 49, "Transportation, Communications, Electric, Gas, and Sanitary Services"),
    (50, 51, "Wholesale Trade"),
    (52, 59, "Retail Trade"),
    (60, 67, "Finance, Insurance, and Real Estate"),
    (70, 89, "Services"),
    (91, 97, "Public Administration"),
    (99, 99, "Nonclassifiable Establishments"),
]


def _column(ctx: AxisContext, name: str | None, candidates: tuple[str, ...], axis: str) -> str:
    return find_column(
        ctx.accounts, name, candidates, what=f"'{axis}' axis", source=Source("the accounts"),
        option=f"'column' parameter of the {axis} axis",
    )  # fmt: skip


def _text(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip()
    return text.where(text.notna() & text.ne(""), BLANK).astype(object)


def column_axis(ctx: AxisContext, column: str) -> pd.Series:
    return _text(ctx.accounts[_column(ctx, column, (), "column")])


def channel_axis(ctx: AxisContext, column: str) -> pd.Series:
    return _text(ctx.accounts[_column(ctx, column, ("channel", "sales_channel"), "channel")])


def industry_axis(ctx: AxisContext, column: str | None, rollup: str) -> pd.Series:
    candidates = ("industry", "naics", "naics_code", "sic", "sic_code", "sector")
    codes = _text(ctx.accounts[_column(ctx, column, candidates, "industry")])
    if rollup == "none":
        return codes
    digits = codes.str.extract(r"^(\d{2})", expand=False)
    if rollup == "naics":
        labels = digits.map(NAICS_SECTORS)
    else:
        major = pd.to_numeric(digits, errors="coerce")
        labels = pd.Series(np.nan, index=codes.index, dtype=object)
        for lo, hi, name in SIC_DIVISIONS:
            labels[(major >= lo) & (major <= hi)] = name
    unknown = f"(unknown {rollup.upper()} code)"
    return labels.where(labels.notna(), np.where(codes.eq(BLANK), BLANK, unknown)).astype(object)


def size_tier_axis(ctx, column, thresholds, quantiles, labels) -> pd.Series:
    col = _column(ctx, column, ("employees", "employee_count", "headcount", "revenue"), "size_tier")
    values = pd.to_numeric(ctx.accounts[col], errors="coerce")
    if thresholds and quantiles:
        raise ValidationError("size_tier axis: give thresholds or quantiles, not both.")
    if thresholds:
        cuts = sorted(thresholds)
    else:
        qs = quantiles or [0.5, 0.8, 0.95]
        if not all(0 < q < 1 for q in qs):
            raise ValidationError("size_tier axis: quantiles must lie between 0 and 1.")
        cuts = (
            sorted(set(np.nanquantile(values, sorted(qs)).tolist())) if values.notna().any() else []
        )
    names = labels or _tier_names(len(cuts) + 1)
    if len(names) != len(cuts) + 1:
        raise ValidationError(
            f"size_tier axis: {len(cuts)} cut points make {len(cuts) + 1} tiers, but "
            f"{len(names)} labels were given."
        )
    tier = np.searchsorted(np.asarray(cuts), values.to_numpy(), side="right")
    out = pd.Series(np.asarray(names, dtype=object)[np.minimum(tier, len(names) - 1)],
                    index=ctx.accounts.index)  # fmt: skip
    return out.where(values.notna(), BLANK)


def _tier_names(n: int) -> list[str]:
    standard = {2: ["Small", "Large"], 3: ["Small", "Medium", "Large"],
                4: ["Small", "Medium", "Large", "Enterprise"]}  # fmt: skip
    return standard.get(n, [f"Tier {i + 1}" for i in range(n)])


def value_tier_axis(ctx: AxisContext, column: str, a: float, b: float) -> pd.Series:
    """ABC (Pareto) tiers: A = accounts making the first ``a`` of the total, B up to ``b``."""
    if not 0 < a < b <= 1:
        raise ValidationError("value_tier axis: need 0 < a < b <= 1 (e.g. a = 0.8, b = 0.95).")
    col = _column(ctx, column, ("revenue",), "value_tier")
    values = pd.to_numeric(ctx.accounts[col], errors="coerce").fillna(0).clip(lower=0)
    total = values.sum()
    out = pd.Series("C", index=ctx.accounts.index, dtype=object)
    if total <= 0:
        return out
    order = np.argsort(-values.to_numpy(), kind="stable")
    before = (np.cumsum(values.to_numpy()[order]) - values.to_numpy()[order]) / total
    tier = np.where(before < a, "A", np.where(before < b, "B", "C"))
    out.iloc[order] = tier
    out[values <= 0] = "C"
    return out


def product_line_axis(ctx, orders, customer, category, amount, mode, min_share) -> pd.Series:
    """Dominant product category per account from order lines, or the mix above a share."""
    lines, source = as_frame(str(orders), "order lines")
    for col in (customer, category, amount):
        if col not in lines.columns:
            raise ValidationError(
                f"product_line axis: column '{col}' is not in {source.name}. Columns: "
                f"{', '.join(map(str, lines.columns))}."
            )
    sales = pd.to_numeric(lines[amount], errors="coerce").fillna(0)
    frame = pd.DataFrame(
        {"c": lines[customer].astype(str), "k": lines[category].astype(str), "s": sales}
    )
    by = frame.groupby(["c", "k"])["s"].sum().reset_index()
    by["share"] = by["s"] / by.groupby("c")["s"].transform("sum")
    by = by.sort_values(["c", "share", "k"], ascending=[True, False, True])
    if mode == "dominant":
        label = by.drop_duplicates("c").set_index("c")["k"]
    else:
        kept = by[by["share"] >= min_share]
        label = kept.groupby("c", sort=False)["k"].agg(" + ".join)
    ids = ctx.accounts["account_id"].astype(str)
    return ids.map(label).fillna("(no orders)").astype(object)


def geography_axis(ctx: AxisContext, level: str) -> pd.Series:
    if level == "block":
        if "block_id" not in ctx.assignments:
            raise ValidationError("geography axis: level 'block' needs a block layer.")
        values = ctx.assignments["block_id"]
    elif level == "territory":
        values = ctx.assignments["territory_id"]
    else:
        parents = ctx.territories.set_index("territory_id")["parent"]
        values = ctx.assignments["territory_id"].astype(object).map(parents)
    text = pd.Series(values.to_numpy(dtype=object), index=ctx.accounts.index)
    return text.where(text.notna(), "(unassigned)").astype(str).astype(object)


@hookimpl
def register_segment_axes(register):
    register(SegmentAxis(
        "column", column_axis,
        {"column": Param("str", REQUIRED, "Account column whose values are the labels.")},
        "Labels are the values of an account column (blank -> '(blank)').",
    ))  # fmt: skip
    register(SegmentAxis(
        "channel", channel_axis,
        {"column": Param("str", None, "Channel column (default: channel, sales_channel).")},
        "Sales channel from an account column.",
    ))  # fmt: skip
    register(SegmentAxis(
        "industry", industry_axis,
        {
            "column": Param("str", None, "Industry column (default: industry, naics, sic ...)."),
            "rollup": Param("str", "none", "Roll codes up to sectors.", ("none", "naics", "sic")),
        },
        "Industry labels, optionally rolled up to NAICS sectors or SIC divisions.",
    ))  # fmt: skip
    register(SegmentAxis(
        "size_tier", size_tier_axis,
        {
            "column": Param("str", None, "Size measure (default: employees, else revenue)."),
            "thresholds": Param("list[float]", None, "Cut points, e.g. [50, 250, 1000]."),
            "quantiles": Param("list[float]", None, "Quantile cut points (default .5, .8, .95)."),
            "labels": Param("list[str]", None, "One label per tier, smallest first."),
        },
        "Size tiers from thresholds or quantiles of employees or revenue.",
        whole_table=True,
    ))  # fmt: skip
    register(SegmentAxis(
        "value_tier", value_tier_axis,
        {
            "column": Param("str", "revenue", "Value measure."),
            "a": Param("float", 0.8, "Share of the total made by A accounts."),
            "b": Param("float", 0.95, "Cumulative share made by A and B accounts."),
        },
        "ABC / Pareto tiers on a value measure.",
        whole_table=True,
    ))  # fmt: skip
    register(SegmentAxis(
        "product_line", product_line_axis,
        {
            "orders": Param("path", REQUIRED, "Order lines file (CSV, Parquet ...)."),
            "customer": Param("str", "account_id", "Order column holding the account id."),
            "category": Param("str", "product_line", "Order column holding the product line."),
            "amount": Param("str", "amount", "Order column holding the amount."),
            "mode": Param("str", "dominant", "Label by the top line or the mix.",
                          ("dominant", "mix")),
            "min_share": Param("float", 0.25, "With mode = mix, lines at or above this share."),
        },
        "Product line from order lines: the dominant category or the share mix.",
    ))  # fmt: skip
    register(SegmentAxis(
        "geography", geography_axis,
        {"level": Param("str", "region", "Geographic level.", ("block", "territory", "region"))},
        "The account's block, territory or region (territory parent).",
    ))  # fmt: skip
