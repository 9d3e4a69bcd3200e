"""One number format and one status palette across the CLI tables, map tooltips and dashboard."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from territory import cli, formatting, maps, report

# (column, value, text a reader sees): written out by hand, the rule in formatting's docstring.
CASES = [
    ("attainment", 1.2764, "127.6%"),
    ("pacing", 1.631, "163.1%"),
    ("coverage", 0.5, "50.0%"),
    ("share", 0.065, "6.5%"),
    ("deviation", -0.031, "-3.1%"),
    ("trend", 0.521, "+52.1%"),
    ("compactness", 0.2191, "0.219"),
    ("density", 0.0874, "0.087"),
    ("revenue", 47390.4, "47,390"),
    ("target", 1234567.0, "1,234,567"),
    ("accounts", 1234, "1,234"),
    ("territory_id", 1001, "1001"),
    ("row", 12345, "12345"),
    ("revenue", float("nan"), "–"),
    ("attainment", float("inf"), "–"),
]


def _cli(field, value) -> str:
    return cli._cell(field, value)


def _tooltip(field, value) -> str:
    table = pd.DataFrame({field: [value, 1]})  # a second row: an all-missing column is left out
    return maps.render.display_properties(table, [field])[field].iloc[0]


def _dashboard(field, value) -> str:
    html = report._table(pd.DataFrame({field: [value]}), [field], 0.5)
    return re.search(r"<td>(.*?)</td>", html).group(1)


# The dashboard draws attainment as a bar; the bar's text is checked below.
SURFACE_CASES = [
    (surface, *case)
    for case in CASES
    for surface in (_cli, _tooltip, _dashboard)
    if not (surface is _dashboard and case[0] == "attainment")
]


@pytest.mark.parametrize(("surface", "field", "value", "shown"), SURFACE_CASES)
def test_cli_map_and_dashboard_show_a_figure_alike(surface, field, value, shown):
    assert surface(field, value) == shown


def test_dashboard_attainment_bar_text_uses_the_same_percent():
    assert report._bar(1.2764, 0.5).endswith(" 127.6%")
    assert report._bar(float("nan"), 0.5) == "–"


def test_map_legend_steps_use_the_column_format():
    _, steps = maps.colours.sequential(pd.Series([0.1, 0.3, np.nan]), "compactness")
    assert [label for _, label in steps] == [
        "0.300", "0.260", "0.220", "0.180", "0.140", "0.100", "no data",
    ]  # fmt: skip


def test_figure_without_a_column():
    assert [formatting.figure(v) for v in (True, 3.0, 2.5, 12.25, 1234567, None)] == [
        "yes", "3", "2.500", "12.2", "1,234,567", "–",
    ]  # fmt: skip


def test_status_has_one_palette_on_map_and_dashboard():
    statuses = pd.Series(["ahead", "on track", "behind", "no target"])
    colours, legend = maps.colours.categorical(statuses)
    html = report._table(pd.DataFrame({"status": statuses}), ["status"], 0.5)
    chips = re.findall(r"background:(#[0-9a-f]+)'>([a-z ]+)</span>", html)
    assert dict((s, c) for c, s in chips) == dict(zip(statuses, colours, strict=True))
    assert dict((s, c) for c, s in legend) == formatting.STATUS_COLOURS
    # "no target" is told apart from a map's "no data"
    assert formatting.STATUS_COLOURS["no target"] != formatting.NO_DATA
