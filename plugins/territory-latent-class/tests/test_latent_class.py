"""The latent-class plugin: recovery of known classes, BIC choice, words, plan and CLI use."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from territory_latent_class import fit

import territory
from territory.cli import cli

DATA = Path(str(resources.files("territory.data")))


def synthetic(n_per=150, seed=1):
    rng = np.random.default_rng(seed)
    parts = []
    for k, (rev, seg) in enumerate([(200, "Consumer"), (5000, "Corporate"), (60000, "Enterprise")]):
        parts.append(pd.DataFrame({
            "account_id": [f"{k}-{i}" for i in range(n_per)],
            "revenue": rng.lognormal(np.log(rev), 0.25, n_per),
            "orders": rng.poisson(10 + 20 * k, n_per),
            "segment": rng.choice([seg, "Other"], n_per, p=[0.85, 0.15]),
            "truth": k,
        }))  # fmt: skip
    return pd.concat(parts, ignore_index=True)


def test_recovers_three_known_classes_and_bic_picks_three():
    data = synthetic()
    model = fit(data, numeric=["revenue", "orders"], categorical=["segment"], max_classes=5)
    assert model.n_classes == 3
    assert min(model.bic_by_k, key=model.bic_by_k.get) == 3
    # each found class is (almost) one true class
    table = pd.crosstab(model.predict(), data["truth"])
    purity = table.max(axis=1).sum() / len(data)
    assert purity > 0.97


def test_descriptions_are_words_about_the_data():
    data = synthetic()
    model = fit(data, numeric=["revenue", "orders"], categorical=["segment"], max_classes=4)
    text = " | ".join(model.describe()["description"])
    assert "high revenue" in text and "low revenue" in text
    assert "mostly Enterprise" in text and "mostly Consumer" in text
    assert model.describe()["share"].sum() == pytest.approx(1.0)


def test_reproducible_with_a_seed():
    data = synthetic()
    a = fit(data, numeric=["revenue"], categorical=["segment"], seed=7).labels()
    b = fit(data, numeric=["revenue"], categorical=["segment"], seed=7).labels()
    assert (a == b).all()


def test_axis_in_a_plan_on_demo_data():
    plan = territory.Plan.from_file(DATA / "demo_plan.toml")
    from dataclasses import replace

    plan = replace(plan, axes=(territory.AxisSpec("latent_class", "class", {
        "numeric": ["revenue", "order_lines"], "categorical": ["segment"], "max_classes": 4,
    }),))  # fmt: skip
    result = plan.run()
    labels = result.labels["class"]
    assert len(labels) == 793 and labels.str.startswith("Class ").all()
    assert 2 <= labels.nunique() <= 4
    assert set(result.segments["class"]["class"]) == set(labels)


def test_bad_columns_are_a_clear_error():
    with pytest.raises(territory.ValidationError, match="column\\(s\\) nope not in the accounts"):
        fit(synthetic(), numeric=["nope"], categorical=[])


def test_listed_by_territory_plugins_and_command_runs(tmp_path):
    listing = CliRunner().invoke(cli, ["plugins"])
    assert "latent_class" in listing.output and "0.1.0" in listing.output
    path = tmp_path / "acc.csv"
    synthetic(60).drop(columns="truth").to_csv(path, index=False)
    out = tmp_path / "classes.csv"
    result = CliRunner().invoke(cli, ["latent-classes", str(path), "--numeric", "revenue",
                                      "--categorical", "segment", "-o", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "<- chosen" in result.output and "Class 1:" in result.output
    assert len(pd.read_csv(out)) == 180
