"""Text and spreadsheet exports read as a sales-ops user expects.

Each test writes the file with explicit bytes (an encoding, gzip, openpyxl) and goes through the
public API or ``territory assign`` on the command line, checking what the user sees: ids,
territories, measure sums and the line numbers in messages.
"""

from __future__ import annotations

import csv
import gzip

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from shapely.geometry import box

import territory
from territory.cli import cli
from territory.validate import prepare_accounts

HEADER = ["account_id", "lat", "lon", "revenue"]


def rows_text(rows, sep=",") -> str:
    return "".join(sep.join(r) + "\r\n" for r in [HEADER, *rows])


def cli_assign(tmp_path, accounts, territories, *extra):
    out = tmp_path / "out" / "assignments.csv"
    result = CliRunner().invoke(
        cli, ["assign", str(accounts), str(territories), "-o", str(out), *extra]
    )
    return result, " ".join(result.output.split()), out


def assert_clean_error(result, text, *fragments):
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert text.startswith("Error:")
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in: {text}"


def literal_column(path, column) -> list[str]:
    """A column of a written CSV exactly as text (no NA guessing)."""
    with open(path, newline="", encoding="utf-8") as f:
        return [row[column] for row in csv.DictReader(f)]


# --------------------------------------------------------------------------------------------
# NA strings are ids and labels


def test_territory_called_na_keeps_its_accounts(tmp_path):
    blocks = gpd.GeoDataFrame(
        {"block_id": ["b1", "b2"]}, geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs=4326
    )
    blocks.to_file(tmp_path / "blocks.geojson")
    (tmp_path / "align.csv").write_bytes(b"block_id,territory_id,name\nb1,NA,North America\n"
                                         b"b2,EU,Europe\n")  # fmt: skip
    acc = tmp_path / "acc.csv"
    acc.write_bytes(rows_text([["a1", "0.5", "0.5", "10"], ["a2", "0.5", "1.5", "20"]]).encode())
    got = territory.assign(str(acc), str(tmp_path / "blocks.geojson"),
                           alignment=str(tmp_path / "align.csv"))  # fmt: skip
    assert got["territory_id"].tolist() == ["NA", "EU"]
    assert got["method"].tolist() == ["inside", "inside"]


def test_account_ids_na_none_null_are_ids(tmp_path, squares_geojson):
    acc = tmp_path / "acc.csv"
    ids = ["NA", "None", "null", "N/A", "nan"]
    rows = [[i, "0.5", str(0.2 + 0.3 * k), "1"] for k, i in enumerate(ids)]
    acc.write_bytes(rows_text(rows).encode())
    result, text, out = cli_assign(tmp_path, acc, squares_geojson)
    assert result.exit_code == 0, result.output
    assert literal_column(out, "account_id") == ids
    assert literal_column(out, "territory_id") == ["A", "A", "A", "B", "B"]


def test_segment_na_is_a_label_not_blank(tmp_path, two_squares):
    acc = tmp_path / "acc.csv"
    acc.write_bytes(
        b"account_id,lat,lon,revenue,region\na1,0.5,0.5,10,NA\na2,0.5,0.6,5,EMEA\na3,0.5,0.7,7,\n"
    )
    result = territory.run(str(acc), two_squares, segments=["region"])
    table = result.segments["region"].set_index("region")
    assert table.loc["NA", "revenue"] == 10
    assert table.loc["(blank)", "revenue"] == 7  # only the truly empty cell is blank
    assert "NA" in result.assignments["region"].tolist()


# --------------------------------------------------------------------------------------------
# encodings


def test_cp1252_export_is_read_with_a_note(tmp_path, two_squares):
    names = ["Müller – Söhne", "Café “Zürich”", "Ørsted €"]
    text = "account_id,lat,lon,revenue,name\r\n" + "".join(
        f"a{i},0.5,{0.5 + i * 0.6:g},{10 * (i + 1)},{n}\r\n" for i, n in enumerate(names)
    )
    acc = tmp_path / "acc.csv"
    acc.write_bytes(text.encode("cp1252"))
    accounts = prepare_accounts(str(acc))
    assert accounts.frame["name"].tolist() == names
    assert any("Windows-1252" in n and "acc.csv" in n for n in accounts.notes)
    result = territory.run(str(acc), two_squares)
    assert result.assignments["territory_id"].tolist() == ["A", "B", "B"]
    assert any("Windows-1252" in n for n in result.notes)


def test_latin1_export_through_the_cli(tmp_path, squares_geojson):
    acc = tmp_path / "acc.csv"
    acc.write_bytes("account_id,lat,lon,ville\nç1,0.5,0.5,Besançon\n".encode("latin-1"))
    result, text, out = cli_assign(tmp_path, acc, squares_geojson)
    assert result.exit_code == 0, result.output
    assert "Windows-1252" in text
    assert literal_column(out, "account_id") == ["ç1"]


