"""Read and write the tables territory works on.

Readers accept a path (CSV, Parquet, GeoParquet, GeoJSON, GeoPackage, Shapefile, FlatGeobuf) or a
(Geo)DataFrame the caller already has. They only read; turning a table into accounts or
territories (column detection, locating, checking) happens in :mod:`territory.validate`.
Writers are atomic: a file appears complete or not at all.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd

from territory.errors import InputError, OutputError

TABLE_SUFFIXES = {".csv", ".txt", ".tsv"}
PARQUET_SUFFIXES = {".parquet", ".geoparquet", ".pq"}
VECTOR_SUFFIXES = {".geojson", ".json", ".gpkg", ".shp", ".fgb", ".geojsonl", ".geojsons"}


@dataclass(frozen=True)
class Source:
    """Where a table came from, so messages can point at the right place.

    ``name`` is the path (or a description such as ``"accounts GeoDataFrame"``). CSV rows are
    reported as file line numbers (the header is line 1); other formats as 1-based row numbers.
    """

    name: str
    csv: bool = False
    offset: int = 0

    def rows(self, index_positions) -> list[int]:
        """Convert 0-based positions into the numbers a user sees in the file.

        ``offset`` is the position of the first row of a batch or partition in the file.
        """
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


def read_table(path: str | os.PathLike, *, layer: str | None = None) -> pd.DataFrame:
    """Read a table or vector layer from ``path``.

    CSV files are read with every column as text so identifiers such as ZIP codes keep their
    leading zeros; measures are converted later with row-level error messages. Parquet files
    with GeoParquet metadata become GeoDataFrames, other Parquet files DataFrames.

    Raises
    ------
    InputError
        The file does not exist, has an unsupported suffix or cannot be parsed.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(
            f"File not found: {p}. Check the path (relative paths are resolved from "
            f"{Path.cwd()}, or from the plan file's folder inside a plan)."
        )
    if p.is_dir():
        raise InputError(f"{p} is a folder; give the path of a data file inside it.")
    suffix = p.suffix.lower()
    try:
        if suffix in TABLE_SUFFIXES:
            sep = "\t" if suffix == ".tsv" else sniff_separator(p)
            return pd.read_csv(p, dtype=str, sep=sep, skipinitialspace=True, encoding="utf-8-sig")
        if suffix in PARQUET_SUFFIXES:
            return _read_parquet(p)
        if suffix in VECTOR_SUFFIXES:
            return gpd.read_file(p, layer=layer, engine="pyogrio")
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except InputError:
        raise
    except Exception as exc:  # parser errors from pandas/pyarrow/GDAL differ by format
        raise InputError(
            f"Cannot read {p}: {exc}. Check that the file is a valid {suffix.lstrip('.')} file."
        ) from exc
    known = sorted(TABLE_SUFFIXES | PARQUET_SUFFIXES | VECTOR_SUFFIXES)
    raise InputError(
        f"Cannot read {p}: unknown file type '{suffix}'. Use one of: {', '.join(known)}."
    )


def sniff_separator(p: Path) -> str:
    """The separator of a delimited file, from its header line: ``,``, ``;``, tab or ``|``.

    Spreadsheets in many locales export ``;``-separated "CSV"; the header tells which.
    """
    with open(p, encoding="utf-8-sig", errors="replace") as f:
        header = f.readline()
    counts = {sep: header.count(sep) for sep in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 else ","


def _read_parquet(p: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    meta = pq.read_schema(p).metadata or {}
    if b"geo" in meta:
        return gpd.read_parquet(p)
    return pd.read_parquet(p)


def as_frame(data, what: str) -> tuple[pd.DataFrame, Source]:
    """Accept a path or a (Geo)DataFrame and return it with its :class:`Source`."""
    if isinstance(data, pd.DataFrame):
        return data, Source(f"the {what} table")
    if isinstance(data, (str, os.PathLike)):
        frame = read_table(data)
        return frame, Source(str(data), csv=Path(data).suffix.lower() in TABLE_SUFFIXES)
    raise InputError(
        f"The {what} must be a file path or a (Geo)DataFrame, not {type(data).__name__}."
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


def write_table(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``frame`` to CSV, Parquet or a vector format chosen by suffix, atomically."""
    target = Path(path)
    suffix = target.suffix.lower()
    with atomic_path(target) as tmp:
        if suffix == ".csv":
            out = frame.drop(columns="geometry") if "geometry" in frame.columns else frame
            pd.DataFrame(out).to_csv(tmp, index=False)
        elif suffix in PARQUET_SUFFIXES:
            frame.to_parquet(tmp, index=False)
        elif suffix in VECTOR_SUFFIXES:
            gpd.GeoDataFrame(frame).to_file(tmp, engine="pyogrio")
        else:
            raise InputError(f"Cannot write {target}: unknown file type '{suffix}'.")
    return target
