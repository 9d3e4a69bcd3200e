"""Read and write the tables territory works on.

Readers accept a path (CSV/TSV/TXT, optionally gzip-compressed, Excel ``.xlsx``, Parquet,
GeoParquet, GeoJSON, GeoPackage, Shapefile, FlatGeobuf), a database table or query
(:mod:`territory.db`) or a (Geo)DataFrame the caller already has. They only read; turning a
table into accounts or territories (column detection, locating, checking) happens in
:mod:`territory.validate`. Writers are atomic: a file appears complete or not at all.

Text and spreadsheet tables are read the same way (see "Reading text and spreadsheet files" in
the README): every cell is text, and only a truly empty cell is blank (``NA``, ``None`` or
``null`` are kept as written, so a territory called ``NA`` stays one); UTF-8 (with or without
BOM) and UTF-16 (with BOM) are read as such, anything else that is not UTF-8 as Windows-1252
with a note; a ``;``-separated file is taken to write numbers with decimal commas.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gzip
import io
import os
import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from territory.db.source import as_source, is_database_source
from territory.errors import InputError, OutputError, ValidationError

TABLE_SUFFIXES = {".csv", ".txt", ".tsv"}
COMPRESSED_SUFFIXES = {f"{s}.gz" for s in TABLE_SUFFIXES}
SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm"}
PARQUET_SUFFIXES = {".parquet", ".geoparquet", ".pq"}
VECTOR_SUFFIXES = {".geojson", ".json", ".gpkg", ".shp", ".fgb", ".geojsonl", ".geojsons"}

#: Options every delimited text table is read with (also by the Dask engine): all text, only
#: empty cells blank, leading spaces after a separator ignored, never an implicit index column.
CSV_OPTIONS = {
    "dtype": str,
    "keep_default_na": False,
    "na_values": [""],
    "skipinitialspace": True,
    "index_col": False,
}


@dataclass(frozen=True)
class Source:
    """Where a table came from, so messages can point at the right place.

    ``name`` is the path (or a description such as ``"accounts GeoDataFrame"``). CSV rows are
    reported as file line numbers (the header is line 1); other formats as 1-based row numbers.
    ``lines`` holds the true line (or spreadsheet row) number of each record when it differs
    from that count (quoted line breaks, blank lines, blank spreadsheet rows). ``decimal`` is
    the decimal mark of numbers written as text (``","`` in ``;``-separated files) and
    ``notes`` what reading had to decide (e.g. the encoding used). ``database`` marks a
    database table or query (its rows are 1-based rows of the table or query result).
    """

    name: str
    csv: bool = False
    offset: int = 0
    lines: np.ndarray | None = field(default=None, compare=False, repr=False)
    decimal: str = "."
    notes: tuple[str, ...] = ()
    database: bool = False  # a database table or query (``name`` says which)

    @property
    def called(self) -> str:
        """How a sentence names it: ``file accounts.csv`` or ``table accounts in <database>``."""
        return self.name if self.database else f"file {self.name}"

    def rows(self, index_positions) -> list[int]:
        """Convert 0-based positions into the numbers a user sees in the file.

        ``offset`` is the position of the first row of a batch or partition in the file.
        """
        if self.lines is not None:
            return [int(self.lines[int(i) + self.offset]) for i in index_positions]
        offset = (2 if self.csv else 1) + self.offset
        return [int(i) + offset for i in index_positions]

    @property
    def row_word(self) -> str:
        return "line" if self.csv else "row"

    def describe_rows(self, index_positions, limit: int = 8) -> str:
        """``"lines 2, 7 and 3 more"`` for a CSV, ``"rows 1, 6"`` otherwise."""
        rows = self.rows(index_positions)
        word = self.row_word + ("" if len(rows) == 1 else "s")
        shown = ", ".join(str(r) for r in rows[:limit])
        more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
        return f"{word} {shown}{more}"


def file_type(path: str | os.PathLike) -> str:
    """The suffix that decides how ``path`` is read: ``".csv.gz"``, ``".xlsx"``, ``".gpkg"`` ...

    Compressed text tables keep both suffixes (``Path.suffix`` alone would say ``".gz"``).
    """
    suffixes = [s.lower() for s in Path(path).suffixes]
    if len(suffixes) >= 2 and f"{suffixes[-2]}{suffixes[-1]}" in COMPRESSED_SUFFIXES:
        return suffixes[-2] + suffixes[-1]
    return suffixes[-1] if suffixes else ""


def without_suffix(name: str) -> str:
    """``"kpis.csv.gz"`` -> ``"kpis"``: the name without the suffix :func:`file_type` reads."""
    return name[: len(name) - len(file_type(name))] or name


def parquet_error(path: Path, exc: Exception, what: str = "accounts") -> InputError:
    """The error for a Parquet file or folder pyarrow cannot read (truncated, not Parquet, or a
    folder holding other files)."""
    where = (
        "that every file in the folder is a Parquet file (other files, such as notes or CSV "
        "exports, must be moved out; names starting with _ or . are skipped)"
        if path.is_dir()
        else "that the file is a complete Parquet file (write it again with to_parquet)"
    )
    reason = str(exc).rstrip(". ")
    return InputError(f"Cannot read the {what} in {path}: {reason}. Check {where}.")


def is_text_table(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a delimited text table (plain or gzip-compressed)."""
    return file_type(path) in TABLE_SUFFIXES | COMPRESSED_SUFFIXES


