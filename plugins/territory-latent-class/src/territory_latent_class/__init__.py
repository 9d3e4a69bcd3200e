"""territory plugin: latent classes of accounts from numeric and categorical data together.

Registers the segment axis ``latent_class`` and the command ``territory latent-classes``.
"""

from __future__ import annotations

import click
import pandas as pd

import territory
from territory_latent_class.model import LatentClassModel, fit

__all__ = ["LatentClassModel", "fit"]


def latent_class_axis(ctx, numeric, categorical, max_classes, seed, log):
    """Fit the model on the plan's accounts and label each with its class description."""
    model = fit(ctx.accounts, numeric=numeric, categorical=categorical,
                max_classes=max_classes, seed=seed, log=log)  # fmt: skip
    return pd.Series(model.labels(), index=ctx.accounts.index)


@territory.hookimpl
def register_segment_axes(register):
    register(territory.SegmentAxis(
        "latent_class", latent_class_axis,
        {
            "numeric": territory.Param("list[str]", [], "Numeric columns (e.g. revenue)."),
            "categorical": territory.Param("list[str]", [], "Categorical columns."),
            "max_classes": territory.Param("int", 6, "Try 1..max_classes classes; BIC picks."),
            "seed": territory.Param("int", 0, "Random seed (results are reproducible)."),
            "log": territory.Param("bool", True, "Model log(1 + x) of non-negative numbers."),
        },
        "Latent classes mixing numeric and categorical account data; number of classes by BIC; "
        "each class described in words.",
        whole_table=True,
    ))  # fmt: skip


@territory.hookimpl
def register_commands(cli):
    @cli.command("latent-classes")
    @click.argument("accounts", type=click.Path(dir_okay=False))
    @click.option("--numeric", multiple=True, help="Numeric column (repeatable).")
    @click.option("--categorical", multiple=True, help="Categorical column (repeatable).")
    @click.option("--max-classes", type=int, default=6, show_default=True)
    @click.option("--seed", type=int, default=0, show_default=True)
    @click.option("-o", "--output", type=click.Path(dir_okay=False),
                  help="Write account_id and class label as CSV.")  # fmt: skip
    def latent_classes(accounts, numeric, categorical, max_classes, seed, output):
        """Find latent classes of ACCOUNTS and describe each in words (BIC picks how many)."""
        from territory.cli import err_console
        from territory.errors import TerritoryError
        from territory.io import read_table

        try:
            frame = read_table(accounts)
            model = fit(frame, numeric=list(numeric), categorical=list(categorical),
                        max_classes=max_classes, seed=seed)  # fmt: skip
        except TerritoryError as exc:
            err_console.print(f"Error: {exc}", markup=False)
            raise SystemExit(1) from exc
        click.echo("classes  BIC")
        for k, bic in model.bic_by_k.items():
            mark = "  <- chosen" if k == model.n_classes else ""
            click.echo(f"{k:>7}  {bic:,.1f}{mark}")
        for row in model.describe().itertuples(index=False):
            click.echo(f"{row.label} ({row.share:.0%} of accounts): {row.description}")
        if output:
            labels = pd.DataFrame({"label": model.labels()})
            if "account_id" in frame.columns:
                labels.insert(0, "account_id", frame["account_id"].to_numpy())
            labels.to_csv(output, index=False)
            click.echo(f"Wrote {output}")
