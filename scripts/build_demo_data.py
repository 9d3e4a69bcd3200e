"""Rebuild the data embedded in ``src/territory/data`` from the shared, provenance-documented files.

Run from the repository root with the shared data folder beside it::

    python scripts/build_demo_data.py [--shared ../shared/data]

The package never reads the shared folder at run time; this script is how the embedded copies
were made, so anyone can check or refresh them.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd

from territory.orders import accounts_from_orders

OUT = Path(__file__).resolve().parents[1] / "src" / "territory" / "data"

# Demo sales organisation: 15 territories in Superstore's own four regions. California is split
# by county into a northern and a southern territory; every other territory is a set of states.
SOCAL_COUNTIES = {
    "Los Angeles",
    "Orange",
    "San Diego",
    "Riverside",
    "San Bernardino",
    "Ventura",
    "Santa Barbara",
    "Imperial",
    "Kern",
    "San Luis Obispo",
}
TERRITORIES = [
    # territory_id, name, parent (region), states
    ("W1", "Pacific Northwest", "West", ["WA", "OR", "ID", "MT", "WY", "AK"]),
    ("W2", "Northern California & Hawaii", "West", ["CA-N", "HI"]),
    ("W3", "Southern California", "West", ["CA-S"]),
    ("W4", "Mountain Southwest", "West", ["AZ", "NV", "UT", "CO", "NM"]),
    ("C1", "Texas", "Central", ["TX"]),
    ("C2", "Upper Midwest", "Central", ["IL", "WI", "MN"]),
    ("C3", "Great Plains", "Central", ["IA", "KS", "NE", "ND", "SD", "MO", "OK"]),
    ("C4", "Michigan & Indiana", "Central", ["MI", "IN"]),
    ("E1", "New York Metro", "East", ["NY", "NJ"]),
    ("E2", "New England", "East", ["CT", "MA", "RI", "NH", "VT", "ME"]),
    ("E3", "Pennsylvania & Ohio", "East", ["PA", "OH", "WV"]),
    ("E4", "Capital", "East", ["DE", "MD", "DC"]),
    ("S1", "Florida & Georgia", "South", ["FL", "GA"]),
    ("S2", "Carolinas & Virginia", "South", ["NC", "SC", "VA"]),
    ("S3", "Gulf & Tennessee Valley", "South", ["AL", "MS", "LA", "AR", "TN", "KY"]),
]


def demo_accounts(orders: pd.DataFrame) -> pd.DataFrame:
    """Superstore customers as accounts, with a generated open pipeline.

    Sample Superstore has no opportunities. ``pipeline`` is generated deterministically and is
    labelled as generated: half of the customer's sales in the last six months of the data
    (2017-07-01 to 2017-12-30), as if that business were up for renewal.
    """
    accounts = accounts_from_orders(
        orders,
        customer="Customer ID",
        amount="Sales",
        date="Order Date",
        postal_code="Postal Code",
        attributes=("Customer Name", "Segment"),
        place=("City", "State"),
    )
    recent = orders[orders["Order Date"] >= "2017-07-01"].groupby("Customer ID")["Sales"].sum()
    accounts["pipeline"] = accounts["account_id"].map(recent).fillna(0) * 0.5
    accounts = accounts.rename(
        columns={"Customer Name": "name", "Segment": "segment", "City": "city", "State": "state"}
    )
    first = [
        "account_id",
        "name",
        "segment",
        "postal_code",
        "city",
        "state",
        "revenue",
        "revenue_prior",
        "pipeline",
        "lifetime_revenue",
    ]
    return accounts[first + [c for c in accounts.columns if c not in first]]


def demo_opportunities(orders: pd.DataFrame, as_of: str = "2017-06-30") -> pd.DataFrame:
    """Open opportunities at mid-2017, GENERATED from the orders placed after that date.

    Sample Superstore has no pipeline. Each order placed after ``as_of`` becomes an
    opportunity open at ``as_of`` with the order's value and date as expected close; its stage
    follows how far away the close is (within 2 months: proposal, within 4: qualify, later:
    prospect), so nearer deals weigh more. Deterministic; labelled as generated.
    """
    later = orders[orders["Order Date"] > as_of]
    opps = later.groupby(["Order ID", "Customer ID"], as_index=False).agg(
        amount=("Sales", "sum"), close_date=("Order Date", "max")
    )
    months = (opps["close_date"] - pd.Timestamp(as_of)).dt.days / 30.4
    opps["stage"] = pd.cut(months, [0, 2, 4, 99], labels=["Proposal", "Qualify", "Prospect"])
    opps = opps.rename(columns={"Order ID": "opportunity_id", "Customer ID": "account_id"})
    opps["close_date"] = opps["close_date"].dt.date
    opps["source"] = "generated from Superstore orders after " + as_of
    return opps[["opportunity_id", "account_id", "amount", "stage", "close_date", "source"]]


def state_economics(shared: Path) -> pd.DataFrame:
    """Median household income per state (ACS 2013), interpolated within income brackets."""
    rows = pd.read_parquet(shared / "us_state_household_income_2013.parquet")
    lower = rows["group"].str.extract(r"^(\d+)")[0].astype(float).fillna(0.0)
    upper = rows["group"].str.extract(r"to (\d+)$")[0].astype(float) + 1
    rows = rows.assign(lower=lower, upper=upper).sort_values(["STATEFP", "lower"])
    out = []
    for fips, g in rows.groupby("STATEFP"):
        cum = g["pct"].cumsum().to_numpy() / g["pct"].sum()
        k = int((cum >= 0.5).argmax())
        before = cum[k - 1] if k else 0.0
        lo, hi = g["lower"].iloc[k], g["upper"].iloc[k]
        median = lo + (0.5 - before) / (cum[k] - before) * (hi - lo)
        out.append((fips, g["name"].iloc[0], round(median), int(g["total"].iloc[0])))
    return pd.DataFrame(out, columns=["STATEFP", "state", "median_household_income", "households"])


def state_locale(shared: Path) -> pd.DataFrame:
    """Language, currency and the most populous time zone per US state (GeoNames cities)."""
    cities = pd.read_parquet(shared / "world_cities_geonames15000.parquet")
    us = cities[cities["countrycode"].eq("US")]
    tz = (
        us.groupby(["admin1code", "timezone"])["population"].sum().reset_index()
        .sort_values("population", ascending=False).drop_duplicates("admin1code")
    )  # fmt: skip
    out = tz.rename(columns={"admin1code": "STUSPS"})[["STUSPS", "timezone"]]
    out.insert(1, "language", "en-US")
    out.insert(2, "currency", "USD")
    return out.sort_values("STUSPS")


def build(shared: Path) -> None:
    OUT.mkdir(parents=True, exist_ok=True)

    counties = gpd.read_parquet(shared / "demo_us_counties.parquet")
    counties = counties[["GEOID", "NAME", "STUSPS", "STATE_NAME", "ALAND", "geometry"]]
    counties.to_parquet(OUT / "us_counties.parquet", index=False, compression="zstd")

    states = gpd.read_parquet(shared / "demo_us_states.parquet")
    states[["GEOID", "STUSPS", "NAME", "geometry"]].to_parquet(
        OUT / "us_states.parquet", index=False, compression="zstd"
    )

    zcta = pd.read_parquet(shared / "us_zcta_points.parquet")
    zcta = zcta[["zcta", "lat", "lon", "state", "county_geoid"]].rename(
        columns={"zcta": "postal_code"}
    )
    zcta.to_parquet(OUT / "us_zip_points.parquet", index=False, compression="zstd")

    orders = pd.read_parquet(shared / "superstore_orders.parquet")
    orders.to_parquet(OUT / "superstore_orders.parquet", index=False, compression="zstd")
    shutil.copy(shared / "superstore_orders.LICENSE", OUT / "superstore_orders.LICENSE")
    (OUT / "superstore_orders.LICENSE").chmod(0o644)
    demo_accounts(orders).to_csv(OUT / "demo_accounts.csv", index=False)
    demo_opportunities(orders).to_csv(OUT / "demo_opportunities.csv", index=False)

    economics = state_economics(shared)
    economics = economics.merge(states[["GEOID", "STUSPS"]], left_on="STATEFP", right_on="GEOID")
    economics = economics.drop(columns="GEOID")[
        ["STATEFP", "STUSPS", "state", "median_household_income", "households"]
    ]
    economics.to_csv(OUT / "us_state_economics.csv", index=False)
    state_locale(shared).to_csv(OUT / "us_state_locale.csv", index=False)

    key = counties["STUSPS"].where(
        counties["STUSPS"] != "CA",
        "CA-" + counties["NAME"].isin(SOCAL_COUNTIES).map({True: "S", False: "N"}),
    )
    lookup = {s: (tid, name, parent) for tid, name, parent, ss in TERRITORIES for s in ss}
    rows = [lookup.get(k, ("", "", "")) for k in key]
    alignment = pd.DataFrame(
        {
            "block_id": counties["GEOID"].to_numpy(),
            "territory_id": [r[0] for r in rows],
            "name": [r[1] for r in rows],
            "parent": [r[2] for r in rows],
        }
    ).sort_values("block_id")
    alignment.to_csv(OUT / "demo_alignment.csv", index=False)
    uncovered = sorted(set(counties.loc[alignment.territory_id.eq("").to_numpy(), "STUSPS"]))
    print(f"alignment: {len(alignment)} blocks; left unaligned on purpose: {uncovered}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared/data"))
    build(parser.parse_args().shared)