def test_undecodable_file_is_one_clear_error(tmp_path, squares_geojson):
    # 0x81 is neither UTF-8 (a lone continuation byte) nor defined in Windows-1252.
    acc = tmp_path / "acc.csv"
    acc.write_bytes(b"account_id,lat,lon\na1,0.5,0.5\na\x812,0.5,1.5\n")
    result, text, out = cli_assign(tmp_path, acc, squares_geojson)
    assert_clean_error(result, text, "acc.csv", "not UTF-8", "byte 0x81", "position 31",
                       "line 3", "CSV UTF-8")  # fmt: skip
    assert not out.exists()


def test_utf16_unicode_text_export(tmp_path, two_squares):
    # Excel's "Unicode Text": UTF-16 with a byte-order mark, tab-separated.
    text = "account_id\tlat\tlon\trevenue\nNA\t0.5\t0.5\t10\nb—2\t0.5\t1.5\t20\n"
    acc = tmp_path / "acc.txt"
    acc.write_bytes(text.encode("utf-16"))
    got = territory.assign(str(acc), two_squares)
    assert got["account_id"].tolist() == ["NA", "b—2"]
    assert got["territory_id"].tolist() == ["A", "B"]
    assert got["revenue"].tolist() == [10.0, 20.0]


# --------------------------------------------------------------------------------------------
# numbers


def _decimal_comma(value: str) -> float:
    """The oracle: a European number as a person reads it."""
    return float(value.replace(".", "").replace(",", "."))


def test_decimal_commas_in_semicolon_files(tmp_path, two_squares):
    revenue = ["1.234,50", "1234,5", "1,234", "-2.000.000,25", "7"]
    lon = ["0,5", "1,5", "0,25", "1,75", "0,5"]
    rows = [[f"a{i}", "0,5", x, r] for i, (x, r) in enumerate(zip(lon, revenue, strict=True))]
    semi = tmp_path / "semi.csv"
    semi.write_bytes(rows_text(rows, ";").encode("utf-8-sig"))
    got = territory.assign(str(semi), two_squares)
    assert got["revenue"].tolist() == [_decimal_comma(v) for v in revenue]
    assert got["revenue"].sum() == pytest.approx(sum(_decimal_comma(v) for v in revenue))
    assert got["territory_id"].tolist() == ["A", "B", "A", "B", "A"]
    # The same book written by a comma-separated export keeps the 1,234.50 grouping rule.
    english = ['"1,234.50"', "1234.5", "1.234", '"-2,000,000.25"', "7"]
    plain = [[f"a{i}", "0.5", x.replace(",", "."), r] for i, (x, r) in
             enumerate(zip(lon, english, strict=True))]  # fmt: skip
    comma = tmp_path / "comma.csv"
    comma.write_bytes(rows_text(plain).encode())
    pd.testing.assert_frame_equal(territory.assign(str(comma), two_squares), got)


def test_mixed_decimal_marks_in_a_semicolon_column(tmp_path, squares_geojson):
    acc = tmp_path / "acc.csv"
    acc.write_bytes(rows_text([["a1", "0,5", "0,5", "1,5"], ["a2", "0,5", "1,5", "2.5"]], ";")
                    .encode())  # fmt: skip
    result, text, out = cli_assign(tmp_path, acc, squares_geojson)
    assert_clean_error(result, text, "Column 'revenue'", "line 3", "'2.5'", "decimal commas")


# --------------------------------------------------------------------------------------------
# line numbers, trailing separators, duplicated headers


def test_line_numbers_count_quoted_line_breaks_and_blank_lines(tmp_path, squares_geojson):
    acc = tmp_path / "acc.csv"
    acc.write_bytes(
        b"account_id,lat,lon,revenue,note\n"  # line 1
        b'a1,0.5,0.5,10,"first line\n'  # line 2
        b'second line"\n'  # line 3
        b"\n"  # line 4 (blank)
        b"a2,0.5,1.5,20,\n"  # line 5
        b"a3,0.5,1.5,lots,\n"  # line 6
    )
    result, text, out = cli_assign(tmp_path, acc, squares_geojson)
    assert_clean_error(result, text, "Column 'revenue'", "line 6", "'lots'")
    assert "line 4" not in text


def test_line_numbers_of_duplicate_ids_after_blank_lines(tmp_path, squares_geojson):
    acc = tmp_path / "acc.csv"
    acc.write_bytes(b"\r\naccount_id,lat,lon\r\n\r\nx,0.5,0.5\r\ny,0.5,1.5\r\n\r\nx,0.2,0.2\r\n")
    result, text, out = cli_assign(tmp_path, acc, squares_geojson)
    assert_clean_error(result, text, "Duplicate account ids", "'x'", "lines 4, 7")


