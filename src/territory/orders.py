"""Build a book of business (one row per account) from dated order lines."""

from __future__ import annotations

import pandas as pd

from territory.errors import InputError


def accounts_from_orders(
    orders: pd.DataFrame,
    *,
    customer: str = "account_id",
    amount: str = "amount",
    date: str = "date",
    postal_code: str | None = "postal_code",
    attributes: tuple[str, ...] = (),
    place: tuple[str, ...] = (),
    as_of: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Aggregate order lines into accounts.

    The column arguments name the order-line columns; their defaults are the conventions of
    order lines everywhere in territory (``account_id``, ``amount``, ``date``,
    ``postal_code``, as ``[tracking]`` reads them). Pass ``postal_code=None`` for lines without
    one. Data with other names passes them, e.g. Sample Superstore: ``customer="Customer ID",
    amount="Sales", date="Order Date", postal_code="Postal Code"``.

    Rules (documented so a planner can reproduce them):

    - ``revenue`` is the amount in the 12 months up to and including ``as_of`` (default: the
      last order date), ``revenue_prior`` the 12 months before that, ``lifetime_revenue`` all of
      it; ``order_lines`` counts the lines up to ``as_of``, ``first_order`` and
      ``last_order`` bound the history.
    - The home ``postal_code`` of a customer who buys in several places is the one with the
      most sales; ties go to the postal code of the most recent order.
    - ``attributes`` (e.g. name, segment) take the value of the customer's most recent order;
      ``place`` columns (e.g. city, state) that of the most recent order at the home postal code,
      so they always describe the location the account is placed at.
    """
    needed = [customer, amount, date, *([postal_code] if postal_code else []), *attributes, *place]
    missing = [c for c in needed if c not in orders.columns]
    if missing:
        raise InputError(
            f"Order lines lack column(s) {', '.join(missing)}; available: "
            f"{', '.join(map(str, orders.columns))}."
        )
    lines = orders[needed].copy()
    lines[date] = pd.to_datetime(lines[date])
    end = pd.Timestamp(as_of) if as_of is not None else lines[date].max()
    start = end - pd.DateOffset(years=1)
    prior_start = start - pd.DateOffset(years=1)
    in_year = (lines[date] > start) & (lines[date] <= end)
    in_prior = (lines[date] > prior_start) & (lines[date] <= start)
    lines["_rev"] = lines[amount].where(in_year, 0.0)
    lines["_prior"] = lines[amount].where(in_prior, 0.0)
    lines = lines[lines[date] <= end].sort_values([customer, date])
    g = lines.groupby(customer, sort=True)
    out = pd.DataFrame(
        {
            "revenue": g["_rev"].sum(),
            "revenue_prior": g["_prior"].sum(),
            "lifetime_revenue": g[amount].sum(),
            "order_lines": g.size(),
            "first_order": g[date].min().dt.date,
            "last_order": g[date].max().dt.date,
        }
    )
    latest = g.tail(1).set_index(customer)
    for col in attributes:
        out[col] = latest[col]
    if postal_code:
        by_code = lines.groupby([customer, postal_code], sort=False).agg(
            sales=(amount, "sum"), last=(date, "max")
        )
        best = by_code.sort_values(["sales", "last"], ascending=False).reset_index()
        home = best.drop_duplicates(customer).set_index(customer)[postal_code]
        out["postal_code"] = home
        at_home = lines[lines[postal_code].eq(lines[customer].map(home))]
        latest_home = at_home.groupby(customer).tail(1).set_index(customer)
        for col in place:
            out[col] = latest_home[col]
    out.index.name = "account_id"
    return out.reset_index()
