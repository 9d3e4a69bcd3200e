"""Brief text assembled from a territory's facts: one sentence per fact that is present.

Sentences are plain text built from data; a missing fact leaves its sentence out (there is no
generic fallback phrase). The text becomes HTML only in the autoescaped page template.
"""

from __future__ import annotations

import math

import pandas as pd

COLUMNS = [
    "territory_id", "name", "parent", "headline", "message", "price_positioning",
    "message_emphasis", "accounts", "measure", "total", "prior_total", "growth", "target",
    "attainment", "income_index", "income_ratio",
    *(f"segment_{i}{s}" for i in (1, 2, 3) for s in ("", "_share", "_plan_share")),
    "state", "state_share", "language", "currency", "timezone", "locale_note", "reason",
]  # fmt: skip


def present(value) -> bool:
    """True for a real value (not None, NaN or blank text)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    return not (isinstance(value, str) and not value.strip())


def positioning(ratio, premium_above: float, value_below: float) -> str | None:
    if not present(ratio):
        return None
    return "premium" if ratio >= premium_above else "value" if ratio <= value_below else "standard"


def growth_sentence(f) -> str | None:
    total, prior, word = f["total"], f["prior_total"], f["measure"].replace("_", " ")
    if not present(prior) or (prior == 0 and total == 0):
        return None
    if prior <= 0:
        return f"All {total:,.0f} of {word} is new: none in the prior period."
    growth = f["growth"]
    if abs(growth) < 0.005:
        return f"{word.capitalize()} of {total:,.0f} is level with the prior period."
    trend = "up" if growth > 0 else "down"
    return (
        f"{word.capitalize()} of {total:,.0f} is {trend} {abs(growth):.0%} on the prior "
        f"period ({prior:,.0f})."
    )


def attainment_sentence(f) -> str | None:
    if not present(f["attainment"]):
        return None
    return f"That is {f['attainment']:.0%} of the {f['target']:,.0f} target."


def segment_sentence(f) -> str | None:
    parts = []
    for i in (1, 2, 3):
        seg = f[f"segment_{i}"]
        if not present(seg):
            break
        share, plan = f[f"segment_{i}_share"], f[f"segment_{i}_plan_share"]
        parts.append(f"{seg} {share:.0%} (plan-wide {plan:.0%})")
    if not parts:
        return None
    word = f["measure"].replace("_", " ")
    return f"{word.capitalize()} by segment: " + ", ".join(parts) + "."


def standout_sentence(f) -> str | None:
    """The segment most over-represented against the plan, if by 5 points or more."""
    best, gap = None, 0.05
    for i in (1, 2, 3):
        seg = f[f"segment_{i}"]
        if present(seg) and f[f"segment_{i}_share"] - f[f"segment_{i}_plan_share"] >= gap:
            best, gap = seg, f[f"segment_{i}_share"] - f[f"segment_{i}_plan_share"]
    if best is None:
        return None
    return f"{best} buyers are {gap * 100:.0f} points stronger here than plan-wide."


def economics_sentence(f, position: str | None, income_label: str) -> str | None:
    if position is None:
        return None
    return (
        f"The {income_label} of its accounts' states averages {f['income_index']:,.0f}, "
        f"{f['income_ratio']:.2f}x the plan average: {position} pricing."
    )


def locale_sentence(f) -> str | None:
    if not present(f["language"]):
        return None
    return (
        f"Write in {f['language']}, price in {f['currency']} and time sends for "
        f"{f['timezone']} ({f['state']}, {f['state_share']:.0%} of accounts)."
    )


def headline(f, position: str | None, emphasis: str | None) -> str:
    lead = f["segment_1"] if present(f["segment_1"]) else None
    if position and lead:
        text = f"{position.capitalize()} offer for {lead} buyers"
    elif position:
        text = f"{position.capitalize()} offer"
    elif lead:
        text = f"Win {lead} buyers"
    else:
        text = f"{f['accounts']:,} accounts, {f['total']:,.0f} {f['measure'].replace('_', ' ')}"
    if emphasis:
        text += f": {emphasis}"
    if present(f["growth"]) and abs(f["growth"]) >= 0.005:
        text += f" ({f['measure'].replace('_', ' ')} {f['growth']:+.0%})"
    return text


def brief_row(t, f, *, emphasis_of: dict, premium_above: float, value_below: float,
              sources: dict) -> dict:  # fmt: skip
    """The brief of territory ``t`` from its facts ``f`` (a row of ``territory_facts``)."""
    position = positioning(f["income_ratio"], premium_above, value_below)
    lead = f["segment_1"] if present(f["segment_1"]) else None
    emphasis = emphasis_of.get(lead) if lead else None
    sentences = [
        "No accounts are assigned to this territory yet." if f["accounts"] == 0 else None,
        growth_sentence(f),
        attainment_sentence(f),
        segment_sentence(f),
        standout_sentence(f),
        f"Lead with {emphasis}." if emphasis else None,
        economics_sentence(f, position, sources["income"]),
        locale_sentence(f),
    ]
    row = {c: f.get(c) for c in COLUMNS if c in f.index}
    row.update(
        territory_id=t,
        headline=headline(f, position, emphasis),
        message=" ".join(s for s in sentences if s),
        price_positioning=position,
        message_emphasis=emphasis,
        reason=reason(f, sources),
    )
    return row


def reason(f, sources: dict) -> str:
    """Where the brief's facts came from (the core requires a reason per territory)."""
    parts = [f"{f['accounts']:,} accounts"]
    parts.append(f"growth from {sources['prior']}" if sources["prior"] else "no prior measure")
    if sources["segment_column"]:
        parts.append(f"segments from '{sources['segment_column']}'")
    parts.append(f"{sources['income']} by US state" if present(f["income_index"])
                 else f"no {sources['income']} (no accounts in US states)")  # fmt: skip
    if present(f["state"]):
        parts.append(f"locale of {f['state']} ({f['state_share']:.0%} of accounts)")
    else:
        parts.append(f["locale_note"])
    return "; ".join(parts)


def brief_table(facts: pd.DataFrame, **options) -> pd.DataFrame:
    """One brief row per territory of ``facts`` (see :func:`brief_row` for ``options``)."""
    rows = [brief_row(t, f, sources=facts.attrs["sources"], **options) for t, f in facts.iterrows()]
    return pd.DataFrame(rows, columns=COLUMNS)