@pytest.mark.parametrize("trailing", ["every row", "first row", "a later row"])
def test_trailing_separator_does_not_shift_columns(tmp_path, two_squares, trailing):
    rows = [["a1", "0.5", "0.5", "10"], ["a2", "0.5", "1.5", "20"], ["a3", "0.5", "1.2", "5"]]
    for k in {"every row": [0, 1, 2], "first row": [0], "a later row": [2]}[trailing]:
        rows[k] = [*rows[k], ""]
    acc = tmp_path / "acc.csv"
    acc.write_bytes(rows_text(rows).encode())
    got = territory.assign(str(acc), two_squares)
    assert got["account_id"].tolist() == ["a1", "a2", "a3"]
    assert got["territory_id"].tolist() == ["A", "B", "B"]
    assert got["revenue"].tolist() == [10.0, 20.0, 5.0]


def test_values_beyond_the_header_name_their_lines(tmp_path, squares_geojson):
    acc = tmp_path / "acc.csv"
    acc.write_bytes(rows_text([["a1", "0.5", "0.5", "10"], ["a2", "0.5", "1.5", "20", "oops"]])
                    .encode())  # fmt: skip
    result, text, out = cli_assign(tmp_path, acc, squares_geojson)
    assert_clean_error(result, text, "acc.csv", "more values than header columns", "line 3")


def test_duplicated_header_is_an_error_naming_both_columns(tmp_path, squares_geojson):
    acc = tmp_path / "acc.csv"
    acc.write_bytes(b"account_id,revenue,lat,lon,revenue\na1,10,0.5,0.5,99\n")
    result, text, out = cli_assign(tmp_path, acc, squares_geojson)
    assert_clean_error(result, text, "acc.csv", "two columns named 'revenue'", "columns 2 and 5",
                       "rename or delete one")  # fmt: skip
    assert not out.exists()


# --------------------------------------------------------------------------------------------
# ids written exactly


def test_large_numeric_ids_are_written_exactly(tmp_path, squares_geojson):
    floats = pd.DataFrame(
        {"account_id": [12345678901234568.0, 1001.0], "lat": [0.5, 0.5], "lon": [0.5, 1.5]}
    )
    floats.to_parquet(tmp_path / "floats.parquet")
    ints = floats.assign(account_id=np.array([9007199254740993, 42], dtype=np.int64))
    ints.to_parquet(tmp_path / "ints.parquet")
    result, text, out = cli_assign(tmp_path, tmp_path / "floats.parquet", squares_geojson)
    assert result.exit_code == 0, result.output
    assert literal_column(out, "account_id") == ["12345678901234568", "1001"]
    got = territory.assign(str(tmp_path / "ints.parquet"), squares_geojson)
    assert got["account_id"].tolist() == [9007199254740993, 42]  # not rounded through float


# --------------------------------------------------------------------------------------------
# .xlsx and compressed text


def _workbook(path, rows, *, sheets=("Accounts",)):
    import openpyxl

    book = openpyxl.Workbook()
    ws = book.active
    ws.title = sheets[0]
    for row in rows:
        ws.append(row)
    for extra in sheets[1:]:
        book.create_sheet(extra).append(["not", "accounts"])
    book.save(path)


def test_xlsx_reads_like_csv(tmp_path, two_squares):
    rows = [
        ["account_id", "lat", "lon", "revenue", "segment"],
        ["007", 0.5, 0.5, 10.25, "NA"],
        ["NA", 0.5, 1.5, None, "SMB"],
        [None, None, None, None, None],  # a blank spreadsheet row
        [1234567890123456.0, 0.5, 1.25, 3, None],  # stored as 1.234567890123456e+15
    ]
    path = tmp_path / "acc.xlsx"
    _workbook(path, rows, sheets=("Accounts", "Notes"))
    result = territory.run(str(path), two_squares, segments=["segment"])
    got = result.assignments
    assert got["account_id"].tolist() == ["007", "NA", "1234567890123456"]
    assert got["territory_id"].tolist() == ["A", "B", "B"]
    assert got["revenue"].tolist() == [10.25, 0.0, 3.0]
    assert sorted(result.segments["segment"]["segment"].unique()) == ["(blank)", "NA", "SMB"]


def test_xlsx_errors_name_spreadsheet_rows(tmp_path, squares_geojson):
    rows = [
        ["account_id", "lat", "lon", "revenue"],
        ["a1", 0.5, 0.5, 1],
        [None, None, None, None],
        ["a2", 0.5, 1.5, "#N/A"],  # spreadsheet row 4
    ]
    path = tmp_path / "acc.xlsx"
    _workbook(path, rows)
    result, text, out = cli_assign(tmp_path, path, squares_geojson)
    assert_clean_error(result, text, "Column 'revenue'", "acc.xlsx", "row 4", "'#N/A'")