def read_table(path: str | os.PathLike, *, layer: str | None = None) -> pd.DataFrame:
    """Read a table or vector layer from ``path``.

    Text and spreadsheet tables are read with every column as text so identifiers such as ZIP
    codes keep their leading zeros; measures are converted later with row-level error
    messages. Parquet files with GeoParquet metadata become GeoDataFrames, other Parquet files
    DataFrames. ``layer`` names the layer of a GeoPackage or the sheet of an ``.xlsx`` workbook
    (default: the first).

    Raises
    ------
    InputError
        The file does not exist, has an unsupported suffix or cannot be parsed.
    ValidationError
        A text or spreadsheet table has two columns of the same name, or rows with more
        values than the header has columns.
    """
    return read_source(path, layer=layer)[0]


LAYERED_SUFFIXES = {".gpkg", ".xlsx", ".xlsm"}  # files that may hold several layers or sheets
SIDE_TABLES = {"layer_styles", "qgis_projects"}  # what QGIS saves into a GeoPackage


def split_layer(path: str | os.PathLike) -> tuple[Path, str | None]:
    """``"areas.gpkg#counties"`` -> ``(Path("areas.gpkg"), "counties")``: the layer of a
    GeoPackage or the sheet of a workbook named after ``#`` (as a database table is named
    after its URL). A path that exists as written is never split."""
    p = Path(path)
    text = str(path)
    if "#" in text and not p.exists():
        # at the first '#' after which the file exists: layer names may hold '#' too
        cuts = [i for i, c in enumerate(text) if c == "#"]
        for i in cuts:
            base, name = text[:i], text[i + 1 :]
            if name and file_type(base) in LAYERED_SUFFIXES and Path(base).exists():
                return Path(base), name
        base, name = text[: cuts[0]], text[cuts[0] + 1 :]
        if name and file_type(base) in LAYERED_SUFFIXES:  # a missing file: named as such
            return Path(base), name
    return p, None


