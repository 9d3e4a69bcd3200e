"""Tracking reports: the dashboard (one self-contained HTML file), CSV tables and a formatted
XLSX workbook, and the tracking maps.

The dashboard is rendered from a Jinja template shipped with the package
(``templates/dashboard.html``, autoescaped: every value is text) with no scripts and no
external resources: inline CSS, and two small SVG charts whose geometry is computed here
(attainment against pace per territory, and target / forecast / actual per segment label).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from territory.formatting import MISSING, STATUS_COLOURS, cell, is_missing, money, percent
from territory.outputs import OutputSet
from territory.workbook import heading, write_workbook

SHOWN = ["territory_id", "name", "target", "actual", "attainment", "expected_to_date", "pacing",
         "run_rate_forecast", "weighted_pipeline", "coverage", "forecast_p10", "forecast_p50",
         "forecast_p90", "p_reach_target", "trend", "status"]  # fmt: skip
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


def tracking_tables(tracking) -> dict[str, pd.DataFrame]:
    """The tables of a tracking, one per level and record (name -> table), as written."""
    tables = {
        "territories": tracking.territories,
        "segments": tracking.segments,
        "total": tracking.total,
        "reconciliation": tracking.reconciliation,
        "revisions": tracking.revisions,
        "segment-revisions": tracking.segment_revisions,
        "issues": tracking.issues,
    }
    return {k: v for k, v in tables.items() if v is not None and len(v.columns)}


def write_tracking(
    tracking, folder: str | Path, title: str, prefix: str = "", result=None, inputs=()
) -> list[Path]:
    """Write ``tracking-*.csv``, ``tracking.xlsx`` and ``dashboard.html`` into ``folder``.

    With the plan's ``result``, also ``tracking-map.html`` (attainment against pace) and
    ``tracking-status-map.html`` (ahead / on track / behind). ``prefix`` is put before every
    file name (the demo writes ``demo-dashboard.html``). The files are published as one set
    (see :mod:`territory.outputs`); ``inputs`` are the files they must never overwrite.
    """
    tables = tracking_tables(tracking)
    pages = {f"{prefix}dashboard.html": dashboard_html(tracking, title)}
    if result is not None:
        for name, page in tracking_maps(tracking, result).items():
            pages[f"{prefix}{name}"] = page.get_root().render()
    with tracking_outputs(folder, prefix, inputs) as files:
        for k, t in tables.items():
            files.add_table(f"{prefix}tracking-{k}.csv", t)
        notes = [f"{title}.", f"Period {tracking.period.label} ({tracking.period.start:%Y-%m-%d} "
                 f"to {tracking.period.end:%Y-%m-%d}), as of {tracking.as_of:%Y-%m-%d}.",
                 *tracking.notes]  # fmt: skip
        write_workbook(files.path(f"{prefix}tracking.xlsx"), tables, notes)
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
    """The dashboard page: summary cards, charts, one table per level, revisions, issues,
    notes (rendered from the package's template, every value escaped)."""
    template = _template()
    terr = tracking.territories
    total = tracking.total.iloc[0] if len(tracking.total) else None
    counts = terr["status"].value_counts()
    cards = [
        ("Period", f"{tracking.period.label} ({tracking.period.start:%Y-%m-%d} to "
                   f"{tracking.period.end:%Y-%m-%d})"),
        ("As of", f"{tracking.as_of:%Y-%m-%d}"),
        ("Expected by now", f"{tracking.pace:.0%} of target ({tracking.pace_basis})"),
        ("Actual / target", f"{money(total['actual'])} / {money(total['target'])} "
                            f"({percent(total['attainment'])})" if total is not None else MISSING),
        ("Forecast P10 / P50 / P90", " / ".join(money(total[c]) for c in (
            "forecast_p10", "forecast_p50", "forecast_p90")) + f"; P(reach target) "
            f"{percent(total['p_reach_target'])}" if total is not None else MISSING),
        ("Territories", ", ".join(f"{counts.get(s, 0)} {s}" for s in ("ahead", "on track",
                                                                      "behind"))),
    ]  # fmt: skip
    return template.render(
        title=title,
        css=(TEMPLATES / "dashboard.css").read_text(encoding="utf-8"),
        cards=[{"label": k, "value": v} for k, v in cards],
        charts=[c for c in (pace_chart(tracking), segment_chart(tracking)) if c is not None],
        sections=_sections(tracking),
        notes=tracking.notes,
    )


TEMPLATES = resources.files("territory") / "templates"
MACROS = "dashboard-macros.html"


def _template(name: str = "dashboard.html"):
    """A dashboard template (package data; autoescaped, so every value is text)."""
    import jinja2

    def source(file):
        return (TEMPLATES / file).read_text(encoding="utf-8")

    env = jinja2.Environment(loader=jinja2.FunctionLoader(source), autoescape=True,
                             undefined=jinja2.StrictUndefined)  # fmt: skip
    return env.get_template(name)


def _table(frame: pd.DataFrame, columns: list[str], elapsed: float) -> str:
    """One table of the dashboard as HTML (the template's ``table`` macro)."""
    return str(_template(MACROS).module.table(_table_data(frame, columns, elapsed)))


def _bar(value, elapsed: float) -> str:
    """An attainment bar with a marker at the expected pace, and its percentage."""
    if is_missing(value):
        return MISSING
    return str(_template(MACROS).module.bar(_cell_data("attainment", value, elapsed)))


def _sections(tracking) -> list[dict]:
    elapsed = tracking.pace
    terr = tracking.territories
    sections = [{"heading": "Territories", "table": _table_data(
        terr, [c for c in SHOWN if c in terr.columns], elapsed, foot=tracking.total)}]  # fmt: skip
    if tracking.segments is not None:
        seg = tracking.segments.columns[1]
        cols = ["territory_id", seg, *[c for c in SHOWN[2:] if c in tracking.segments]]
        sections.append({"heading": f"Territory x {seg}",
                         "table": _table_data(tracking.segments, cols, elapsed)})  # fmt: skip
        by_seg = segment_totals(tracking)
        sections.append({"heading": f"By {seg}", "table": _table_data(
            by_seg.reset_index(), [seg, "target", "actual", "attainment", "forecast_p50"],
            elapsed)})  # fmt: skip
    recon = tracking.reconciliation
    table = _table_data(recon, list(recon.columns), elapsed)
    sections.append({"heading": "Targets reconciled", "table": table})
    for name, table in (("Target revisions", tracking.revisions),
                        ("Segment target revisions", tracking.segment_revisions)):  # fmt: skip
        if table is not None and len(table):
            sections.append({"heading": name, "table": _table_data(table, list(table.columns),
                                                              elapsed)})  # fmt: skip
    issues = tracking.issues
    sections.append({"heading": f"Data issues ({len(issues)})",
                     "table": _table_data(issues.head(200), list(issues.columns), elapsed)
                     if len(issues) else None,
                     "text": "None: every line was read as it is."})  # fmt: skip
    return sections


def segment_totals(tracking) -> pd.DataFrame:
    """Target, actual, attainment and P50 forecast per segment label (territory cells added)."""
    seg = tracking.segments.columns[1]
    cols = ["target", "actual", "forecast_p50"]
    by_seg = tracking.segments.groupby(seg, sort=True)[cols].sum()
    by_seg["attainment"] = by_seg["actual"] / by_seg["target"].replace(0, np.nan)
    return by_seg


def _cell_data(column: str, value, elapsed: float) -> dict:
    if column == "attainment" and not is_missing(value):
        return {"kind": "bar", "text": percent(value),
                "width": f"{min(max(value, 0), 1.5) / 1.5 * 100:.1f}",
                "mark": f"{min(elapsed, 1.5) / 1.5 * 100:.1f}"}  # fmt: skip
    if column == "status" and isinstance(value, str):
        return {"kind": "status", "text": value, "colour": STATUS_COLOURS.get(value, "#d9d9d9")}
    return {"kind": "text", "text": "" if value is None else cell(column, value)}


def _table_data(frame: pd.DataFrame, columns: list[str], elapsed: float, foot=None) -> dict:
    def row(values) -> list[dict]:
        return [_cell_data(c, values.get(c), elapsed) for c in columns]

    rows = [row(r) for r in frame.to_dict("records")]
    footer = None if foot is None else [row(r) for r in foot.to_dict("records")]
    return {"headings": [heading(c) for c in columns], "rows": rows, "foot": footer}


def pace_chart(tracking) -> dict | None:
    """Bars of attainment against pace (actual / expected to date) per territory, coloured by
    status, with the on-pace line at 100 %."""
    terr = tracking.territories[tracking.territories["target"] > 0]
    if not len(terr):
        return None
    values = terr["pacing"].fillna(0.0).clip(lower=0).to_numpy(float)
    top = max(1.5, float(np.ceil(values.max() * 4) / 4))
    labels = [f"{n} ({t})" if str(n) != str(t) else str(t)
              for n, t in zip(terr["name"], terr["territory_id"], strict=True)]  # fmt: skip
    chart = _frame("pace", f"Attainment against pace at {tracking.as_of:%Y-%m-%d} "
                   "(actual / expected to date; line: on pace)", len(terr), top)  # fmt: skip
    for k, (label, value, status, tid) in enumerate(
        zip(labels, values, terr["status"], terr["territory_id"], strict=True)
    ):
        y = chart["top"] + k * 22 + 3
        w = value / top * chart["span"]
        chart["rows"].append({
            "key": str(tid), "label": label, "y": y, "h": 16, "value": percent(value),
            "value_x": f"{chart['left'] + w + 4:.1f}",
            "bars": [{"kind": "pace", "x": chart["left"], "y": y, "w": f"{w:.1f}", "h": 16,
                      "fill": STATUS_COLOURS.get(status, "#d9d9d9"),
                      "title": f"{label}: {percent(value)} of pace, {status}"}],
        })  # fmt: skip
    chart["mark"] = f"{chart['left'] + chart['span'] / top:.1f}"
    chart["mark_label"] = "on pace"
    chart["legend"] = [{"fill": c, "text": s} for s, c in STATUS_COLOURS.items()]
    return chart


def segment_chart(tracking) -> dict | None:
    """Per segment label: target, P50 forecast and actual to date, on one scale."""
    if tracking.segments is None:
        return None
    by_seg = segment_totals(tracking)
    if not len(by_seg):
        return None
    top = float(by_seg[["target", "actual", "forecast_p50"]].to_numpy().max()) or 1.0
    seg = tracking.segments.columns[1]
    chart = _frame("segments", f"By {seg}: target, P50 forecast and actual to date",
                   len(by_seg), top, row_height=44, money_ticks=True)  # fmt: skip
    kinds = [("target", "#bbbbbb", "target"), ("forecast_p50", "#91bfdb", "P50 forecast"),
             ("actual", "#4575b4", "actual to date")]  # fmt: skip
    for k, (label, row) in enumerate(by_seg.iterrows()):
        y = chart["top"] + k * 44 + 2
        bars = []
        for j, (column, fill, text) in enumerate(kinds):
            w = max(float(row[column]), 0.0) / top * chart["span"]
            bars.append({"kind": column, "x": chart["left"], "y": f"{y + j * 13:.1f}",
                         "w": f"{w:.1f}", "h": 12, "fill": fill,
                         "title": f"{label}: {text} {money(row[column])}"})  # fmt: skip
        chart["rows"].append({"key": str(label), "label": str(label), "y": y, "h": 38,
                              "value": percent(row["attainment"]) + " of target",
                              "value_x": f"{chart['left'] + chart['span'] + 6:.1f}",
                              "bars": bars})  # fmt: skip
    chart["legend"] = [{"fill": fill, "text": text} for _, fill, text in kinds]
    return chart


def _frame(key, caption, n, top, row_height=22, money_ticks=False) -> dict:
    left, span, upper = 190, 360, 22
    bottom = upper + n * row_height + 4
    steps = np.linspace(0, top, 4) if money_ticks else np.arange(0, top + 1e-9, 0.5)
    ticks = [{"x": f"{left + v / top * span:.1f}", "text": money(v) if money_ticks else
              f"{v:.0%}"} for v in steps]  # fmt: skip
    return {"id": key, "caption": caption, "left": left, "span": span, "top": upper,
            "bottom": bottom, "width": left + span + 110, "height": bottom + 20, "rows": [],
            "ticks": ticks, "mark": None, "mark_label": "", "legend": []}  # fmt: skip