def test_corrupt_xlsx_is_one_clear_error(tmp_path, squares_geojson):
    path = tmp_path / "acc.xlsx"
    path.write_bytes(b"not really a workbook")
    result, text, out = cli_assign(tmp_path, path, squares_geojson)
    assert_clean_error(result, text, "acc.xlsx", "not a valid .xlsx workbook", "save it again")


@pytest.mark.parametrize(("name", "sep"), [("acc.csv.gz", ","), ("acc.tsv.gz", "\t"),
                                           ("acc.txt.gz", ";")])  # fmt: skip
def test_gzip_compressed_text_reads_like_csv(tmp_path, two_squares, name, sep):
    rows = [["NA", "0.5", "0.5", "10"], ["007", "0.5", "1.5", "20"]]
    path = tmp_path / name
    path.write_bytes(gzip.compress(rows_text(rows, sep).encode("utf-8")))
    plain = tmp_path / "plain.csv"
    plain.write_bytes(rows_text(rows).encode())
    got = territory.assign(str(path), two_squares)
    assert got["account_id"].tolist() == ["NA", "007"]
    pd.testing.assert_frame_equal(got, territory.assign(str(plain), two_squares))
    # and errors point at the lines of the uncompressed text
    bad = tmp_path / f"bad-{name}"
    bad.write_bytes(gzip.compress(rows_text([*rows, ["x", "0.5", "oops", "1"]], sep).encode()))
    with pytest.raises(territory.ValidationError, match=r"line 4"):
        territory.assign(str(bad), two_squares)


def test_truncated_gzip_is_one_clear_error(tmp_path, squares_geojson):
    path = tmp_path / "acc.csv.gz"
    path.write_bytes(gzip.compress(rows_text([["a1", "0.5", "0.5", "1"]]).encode())[:20])
    result, text, out = cli_assign(tmp_path, path, squares_geojson)
    assert_clean_error(result, text, "acc.csv.gz", "not a complete gzip file")


def test_orders_and_targets_tables_keep_na_territories(tmp_path):
    from territory.targets import read_targets

    path = tmp_path / "targets.csv"
    path.write_bytes("territory_id;target\nNA;1.500,5\nNone;2\n".encode("cp1252"))
    targets = read_targets(str(path))
    assert targets.to_dict() == {"NA": 1500.5, "None": 2.0}


# --------------------------------------------------------------------------------------------
# the Dask engine reads text the same way


def test_dask_engine_reads_text_like_read_table(tmp_path, two_squares):
    from distributed import Client, LocalCluster

    rows = [["NA", "0,5", "0,5", "1.234,5", ""], ["null", "0,5", "1,5", "2,25", ""],
            ["007", "0,5", "1,2", "3", ""]]  # fmt: skip
    acc = tmp_path / "acc.csv"
    acc.write_bytes(rows_text(rows, ";").encode("utf-8-sig"))
    local = territory.run(str(acc), two_squares)
    dup = tmp_path / "dup.csv"
    dup.write_bytes(b"account_id,lat,lon,lat\na,0.5,0.5,1\n")
    with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            result = territory.make_plan(str(acc), two_squares).run(engine="dask", client=client)
            got = result.assignments.compute().reset_index(drop=True)
            with pytest.raises(territory.ValidationError, match="two columns named 'lat'"):
                territory.make_plan(str(dup), two_squares).run(engine="dask", client=client)
    assert got["account_id"].tolist() == ["NA", "null", "007"]
    assert got["revenue"].tolist() == [1234.5, 2.25, 3.0]
    pd.testing.assert_frame_equal(got, local.assignments, check_dtype=False)


def test_named_sheet_and_compressed_output(tmp_path, squares_geojson):
    from territory.io import read_table

    path = tmp_path / "book.xlsx"
    _workbook(path, [["account_id", "lat", "lon"], ["a1", 0.5, 0.5]], sheets=("Accounts", "Notes"))
    assert read_table(path, layer="Notes").columns.tolist() == ["not", "accounts"]
    with pytest.raises(territory.InputError, match="Sheet 'Nope' is not in .*Accounts, Notes"):
        read_table(path, layer="Nope")
    result, text, out = cli_assign(tmp_path, path, squares_geojson, "-o",
                                   str(tmp_path / "assignments.csv.gz"))  # fmt: skip
    assert result.exit_code == 0, result.output
    written = pd.read_csv(tmp_path / "assignments.csv.gz", dtype=str, keep_default_na=False)
    assert written[["account_id", "territory_id"]].values.tolist() == [["a1", "A"]]
