"""The brief as files: ``briefs.csv`` and one self-contained, printable ``briefs.html``.

The page comes from the template ``templates/briefs.html.j2`` shipped with the plugin, rendered
by a Jinja environment with autoescape: territory names, segment labels and messages are
template *variables*, so they are escaped as text and never compiled as template source.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

import jinja2
import pandas as pd

from territory.outputs import OutputSet

from .brief import present

TEXT = ("territory_id", "name", "parent", "headline", "message", "locale_note")


@cache
def template() -> jinja2.Template:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    source = (resources.files(__package__) / "templates" / "briefs.html.j2").read_text("utf-8")
    return env.from_string(source)


def _number(value, spec: str = ",.0f") -> str | None:
    return format(value, spec) if present(value) else None


def section(row: pd.Series) -> dict:
    """Display strings of one brief row (None where the fact is missing)."""
    word = str(row["measure"]).replace("_", " ") if present(row.get("measure")) else "total"
    figures = [
        ("Accounts", _number(row.get("accounts"))),
        (word.capitalize(), _number(row.get("total"))),
        ("Prior period", _number(row.get("prior_total"))),
        ("Growth", _number(row.get("growth"), "+.0%")),
        ("Target", _number(row.get("target"))),
        ("Attainment", _number(row.get("attainment"), ".0%")),
        ("Income index", _number(row.get("income_ratio"), ".2f")),
        ("Positioning", row.get("price_positioning") if present(row.get("price_positioning"))
         else None),
    ]  # fmt: skip
    segments = [
        (row[f"segment_{i}"], _number(row[f"segment_{i}_share"], ".0%"),
         _number(row[f"segment_{i}_plan_share"], ".0%"))
        for i in (1, 2, 3)
        if present(row.get(f"segment_{i}"))
    ]  # fmt: skip
    locale = [
        (label, row.get(key))
        for label, key in (("Language", "language"), ("Currency", "currency"),
                           ("Time zone", "timezone"), ("Main state", "state"))
        if present(row.get(key))
    ]  # fmt: skip
    text = {k: str(row[k]) if present(row.get(k)) else None for k in TEXT}
    return {**text, "figures": [f for f in figures if f[1] is not None], "segments": segments,
            "locale": locale, "word": word}  # fmt: skip


def render_page(briefs: pd.DataFrame, title: str) -> str:
    """The HTML page of ``briefs`` (rows as returned by the ``campaign_brief`` adjustment)."""
    sections = [section(row) for _, row in briefs.iterrows()]
    return template().render(title=title, sections=sections)


FILES = ("briefs.csv", "briefs.html")


def briefs_output_set(folder: Path, inputs=()) -> OutputSet:
    """The output set of ``territory briefs``: both files and ``briefs-manifest.json``, published
    together (``inputs``: files the outputs must not overwrite, e.g. the plan's)."""
    return OutputSet(Path(folder), "briefs-manifest.json", command="briefs", inputs=inputs)


def write_briefs(briefs: pd.DataFrame, folder: Path, title: str, inputs=()) -> list[Path]:
    """Write ``briefs.csv`` and a self-contained ``briefs.html`` as one output set: after an
    error or a kill the folder holds the whole previous pair or the whole new one."""
    page = render_page(briefs, title)
    files = briefs_output_set(folder, inputs)
    with files:
        files.add_table(FILES[0], briefs)
        files.add_text(FILES[1], page)
    return [Path(folder) / name for name in FILES]
