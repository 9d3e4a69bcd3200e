"""territory plugin: latent classes of accounts from numeric and categorical data together.

Registers the segment axis ``latent_class`` and the command ``territory latent-classes``.
"""

from __future__ import annotations

import warnings

import click
import pandas as pd

import territory
from territory_latent_class.model import LatentClassModel, fit

__all__ = ["LatentClassModel", "LatentClassWarning", "fit"]


class LatentClassWarning(UserWarning):
    """Something a user of the ``latent_class`` axis should know (class limit reached, sizes
    rejected as degenerate, blank values left out). The same text is in ``model.notes``."""


PARAMS = {
    "numeric": territory.Param("list[str]", [], "Numeric columns (e.g. revenue, order_lines)."),
    "categorical": territory.Param("list[str]", [], "Categorical columns (e.g. segment)."),
    "max_classes": territory.Param(
        "int", 6, "Try 1..max_classes classes; BIC picks; a note says when it picks the limit."
    ),
    "seed": territory.Param("int", 0, "Random seed (the same seed gives the same classes)."),
    "log": territory.Param(
        "bool", True, "Model log(1 + x) of non-negative columns where that fits better."
    ),
    "restarts": territory.Param("int", 5, "EM starts per number of classes."),
    "min_class_share": territory.Param(
        "float", 0.02, "Reject solutions with a class smaller than this share of accounts."
    ),
}


def latent_class_axis(ctx, **params):
    """Fit the model on the plan's accounts and label each with its class description."""
    model = fit(ctx.accounts, **params)
    for note in model.notes:
        warnings.warn(note, LatentClassWarning, stacklevel=1)
    return pd.Series(model.labels(), index=ctx.accounts.index)


@territory.hookimpl
def register_segment_axes(register):
    register(territory.SegmentAxis(
        "latent_class", latent_class_axis, PARAMS,
        "Latent classes mixing numeric and categorical account data; number of classes by BIC "
        "(degenerate classes rejected); each class described in words against all accounts.",
        whole_table=True,
    ))  # fmt: skip


@territory.hookimpl
def register_commands(cli):
    from territory.cli_common import command_errors

    @cli.command("latent-classes")
    @click.argument("accounts", type=click.Path(dir_okay=False))
    @click.option("--numeric", multiple=True, help="Numeric column (repeatable).")
    @click.option("--categorical", multiple=True, help="Categorical column (repeatable).")
    @click.option("--max-classes", type=int, default=6, show_default=True)
    @click.option("--seed", type=int, default=0, show_default=True)
    @click.option("-o", "--output", type=click.Path(dir_okay=False),
                  help="Write account_id and class label as CSV.")  # fmt: skip
    @command_errors  # a TerritoryError: one clear message and exit code 1, like built-ins
    def latent_classes(accounts, numeric, categorical, max_classes, seed, output):
        """Find latent classes of ACCOUNTS and describe each in words (BIC picks how many)."""
        from territory.io import read_table

        frame = read_table(accounts)
        model = fit(frame, numeric=list(numeric), categorical=list(categorical),
                    max_classes=max_classes, seed=seed)  # fmt: skip
        _print_model(model)
        if output:
            labels = pd.DataFrame({"label": model.labels()})
            if "account_id" in frame.columns:
                labels.insert(0, "account_id", frame["account_id"].to_numpy())
            labels.to_csv(output, index=False)
            click.echo(f"Wrote {output}")


def _print_model(model: LatentClassModel) -> None:
    for col, how in model.transforms.items():
        click.echo(f"{col}: modelled {how}")
    click.echo("classes  BIC")
    for k in range(1, model.max_classes + 1):
        if k in model.bic_by_k:
            mark = "  <- chosen" if k == model.n_classes else ""
            click.echo(f"{k:>7}  {model.bic_by_k[k]:,.1f}{mark}")
        elif k in model.rejected_by_k:
            click.echo(f"{k:>7}  rejected: {model.rejected_by_k[k]}")
    for row in model.describe().itertuples(index=False):
        name = row.label.split(":")[0]
        click.echo(f"{name}: {row.description} ({row.accounts:,} accounts, {row.share:.0%})")
    for note in model.notes:
        click.echo(f"Note: {note}", err=True)