def read_source(
    path: str | os.PathLike, *, layer: str | None = None
) -> tuple[pd.DataFrame, Source]:
    """Like :func:`read_table`, also returning the :class:`Source` that locates its rows.

    ``path`` may name a layer or sheet after ``#`` (``areas.gpkg#counties``); a GeoPackage of
    several layers must (it is refused with the list of its layers, so no layer is read by
    mistake)."""
    p, named = split_layer(path) if layer is None else (Path(path), None)
    layer = layer if named is None else named
    if not p.exists():
        raise InputError(
            f"File not found: {p}. Check the path (relative paths are resolved from "
            f"{Path.cwd()}, or from the plan file's folder inside a plan)."
        )
    if p.is_dir() and not any(p.glob("*.parquet")):
        raise InputError(f"{p} is a folder; give the path of a data file inside it.")
    kind = ".parquet" if p.is_dir() else file_type(p)  # a folder: one file per partition
    try:
        if kind in TABLE_SUFFIXES | COMPRESSED_SUFFIXES:
            return _read_text(p, kind)
        if kind in SPREADSHEET_SUFFIXES:
            return _read_xlsx(p, layer)
        if kind in PARQUET_SUFFIXES:
            return _read_parquet(p), Source(str(p))
        if kind in VECTOR_SUFFIXES:
            return _read_vector(p, layer)
    except (InputError, ValidationError):
        raise
    except Exception as exc:  # parser errors from pandas/pyarrow/GDAL differ by format
        raise InputError(
            f"Cannot read {p}: {exc}. Check that the file is a valid {kind.lstrip('.')} file."
        ) from exc
    if kind == ".xls":
        raise InputError(
            f"Cannot read {p}: old Excel .xls workbooks are not supported. Save it as .xlsx "
            "(Excel Workbook) or as CSV UTF-8 and give that file."
        )
    known = sorted(TABLE_SUFFIXES | COMPRESSED_SUFFIXES | SPREADSHEET_SUFFIXES)
    known += sorted(PARQUET_SUFFIXES | VECTOR_SUFFIXES)
    raise InputError(
        f"Cannot read {p}: unknown file type '{kind}'. Use one of: {', '.join(known)}."
    )


def _read_vector(p: Path, layer: str | None) -> tuple[pd.DataFrame, Source]:
    """A vector file's layer: ``layer``, or the only one it has."""
    import pyogrio

    # tables programs keep beside the data (QGIS styles and projects) are not layers to read
    names = [str(n) for n in pyogrio.list_layers(p)[:, 0] if str(n) not in SIDE_TABLES]
    if layer is not None and layer not in names:
        raise InputError(
            f"Layer '{layer}' is not in {p}. Layers: {', '.join(names)}. Name one after the "
            f"path: {p}#{names[0]}."
        )
    if layer is None and len(names) > 1:
        raise InputError(
            f"{p} holds {len(names)} layers ({', '.join(names)}). Name the one to read after "
            f"the path, for example {p}#{names[0]} (in a plan file too)."
        )
    frame = gpd.read_file(p, layer=layer, engine="pyogrio")
    return frame, Source(f"{p}#{layer}" if layer is not None else str(p))


# --------------------------------------------------------------------------------------------
# delimited text


def text_bytes(p: Path) -> tuple[bytes, str | None]:
    """The file's content as UTF-8 bytes (a UTF-8 BOM may stay) and a note on its encoding.

    UTF-8 is read as is; UTF-16/32 with a byte-order mark (or UTF-16 recognised by its zero
    bytes) and, when the file is not valid UTF-8, Windows-1252 are converted to UTF-8. The
    note is None for UTF-8 and BOM-marked files. A file that is neither raises an InputError
    naming the first offending byte.
    """
    raw = _raw_bytes(p)
    for bom, encoding in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if raw.startswith(bom):
            return _transcode(raw, encoding, p), None
    if raw.startswith(codecs.BOM_UTF8) or raw.isascii() and b"\x00" not in raw[:4096]:
        return raw, None
    sample = raw[:4096]
    if sample.count(0) > len(sample) // 4:
        odd, even = sample[1::2].count(0), sample[0::2].count(0)
        encoding = "utf-16-le" if odd > 4 * even else "utf-16-be" if even > 4 * odd else None
        if encoding is None:
            raise InputError(
                f"Cannot read {p}: it holds zero bytes, so it is not a text table. Export it "
                "again as CSV UTF-8."
            )
        note = f"{p} has no byte-order mark but looks like {encoding.upper()}; read as such."
        return _transcode(raw, encoding, p), note
    try:
        raw.decode("utf-8")
        return raw, None
    except UnicodeDecodeError as exc:
        bad = exc
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError:
        line = raw.count(b"\n", 0, bad.start) + 1
        raise InputError(
            f"Cannot read {p}: it is not UTF-8 text (byte 0x{raw[bad.start]:02x} at byte "
            f"position {bad.start}, line {line}) and not Windows-1252 text either. Save or "
            "export the file again as CSV UTF-8 (Excel: File > Save As > CSV UTF-8)."
        ) from None
    note = (
        f"{p} is not UTF-8 (first non-UTF-8 byte at position {bad.start}); it was read as "
        "Windows-1252 (cp1252, a superset of Latin-1). If accented letters look wrong, export "
        "the file again as CSV UTF-8."
    )
    return text.encode("utf-8"), note


