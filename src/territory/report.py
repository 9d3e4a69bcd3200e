"""Tabular reports: the tracking dashboard as one self-contained HTML file, CSV and XLSX.

The HTML has no scripts and no external resources (inline CSS, bars drawn with CSS), so it
opens anywhere, offline. Every value is HTML-escaped.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd

from territory.formatting import (
    MISSING,
    cell,
    heading,
    is_missing,
    money,
    percent,
    status_colour,
)
from territory.outputs import OutputSet

SHOWN = ["territory_id", "name", "target", "actual", "attainment", "expected_to_date", "pacing",
         "run_rate_forecast", "weighted_pipeline", "coverage", "trend", "status"]  # fmt: skip
# Territory tooltip of the tracking maps: tracking's own figures, in the dashboard's words.
TRACKING_TOOLTIP = {
    "name": "Territory",
    "territory_id": "Id",
    "parent": "Region",
    "target": "Target",
    "actual": "Actual to date",
    "expected_to_date": "Expected to date",
    "pacing": "Attainment vs pace",
    "attainment": "Attainment of target",
    "run_rate_forecast": "Run-rate forecast",
    "weighted_pipeline": "Weighted pipeline",
    "status": "Status",
}


def tracking_outputs(folder: str | Path, prefix: str = "", inputs=()) -> OutputSet:
    """The output set ``track`` publishes (manifest ``<prefix>tracking-manifest.json``)."""
    return OutputSet(folder, f"{prefix}tracking-manifest.json", command="track", inputs=inputs)


def write_tracking(
    tracking, folder: str | Path, title: str, prefix: str = "", result=None, inputs=()
) -> list[Path]:
    """Write ``tracking-*.csv``, ``tracking.xlsx`` and ``dashboard.html`` into ``folder``.

    With the plan's ``result``, also ``tracking-map.html`` (attainment against pace) and
    ``tracking-status-map.html`` (ahead / on track / behind). ``prefix`` is put before every
    file name (the demo writes ``demo-dashboard.html``). The files are published as one set
    (see :mod:`territory.outputs`); ``inputs`` are the files they must never overwrite.
    """
    tables = {
        "territories": tracking.territories,
        "segments": tracking.segments,
        "reconciliation": tracking.reconciliation,
        "revisions": tracking.revisions,
        "issues": tracking.issues,
    }
    tables = {k: v for k, v in tables.items() if v is not None and len(v.columns)}
    pages = {f"{prefix}dashboard.html": dashboard_html(tracking, title)}
    if result is not None:
        for name, page in tracking_maps(tracking, result).items():
            pages[f"{prefix}{name}"] = page.get_root().render()
    with tracking_outputs(folder, prefix, inputs) as files:
        for k, t in tables.items():
            files.add_table(f"{prefix}tracking-{k}.csv", t)
        with pd.ExcelWriter(files.path(f"{prefix}tracking.xlsx"), engine="openpyxl") as xlsx:
            for name, table in tables.items():
                table.to_excel(xlsx, sheet_name=name[:31], index=False)
        for name, page in pages.items():
            files.add_text(name, page)
    return files.written


def tracking_maps(tracking, result) -> dict:
    """Maps of the plan coloured by attainment against pace and by on-track status.

    Colours and tooltips come from ``tracking`` alone, formatted as on the dashboard: target for
    the period, actual to date, expected to date, attainment against that pace, attainment of
    the target, run-rate forecast, weighted pipeline and status (never the plan's full-year
    measures, which are not comparable with sales to date).
    """
    from territory.maps import build_map

    by_id = tracking.territories.set_index(tracking.territories["territory_id"].astype(str))
    ids = result.kpis["territory_id"]
    rows = by_id.reindex(ids.astype(str))
    figures = pd.DataFrame({"territory_id": ids.to_numpy()})
    for c in ("name", "parent"):  # who, from the plan; every figure from tracking
        if c in result.kpis.columns:
            figures[c] = result.kpis[c].to_numpy()
    for c in TRACKING_TOOLTIP:
        if c in rows.columns and c not in figures.columns and c != "status":
            figures[c] = [cell(c, v) for v in rows[c]]  # the dashboard's text
    figures["status"] = rows["status"].fillna("no target").to_numpy()
    figures["attainment_vs_pace"] = rows["pacing"].to_numpy(dtype=float)  # colour: 1 = on pace
    day = f"{tracking.as_of:%Y-%m-%d}"
    when = f"{tracking.period.label} at {day}"
    labels = {k: v for k, v in TRACKING_TOOLTIP.items() if k in figures.columns}
    labels["target"] = f"Target {tracking.period.label}"
    labels["expected_to_date"] = f"Expected by {day} ({tracking.pace:.0%} of target)"
    title = result.plan.name
    return {
        "tracking-map.html": build_map(
            result,
            kpi="attainment_vs_pace",
            figures=figures,
            title=f"{title}: attainment against pace {when}",
            tooltip=labels,
            caption=f"Actual / expected by {day} (100% = on pace)",
            as_of=tracking.as_of,
        ),
        "tracking-status-map.html": build_map(
            result,
            kpi="status",
            figures=figures,
            title=f"{title}: on track? {when}",
            tooltip=labels,
            caption="Status (run-rate forecast against target)",
            as_of=tracking.as_of,
        ),
    }


def dashboard_html(tracking, title: str) -> str:
    """The dashboard page: summary, one table per territory and per segment, issues."""
    terr = tracking.territories
    live = terr[terr["target"] > 0]
    total_target, total_actual = live["target"].sum(), live["actual"].sum()
    elapsed = tracking.pace
    counts = terr["status"].value_counts()
    cards = [
        ("Period", f"{tracking.period.label} ({tracking.period.start:%Y-%m-%d} to "
                   f"{tracking.period.end:%Y-%m-%d})"),
        ("As of", f"{tracking.as_of:%Y-%m-%d}"),
        ("Expected by now", f"{elapsed:.0%} of target ({tracking.pace_basis})"),
        ("Actual / target", f"{money(total_actual)} / {money(total_target)} "
                            f"({percent(total_actual / total_target)})" if total_target else "–"),
        ("Territories", ", ".join(f"{counts.get(s, 0)} {s}" for s in ("ahead", "on track",
                                                                      "behind"))),
    ]  # fmt: skip
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        "<div class='cards'>"
        + "".join(f"<div class='card'><b>{_e(k)}</b><br>{_e(v)}</div>" for k, v in cards)
        + "</div>",
        "<h2>Territories</h2>",
        _table(terr, [c for c in SHOWN if c in terr.columns], elapsed),
    ]
    if tracking.segments is not None:
        seg_col = tracking.segments.columns[1]
        parts.append(f"<h2>Territory x {_e(seg_col)}</h2>")
        cols = ["territory_id", seg_col, *[c for c in SHOWN[2:] if c in tracking.segments]]
        parts.append(_table(tracking.segments, cols, elapsed))
        by_seg = tracking.segments.groupby(seg_col)[["target", "actual"]].sum()
        by_seg["attainment"] = by_seg["actual"] / by_seg["target"].replace(0, np.nan)
        parts.append(f"<h2>By {_e(seg_col)}</h2>")
        parts.append(_table(by_seg.reset_index(), [seg_col, "target", "actual", "attainment"],
                            elapsed))  # fmt: skip
    if tracking.revisions is not None and len(tracking.revisions):
        parts.append("<h2>Target revisions</h2>")
        parts.append(_table(tracking.revisions, list(tracking.revisions.columns), elapsed))
    parts.append(f"<h2>Data issues ({len(tracking.issues)})</h2>")
    if len(tracking.issues):
        parts.append(_table(tracking.issues.head(200), list(tracking.issues.columns), elapsed))
    else:
        parts.append("<p>None: every line was read as it is.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _table(frame: pd.DataFrame, columns: list[str], elapsed: float) -> str:
    head = "".join(f"<th>{_e(heading(c))}</th>" for c in columns)
    rows = []
    for _, row in frame.iterrows():
        cells = []
        for c in columns:
            value = row[c]
            if c == "attainment":
                cells.append(f"<td>{_bar(value, elapsed)}</td>")
            elif c == "status":
                colour = status_colour(value)
                cells.append(f"<td><span class='chip' style='background:{colour}'>"
                             f"{_e(value)}</span></td>")  # fmt: skip
            else:
                cells.append(f"<td>{_e(cell(c, value))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _bar(value, elapsed: float) -> str:
    """Attainment bar with a marker at the expected pace."""
    if is_missing(value):
        return MISSING
    width = min(max(value, 0), 1.5) / 1.5 * 100
    mark = min(elapsed, 1.5) / 1.5 * 100
    return (
        f"<div class='bar'><div class='fill' style='width:{width:.1f}%'></div>"
        f"<div class='mark' style='left:{mark:.1f}%'></div></div> {percent(value)}"
    )


def _e(text) -> str:
    return html.escape(str(text))


CSS = (
    "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}"
    "h1{font-size:20px}h2{font-size:16px;margin-top:28px}"
    ".cards{display:flex;gap:12px;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:6px;"
    "padding:8px 12px;background:#fafafa}"
    "table{border-collapse:collapse;margin-top:6px}td,th{border-bottom:1px solid #e5e5e5;"
    "padding:4px 8px;text-align:right;white-space:nowrap}th{background:#f3f3f3}"
    "td:nth-child(-n+2),th:nth-child(-n+2){text-align:left}"
    ".bar{display:inline-block;position:relative;width:90px;height:10px;background:#eee;"
    "vertical-align:middle}.fill{height:10px;background:#4575b4}.mark{position:absolute;"
    "top:-3px;width:2px;height:16px;background:#000}"
    ".chip{color:#fff;border-radius:8px;padding:1px 8px;font-size:12px}"
)
