"""Latent classes on data with a known (planted) structure, and the words that describe them.

Every check recomputes what a description claims from the raw columns and the per-account
labels (an oracle independent of the model), and purity is the adjusted Rand index computed
here from the contingency table.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import territory_latent_class
from click.testing import CliRunner
from territory_latent_class import LatentClassWarning, fit, latent_class_axis

import territory
from territory.cli import cli

DATA = Path(str(resources.files("territory.data")))
SEGMENTS = ["Consumer", "Corporate", "Home Office", "Public", "Partner"]
REGIONS = ["North", "South", "East", "West", "Central"]
NUMERIC, CATEGORICAL = ["revenue", "orders"], ["segment", "region"]


def planted(k: int, n: int = 2000, seed: int = 0) -> pd.DataFrame:
    """``k`` well separated classes: revenue levels 5x apart (a tenth of accounts bought
    nothing this year), small whole-number order counts (many ties), a dominant segment per
    class (75%), and a region that carries no class information."""
    rng = np.random.default_rng(seed)
    truth = np.repeat(np.arange(k), n // k)
    revenue = rng.lognormal(np.log(300) + 1.6 * truth, 0.35)
    revenue[rng.random(len(truth)) < 0.10] = 0.0
    orders = rng.poisson(np.array([1, 20, 5, 40, 10])[truth])
    other = rng.choice(SEGMENTS, len(truth))
    segment = np.where(rng.random(len(truth)) < 0.75, np.array(SEGMENTS)[truth], other)
    return pd.DataFrame({
        "account_id": [f"A{i:05d}" for i in range(len(truth))],
        "revenue": revenue.round(2),
        "orders": orders,
        "segment": segment,
        "region": rng.choice(REGIONS, len(truth)),
        "truth": truth,
    })  # fmt: skip


def adjusted_rand(a, b) -> float:
    """Adjusted Rand index (Hubert & Arabie) from the contingency table."""
    table = pd.crosstab(np.asarray(a), np.asarray(b)).to_numpy().astype(float)

    def pairs(x):
        return (x * (x - 1) / 2).sum()

    index, rows, cols = pairs(table), pairs(table.sum(1)), pairs(table.sum(0))
    expected = rows * cols / pairs(np.array([table.sum()]))
    return float((index - expected) / ((rows + cols) / 2 - expected))


def test_adjusted_rand_index_helper():
    assert adjusted_rand([0, 0, 1, 1], [1, 1, 0, 0]) == pytest.approx(1.0)
    assert adjusted_rand([0, 0, 1, 1], [0, 0, 1, 2]) == pytest.approx(0.5714285714)
    # all cells 1: index 0, row pairs 6, column pairs 3, expected 6 * 3 / 15 = 1.2
    assert adjusted_rand([0, 0, 0, 1, 1, 1], [0, 1, 2, 0, 1, 2]) == pytest.approx(-1.2 / 3.3)


def phrases(label: str) -> list[str]:
    """The claims of a label: ``"Class 2: low revenue, mostly X (80% vs 20%)"`` -> phrases."""
    text = re.sub(r" \([^)]*\)", "", label.split(": ", 1)[1]).split("; ")[0]
    return [] if text == "close to the average account" else text.split(", ")


def check_words(frame: pd.DataFrame, labels, numeric, categorical) -> int:
    """Check every claim of every label against the data; return how many were checked."""
    labels = pd.Series(labels, index=frame.index)
    checked = 0
    for label, rows in frame.groupby(labels):
        for phrase in phrases(label):
            checked += 1
            if m := re.fullmatch(r"(low|high) (.+)", phrase):
                side, col = m.groups()
                low, high = frame[col].quantile([1 / 3, 2 / 3])
                median = rows[col].median()
                assert (median < low) if side == "low" else (median > high), (label, phrase)
            elif m := re.fullmatch(r"no (.+)", phrase):
                assert (rows[m[1]] == 0).mean() > 0.5, (label, phrase)
            elif m := re.fullmatch(r"more with no (.+) than average", phrase):
                col = m[1]
                assert (rows[col] == 0).mean() >= (frame[col] == 0).mean() + 0.1, (label, phrase)
            elif m := re.fullmatch(r"(mostly|more) (.+?)( than average)?", phrase):
                word, value = m[1], m[2]
                col = next(c for c in categorical if (frame[c] == value).any())
                inside, overall = (rows[col] == value).mean(), (frame[col] == value).mean()
                if word == "mostly":
                    assert inside > 0.5, f"{label}: {value} is {inside:.0%} of the class"
                assert inside >= overall + 0.1, (label, phrase, inside, overall)
            else:
                pytest.fail(f"unexpected words {phrase!r} in {label!r}")
    return checked


@pytest.mark.parametrize("k", [2, 3, 5])
def test_planted_classes_are_recovered_and_described(k):
    data = planted(k)
    model = fit(data, numeric=NUMERIC, categorical=CATEGORICAL, max_classes=k + 2)
    assert model.n_classes == k, model.bic_by_k
    purity = adjusted_rand(model.predict(), data["truth"])
    print(f"planted {k}: chose {model.n_classes}, ARI {purity:.3f}, {model.seconds:.1f} s")
    assert purity >= 0.9
    labels = model.labels()
    assert len(set(labels)) == k  # every class reads differently
    assert check_words(data, labels, NUMERIC, CATEGORICAL) >= k
    for c in range(k):  # each planted class is described by its dominant segment
        found = pd.Series(labels[data["truth"] == c]).mode()[0]
        assert f"mostly {SEGMENTS[c]}" in found, found
    assert model.notes == []  # BIC turned up again before the limit


def test_a_spike_of_one_value_does_not_become_a_class():
    """8% of accounts carry a filled-in default (orders = 3), and many have orders = 0."""
    data = planted(3)
    data.loc[np.random.default_rng(5).random(len(data)) < 0.08, "orders"] = 3
    model = fit(data, numeric=NUMERIC, categorical=CATEGORICAL, max_classes=6)
    assert model.n_classes == 3, model.bic_by_k
    assert adjusted_rand(model.predict(), data["truth"]) >= 0.85
    assign = pd.Series(model.predict(), index=data.index)
    for _, rows in data.groupby(assign):
        assert len(rows) >= 0.02 * len(data)
        assert rows["orders"].nunique() > 1 and rows["revenue"].nunique() > 1


def test_the_class_limit_is_said_and_warned():
    data = planted(5)
    model = fit(data, numeric=NUMERIC, categorical=CATEGORICAL, max_classes=3)
    assert model.n_classes == 3
    (note,) = [n for n in model.notes if "class limit" in n]
    assert "max_classes = 3" in note and "Raise max_classes" in note
    ctx = territory.AxisContext(data, pd.DataFrame(index=data.index), pd.DataFrame())
    with pytest.warns(LatentClassWarning, match=r"class limit \(max_classes = 3\)"):
        latent_class_axis(ctx, numeric=NUMERIC, categorical=CATEGORICAL, max_classes=3, seed=0,
                          log=True, restarts=2, min_class_share=0.02)  # fmt: skip


def test_sizes_with_a_too_small_class_are_rejected_and_said():
    data = planted(2, n=1000)
    model = fit(data, numeric=NUMERIC, categorical=CATEGORICAL, max_classes=4,
                min_class_share=0.3)  # fmt: skip
    assert model.n_classes == 2 and set(model.rejected_by_k) == {3, 4}
    assert all("fewer than 300" in why for why in model.rejected_by_k.values())
    assert any("every size above 2 classes was rejected" in n for n in model.notes)


def test_words_on_real_accounts_match_the_data():
    accounts = pd.read_csv(DATA / "demo_accounts.csv")
    numeric = ["revenue", "lifetime_revenue", "order_lines"]
    model = fit(accounts, numeric=numeric, categorical=["segment"], max_classes=6)
    labels = model.labels()
    assert check_words(accounts, labels, numeric, ["segment"]) >= model.n_classes
    table = model.describe()
    assert table["label"].is_unique and table["description"].is_unique
    assert table["accounts"].sum() == len(accounts)


def test_text_in_a_numeric_column_is_a_clear_error():
    data = planted(2)
    data["revenue"] = data["revenue"].astype(object)
    data.loc[7, "revenue"] = "n/a"
    with pytest.raises(territory.ValidationError, match=r"'revenue'.*'n/a' in row 8.*A00007"):
        fit(data, numeric=NUMERIC, categorical=CATEGORICAL, max_classes=2)


def test_command_prints_each_description_once(tmp_path):
    path = tmp_path / "accounts.csv"
    planted(3, n=900).drop(columns="truth").to_csv(path, index=False)
    model = fit(pd.read_csv(path), numeric=NUMERIC, categorical=CATEGORICAL, max_classes=4)
    args = ["latent-classes", str(path), "--max-classes", "4"]
    args += [a for c in NUMERIC for a in ("--numeric", c)]
    args += [a for c in CATEGORICAL for a in ("--categorical", c)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    for description in model.describe()["description"]:
        assert result.output.count(description) == 1, result.output
    zeros = (pd.read_csv(path)["revenue"] == 0).mean()
    assert f"revenue: modelled log(1 + x), zeros ({zeros:.0%}) apart" in result.output


def _env() -> dict:
    src = [Path(territory.__file__).parents[1], Path(territory_latent_class.__file__).parents[1]]
    paths = [*map(str, src), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


@pytest.mark.slow
def test_territory_run_prints_the_limit_note_once(tmp_path):
    plan = tmp_path / "plan.toml"
    plan.write_text(
        f"""name = "latent classes"
[accounts]
path = {json.dumps(str(DATA / "demo_accounts.csv"))}
postal_code = "postal_code"
measures = ["revenue", "pipeline"]
[blocks]
path = {json.dumps(str(DATA / "us_counties.parquet"))}
id = "GEOID"
[alignment]
path = {json.dumps(str(DATA / "demo_alignment.csv"))}
[[segments]]
axis = "latent_class"
name = "class"
numeric = ["revenue", "order_lines"]
categorical = ["segment"]
max_classes = 2
[outputs]
dir = {json.dumps(str(tmp_path / "out"))}
""",
        encoding="utf-8",
    )
    run = subprocess.run(
        [sys.executable, "-m", "territory", "run", str(plan)],
        capture_output=True, text=True, env=_env(), timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stderr.count("BIC is lowest at the class limit (max_classes = 2)") == 1, run.stderr
    assert "Traceback" not in run.stderr
    kpis = pd.read_csv(tmp_path / "out" / "segment-kpis-class.csv")
    assert kpis["class"].nunique() == 2