def _raw_bytes(p: Path) -> bytes:
    if p.suffix.lower() != ".gz":
        return p.read_bytes()
    try:
        return gzip.decompress(p.read_bytes())
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise InputError(
            f"Cannot read {p}: it is not a complete gzip file ({exc}). Compress it again with "
            "gzip, or give the uncompressed file."
        ) from exc


def _transcode(raw: bytes, encoding: str, p: Path) -> bytes:
    try:
        return raw.decode(encoding).encode("utf-8")
    except UnicodeError as exc:
        raise InputError(
            f"Cannot read {p}: it starts like {encoding.upper()} text but is not valid "
            f"{encoding.upper()} ({exc}). Export the file again as CSV UTF-8."
        ) from exc


def sniff_separator(p: Path, data: bytes | None = None) -> str:
    """The separator of a delimited file, from its header line: ``,``, ``;``, tab or ``|``.

    Spreadsheets in many locales export ``;``-separated "CSV"; the header tells which.
    ``.tsv`` files are always tab-separated.
    """
    if file_type(p) in (".tsv", ".tsv.gz"):
        return "\t"
    if data is None:
        data = head_bytes(p)
    header = ""
    for line in _lines(data):
        if line.strip():
            header = line
            break
    counts = {sep: header.count(sep) for sep in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 else ","


def head_bytes(p: Path, size: int = 1 << 16) -> bytes:
    """The first bytes of a text file as UTF-8 (enough to find its header line)."""
    opener = gzip.open if p.suffix.lower() == ".gz" else open
    with opener(p, "rb") as f:
        head = f.read(size)
    for bom, encoding in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if head.startswith(bom) and not head.startswith(codecs.BOM_UTF32_LE):
            head = head[2 : len(head) // 2 * 2]
            return head.decode(encoding, errors="replace").encode("utf-8")
    return head.decode("utf-8", errors="replace").encode("utf-8")


def is_utf8(p: Path, chunk: int = 1 << 24) -> bool:
    """Whether a (plain) file is valid UTF-8 without a UTF-16/32 BOM; read in chunks."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with open(p, "rb") as f:
        first = f.read(4)
        if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in first:
            return False
        try:
            decoder.decode(first)
            while block := f.read(chunk):
                decoder.decode(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


def _lines(data: bytes):
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")


def _read_text(p: Path, kind: str) -> tuple[pd.DataFrame, Source]:
    data, note = text_bytes(p)
    notes = (note,) if note else ()
    sep = sniff_separator(p, data)
    frame, lines = parse_text(data, sep, p)
    return frame, Source(
        str(p), csv=True, lines=lines, decimal="," if sep == ";" else ".", notes=notes
    )


def parse_text(
    data: bytes, sep: str, p: Path, shift: int = 0
) -> tuple[pd.DataFrame, np.ndarray | None]:
    """A delimited table from UTF-8 ``data`` (header first), as :func:`read_table` reads it, and
    the line each record starts on (None when every line is one record: line = row + 2).

    ``shift`` is added to line numbers in messages and in the lines returned: ``data`` is a part
    of a file whose records start that many lines further down.
    """
    header = header_record(data, sep)
    if header is None:
        return pd.DataFrame(), None
    check_header(header, p, letters=False)
    frame = None
    with warnings.catch_warnings():
        # pandas warns when a row has more values than the header and drops them; then the
        # careful reader below names the lines instead.
        warnings.simplefilter("error", pd.errors.ParserWarning)
        with contextlib.suppress(pd.errors.ParserWarning, pd.errors.ParserError):
            frame = pd.read_csv(io.BytesIO(data), sep=sep, encoding="utf-8-sig", **CSV_OPTIONS)
    if frame is not None and len(frame.columns) == len(header) and _one_line_each(data, frame):
        frame.columns = _names(header)
        return _drop_unnamed_blank(frame, header), None
    frame, lines = _read_records(data, sep, header, p, shift)
    return _drop_unnamed_blank(frame, header), lines


def header_prefix(data: bytes, sep: str) -> bytes:
    """The bytes of ``data`` up to and including its header line (blank lines before it too)."""
    reader = csv.reader(_lines(data), delimiter=sep, skipinitialspace=True)
    for record in reader:
        if not _blank_record(record):
            end = 0
            for _ in range(reader.line_num):
                end = data.index(b"\n", end) + 1 if b"\n" in data[end:] else len(data)
            return data[:end]
    return data


def header_record(data: bytes, sep: str) -> list[str] | None:
    for record in csv.reader(_lines(data), delimiter=sep, skipinitialspace=True):
        if not _blank_record(record):
            return record
    return None


def _blank_record(record: list[str]) -> bool:
    return not record or (len(record) == 1 and not record[0].strip())


def _one_line_each(data: bytes, frame: pd.DataFrame) -> bool:
    """Whether every physical line is one record (header included), so line = row + 2."""
    physical = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    return physical == len(frame) + 1


def _names(header: list[str]) -> list[str]:
    return [h if h.strip() else f"Unnamed: {i}" for i, h in enumerate(header)]


def check_header(header: list, p: Path, *, letters: bool) -> None:
    seen: dict[str, int] = {}
    for i, name in enumerate(header):
        key = str(name).strip()
        if not key:
            continue
        if key in seen:
            first, second = seen[key] + 1, i + 1
            where = (
                f"columns {_letter(first)} and {_letter(second)}"
                if letters
                else f"columns {first} and {second}"
            )
            raise ValidationError(
                f"{p} has two columns named '{key}' ({where} of the header). territory would "
                "not know which one to use: rename or delete one of them and save the file "
                "again."
            )
        seen[key] = i


def _letter(n: int) -> str:
    """Spreadsheet column letter of 1-based column ``n`` (openpyxl's, imported when needed)."""
    from openpyxl.utils import get_column_letter

    return get_column_letter(n)


def _read_records(data: bytes, sep: str, header: list[str], p: Path, shift: int = 0):
    """Parse record by record, keeping each record's first line (plus ``shift``); extra empty
    fields dropped."""
    reader = csv.reader(_lines(data), delimiter=sep, skipinitialspace=True)
    width = len(header)
    rows: list[list[str]] = []
    starts: list[int] = []
    overlong: list[int] = []
    previous = 0
    seen_header = False
    for record in reader:
        start, previous = previous + 1, reader.line_num
        if _blank_record(record):
            continue
        if not seen_header:
            seen_header = True
            continue
        if len(record) > width:
            if any(v.strip() for v in record[width:]):
                overlong.append(start + shift)
            record = record[:width]
        elif len(record) < width:
            record = record + [""] * (width - len(record))
        rows.append(record)
        starts.append(start + shift)
    if overlong:
        shown = ", ".join(map(str, overlong[:8]))
        more = f" and {len(overlong) - 8} more" if len(overlong) > 8 else ""
        raise ValidationError(
            f"{p} has more values than header columns ({width}) on line"
            f"{'s' if len(overlong) > 1 else ''} {shown}{more}. A value may hold an unquoted "
            f"'{sep}' or a column lacks its header name: quote such values or add the header, "
            "then save the file again."
        )
    names = _names(header)
    columns = list(zip(*rows, strict=True)) if rows else [()] * width
    frame = pd.DataFrame(
        {n: pd.Series(c, dtype=object) for n, c in zip(names, columns, strict=True)},
        columns=names,
    )
    frame = frame.mask(frame.eq(""))
    return frame, np.asarray(starts, dtype=np.int64)


def _drop_unnamed_blank(frame: pd.DataFrame, header: list) -> pd.DataFrame:
    """Columns with no header name and no value (a trailing separator on the header)."""
    drop = [
        frame.columns[i]
        for i, h in enumerate(header)
        if not str(h).strip() and frame.iloc[:, i].isna().all()
    ]
    return frame.drop(columns=drop) if drop else frame


# --------------------------------------------------------------------------------------------
# spreadsheets


def _read_xlsx(p: Path, sheet: str | None) -> tuple[pd.DataFrame, Source]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(p, read_only=True, data_only=True)
    except Exception as exc:
        raise InputError(
            f"Cannot read {p}: it is not a valid .xlsx workbook ({exc}). Open it in the "
            "spreadsheet program and save it again as Excel Workbook (.xlsx), or export CSV."
        ) from exc
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise InputError(
                f"Sheet '{sheet}' is not in {p}. Sheets: {', '.join(book.sheetnames)}. Name "
                f"one after the path: {p}#{book.sheetnames[0]}."
            )
        ws = book[sheet] if sheet is not None else book.worksheets[0]
        header: list[str] | None = None
        rows: list[list] = []
        numbers: list[int] = []
        overlong: list[int] = []
        for number, values in enumerate(ws.iter_rows(values_only=True), start=1):
            cells = [_cell_text(v) for v in values]
            if all(c is None for c in cells):
                continue
            if header is None:
                while cells and cells[-1] is None:
                    cells.pop()
                header = ["" if c is None else c for c in cells]
                continue
            width = len(header)
            if any(c is not None for c in cells[width:]):
                overlong.append(number)
            cells = cells[:width] + [None] * (width - len(cells))
            rows.append(cells)
            numbers.append(number)
    finally:
        book.close()
    name = f"{p}#{sheet}" if sheet is not None else str(p)
    source = Source(name, lines=np.asarray(numbers, dtype=np.int64))
    if header is None:
        return pd.DataFrame(), source
    check_header(header, p, letters=True)
    if overlong:
        raise ValidationError(
            f"{p} has values beyond the last named column ({_letter(len(header))}) on "
            f"{source.describe_rows(np.searchsorted(numbers, overlong))}. Give those columns "
            "a header name or delete the stray values."
        )
    names = _names(header)
    frame = pd.DataFrame(rows, columns=names, dtype=object)
    return _drop_unnamed_blank(frame, header), source


def _cell_text(value) -> str | None:
    """A spreadsheet cell as the text a CSV export would hold (None for an empty cell)."""
    import datetime as dt
    import math

    if value is None:
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return str(int(value))  # 1.2345678901234568e16 -> "12345678901234568"
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    text = str(value)
    return text if text != "" else None


# --------------------------------------------------------------------------------------------
# Parquet and helpers


def _read_parquet(p: Path) -> pd.DataFrame:
    """A Parquet file or folder; GeoParquet (WKB or geoarrow encoded) as a GeoDataFrame."""
    import pyarrow.dataset as ds

    meta = ds.dataset(p, format="parquet").schema.metadata or {}
    if b"geo" in meta:
        return gpd.read_parquet(p)
    return pd.read_parquet(p)


def as_frame(data, what: str) -> tuple[pd.DataFrame, Source]:
    """Accept a path, a database source (:class:`territory.db.source.DatabaseSource` or a
    ``URL#table`` text) or a (Geo)DataFrame and return it with its :class:`Source`."""
    if isinstance(data, pd.DataFrame):
        return data, Source(f"the {what} table")
    if is_database_source(data):  # a DatabaseSource or a "URL#table" text
        from territory.db.read import read_database

        return read_database(as_source(data, what), what)
    if isinstance(data, (str, os.PathLike)):
        return read_source(data)
    raise InputError(
        f"The {what} must be a file path, a database table or query, or a (Geo)DataFrame, "
        f"not {type(data).__name__}."
    )


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path`` that replaces it only if the block succeeds.

    The folder is checked first (see :func:`territory.outputs.check_folder`); stale temporary
    files of killed processes are removed; an OS error (disk full, permission denied) becomes
    an :class:`~territory.errors.OutputError` and leaves ``path`` as it was.
    """
    from territory.outputs import active, check_folder, clean_stale, temp_name, write_error

    target = Path(path)
    if target.is_dir():
        raise OutputError(
            f"Output {target} is a folder; the output is a file. Choose another name."
        )
    check_folder(target.parent)
    kept = f"{target} is unchanged" if target.exists() else f"{target} was not created"
    tmp_path = target.parent / temp_name(target.name)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        clean_stale(target.parent)
        with active(tmp_path):
            try:
                tmp_path.touch()
                umask = os.umask(0)
                os.umask(umask)
                tmp_path.chmod(0o666 & ~umask)  # outputs get the usual permissions
                yield tmp_path
                os.replace(tmp_path, target)
            finally:
                if tmp_path.exists():
                    tmp_path.unlink()
    except OSError as exc:
        raise write_error(exc, target, kept) from exc


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder next to ``path`` that replaces it only if the block succeeds.

    For outputs that are folders (a partitioned Parquet dataset): an interrupted or failed
    write leaves ``path`` as it was, never half a dataset. The old folder is moved aside,
    the new one moved in, then the old one removed; leftovers of a killed process are
    temporary entries that the next write (or ``territory check-outputs --repair``) removes.
    """
    from territory.outputs import active, check_folder, clean_stale, temp_name, write_error

    target = Path(path)
    if target.exists() and not target.is_dir():
        raise OutputError(
            f"Output {target} is a file; the output is a folder. Choose another name."
        )
    check_folder(target.parent)
    kept = f"{target} is unchanged" if target.exists() else f"{target} was not created"
    stage = target.parent / temp_name(target.name)
    old = target.parent / temp_name(target.name + "-old")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        clean_stale(target.parent)
        with active(stage), active(old):
            try:
                yield stage
                if target.exists():
                    os.replace(target, old)
                os.replace(stage, target)
            finally:
                shutil.rmtree(stage, ignore_errors=True)
                shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        raise write_error(exc, target, kept) from exc


TABLE_OUTPUTS = (".csv", ".csv.gz", ".parquet")  # what a table without shapes is written as


def check_table_output(path: str | os.PathLike, what: str = "output") -> None:
    """Refuse, before any work, an output name whose suffix a table cannot be written as."""
    suffix = file_type(path)
    if suffix not in TABLE_OUTPUTS and suffix not in PARQUET_SUFFIXES:
        raise InputError(
            f"Cannot write the {what} as {Path(path).name}: unknown output type "
            f"'{suffix or Path(path).name}'. Name a file ending in {', '.join(TABLE_OUTPUTS)}."
        )


def write_table(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``frame`` to CSV (``.csv.gz`` compressed), Parquet or, when it has shapes, a vector
    format, atomically."""
    target = Path(path)
    suffix = file_type(target)
    if suffix == ".shp":  # several files, which cannot be swapped in at once
        raise InputError(
            f"Cannot write {target.name}: a Shapefile is several files. Name a .gpkg, "
            ".geojson or .parquet (GeoParquet) file instead."
        )
    if suffix in VECTOR_SUFFIXES and not isinstance(frame, gpd.GeoDataFrame):
        raise InputError(
            f"Cannot write {target.name} as {suffix}: the table has no shapes. Name a file "
            f"ending in {', '.join(TABLE_OUTPUTS)}."
        )
    with atomic_path(target) as tmp:
        if suffix in (".csv", ".csv.gz"):
            out = frame.drop(columns="geometry") if "geometry" in frame.columns else frame
            compression = "gzip" if suffix == ".csv.gz" else None
            pd.DataFrame(out).to_csv(tmp, index=False, compression=compression)
        elif suffix in PARQUET_SUFFIXES:
            frame.to_parquet(tmp, index=False)
        elif suffix in VECTOR_SUFFIXES:
            frame.to_file(tmp, layer=target.stem, engine="pyogrio")
        else:
            raise InputError(f"Cannot write {target.name}: unknown file type '{suffix}'.")
    return target
