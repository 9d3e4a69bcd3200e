"""Every supported format and location style gives the same assignments."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest

import territory
from territory.postal import normalise_us_zip
from territory.validate import prepare_accounts


def accounts_gdf(accounts_frame):
    located = accounts_frame.dropna(subset=["lat"])
    return gpd.GeoDataFrame(
        located.drop(columns=["lat", "lon"]),
        geometry=gpd.points_from_xy(located.lon, located.lat),
        crs=4326,
    )


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".geojson", ".gpkg", ".geoparquet"])
def test_account_formats_agree(tmp_path, accounts_frame, two_squares, suffix):
    expected = territory.assign(accounts_frame.dropna(subset=["lat"]), two_squares)
    path = tmp_path / f"accounts{suffix}"
    if suffix == ".csv":
        accounts_frame.dropna(subset=["lat"]).to_csv(path, index=False)
    elif suffix == ".parquet":
        accounts_frame.dropna(subset=["lat"]).to_parquet(path)
    elif suffix == ".geoparquet":
        accounts_gdf(accounts_frame).to_parquet(path)
    else:
        accounts_gdf(accounts_frame).to_file(path)
    got = territory.assign(str(path), two_squares)
    cols = ["account_id", "territory_id", "method", "revenue"]
    pd.testing.assert_frame_equal(got[cols], expected[cols])


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".parquet", ".shp"])
def test_territory_formats_agree(tmp_path, accounts_frame, two_squares, suffix):
    path = tmp_path / f"territories{suffix}"
    if suffix == ".parquet":
        two_squares.to_parquet(path)
    else:
        two_squares.to_file(path)
    got = territory.assign(accounts_frame, str(path))
    assert got["territory_id"].tolist()[:4] == ["A", "B", "A", "B"]


def test_a_geopackage_of_several_layers_is_read_by_the_layer_named_after_the_hash(
    tmp_path, accounts_frame, two_squares
):
    """A GeoPackage holding an older layer first: without a layer name it is refused with the
    list of its layers (never read from whichever comes first); ``#name`` picks one, for the
    territories and for the accounts, from the CLI as from Python."""
    from click.testing import CliRunner

    from territory.cli import cli
    from territory.errors import InputError

    path = tmp_path / "areas.gpkg"
    old = two_squares.assign(territory_id=["Y", "Z"]).set_geometry(
        two_squares.geometry.translate(5, 5)
    )
    old.to_file(path, layer="old")
    two_squares.to_file(path, layer="current")
    with pytest.raises(InputError, match=r"holds 2 layers \(old, current\).*areas.gpkg#old"):
        territory.assign(accounts_frame, str(path))
    with pytest.raises(InputError, match="Layer 'gone' is not in .*Layers: old, current"):
        territory.assign(accounts_frame, f"{path}#gone")
    got = territory.assign(accounts_frame, f"{path}#current")
    expected = territory.assign(accounts_frame, two_squares)
    pd.testing.assert_frame_equal(got, expected)

    accounts = tmp_path / "book.gpkg"
    accounts_gdf(accounts_frame).iloc[:2].to_file(accounts, layer="draft")
    accounts_gdf(accounts_frame).to_file(accounts, layer="accounts")
    out = tmp_path / "assignments.csv"
    args = ["assign", f"{accounts}#accounts", f"{path}#current", "-o", str(out)]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    written = pd.read_csv(out, dtype={"account_id": str})
    assert len(written) == len(accounts_frame.dropna(subset=["lat"]))
    res = CliRunner().invoke(cli, ["assign", str(accounts), f"{path}#current", "-o", str(out)])
    assert res.exit_code == 1 and "holds 2 layers (draft, accounts)" in res.output
    assert "Traceback" not in res.output


def test_a_geopackage_with_qgis_styles_or_a_layer_name_with_a_hash_is_read(
    tmp_path, accounts_frame, two_squares
):
    import pyogrio

    expected = territory.assign(accounts_frame, two_squares)
    styled = tmp_path / "styled.gpkg"
    two_squares.to_file(styled, layer="squares")
    styles = pd.DataFrame({"f_table_name": ["squares"], "styleQML": ["<qml/>"]})
    pyogrio.write_dataframe(styles, styled, layer="layer_styles")  # as QGIS saves a style
    pd.testing.assert_frame_equal(territory.assign(accounts_frame, str(styled)), expected)
    hashed = tmp_path / "areas.gpkg"
    two_squares.to_file(hashed, layer="fy27#draft")
    two_squares.assign(territory_id=["Y", "Z"]).to_file(hashed, layer="fy26")
    got = territory.assign(accounts_frame, f"{hashed}#fy27#draft")
    pd.testing.assert_frame_equal(got, expected)


def test_a_workbook_sheet_is_named_after_the_hash_and_a_hash_in_a_real_name_is_kept(
    tmp_path, accounts_frame, two_squares
):
    from territory.io import read_table

    book = tmp_path / "book.xlsx"
    with pd.ExcelWriter(book) as xl:
        pd.DataFrame({"note": ["read me"]}).to_excel(xl, sheet_name="README", index=False)
        accounts_frame.to_excel(xl, sheet_name="Accounts", index=False)
    assert list(read_table(book).columns) == ["note"]  # the first sheet, as documented
    table = read_table(f"{book}#Accounts")
    assert table["account_id"].tolist() == accounts_frame["account_id"].astype(str).tolist()
    with pytest.raises(territory.errors.InputError, match="Sheet 'Nope' is not in .*README"):
        read_table(f"{book}#Nope")
    odd = tmp_path / "q1#final.csv"  # a real file name with a hash is read as it is
    accounts_frame.to_csv(odd, index=False)
    assert len(read_table(odd)) == len(accounts_frame)


@pytest.mark.parametrize(
    ("columns", "options"),
    [
        ({"account_id": "Customer ID", "lat": "Latitude", "lon": "Longitude"}, {}),
        ({"account_id": "id", "lat": "LAT", "lon": "lng"}, {}),
        (
            {"account_id": "acct", "lat": "y", "lon": "x"},
            {"account_id": "acct", "lat": "y", "lon": "x"},
        ),
    ],
)
def test_column_detection_and_explicit_names(accounts_frame, two_squares, columns, options):
    renamed = accounts_frame.rename(columns=columns)
    # the assignments table names the detected id account_id (assign() keeps the user's names)
    got = territory.make_plan(renamed, two_squares, **options).assign_only()[2]
    assert got["account_id"].tolist() == accounts_frame["account_id"].tolist()
    assert got["territory_id"].tolist()[:2] == ["A", "B"]
    kept = territory.assign(renamed, two_squares, **options)
    assert list(kept.columns) == [*renamed.columns, "territory_id", "method", "distance_km",
                                  "reason"]  # fmt: skip
    assert kept["territory_id"].tolist() == got["territory_id"].tolist()


def test_postal_code_normalisation():
    codes = pd.Series(["02134", "2134", "02134-1234", "02134 1234", " 601 ", "ABC", None])
    assert normalise_us_zip(codes).tolist()[:6] == [
        "02134",
        "02134",
        "02134",
        "02134",
        "00601",
        "ABC",
    ]


def test_postal_codes_read_as_numbers_keep_working():
    frame = pd.DataFrame({"account_id": ["a", "b"], "zip": [2134.0, 10001.0]})
    acc = prepare_accounts(frame)
    assert (acc.unlocated == "").all()
    assert acc.y[0] == pytest.approx(42.36, abs=0.05)  # Boston (Allston)


def test_own_postal_table_for_other_countries(tmp_path):
    table = tmp_path / "de_postcodes.csv"
    table.write_text("postal_code,lat,lon\n10115,52.532,13.384\n80331,48.135,11.571\n")
    frame = pd.DataFrame(
        {"account_id": ["berlin", "munich", "x"], "postcode": ["10115", "80331", "1"]}
    )
    acc = prepare_accounts(frame, postal_table=str(table))
    assert acc.y[:2].tolist() == [52.532, 48.135]
    assert "not found in the postal code table" in acc.unlocated[2]


def test_point_in_any_crs_with_geometry_and_non_point_shapes(two_squares):
    shapes = gpd.GeoDataFrame(
        {"account_id": ["parcel"]},
        geometry=[two_squares.geometry[1].buffer(-0.4)],  # a small polygon inside A
        crs=4326,
    )
    result = territory.run(shapes, two_squares)
    assert result.assignments["territory_id"].tolist() == ["A"]
    assert any("non-point geometry" in n for n in result.notes)


def test_outputs_are_written_atomically_with_normal_permissions(
    tmp_path, accounts_frame, two_squares
):
    from territory.io import write_table

    out = write_table(territory.assign(accounts_frame, two_squares), tmp_path / "a" / "out.csv")
    assert out.exists() and (out.stat().st_mode & 0o044) == 0o044
    assert [p.name for p in out.parent.iterdir()] == ["out.csv"]


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_spreadsheet_exports_with_other_separators_and_bom(tmp_path, two_squares, sep):
    path = tmp_path / "accounts.csv"
    text = sep.join(["account_id", "lat", "lon", "revenue"]) + "\n"
    text += sep.join(["a1", "0.5", "0.5", "10"]) + "\n" + sep.join(["a2", "0.5", "1.5", "20"])
    path.write_text("\ufeff" + text, encoding="utf-8")
    got = territory.assign(str(path), two_squares)
    assert got["territory_id"].tolist() == ["A", "B"]
    assert got["revenue"].sum() == 30
