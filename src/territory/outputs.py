"""Output sets: several files published together, checked before the work, verifiable after.

A command that writes several files (``run``, ``apply``, ``demo``, ``track``, ``design``,
``rebalance``, ``compare``, ``kpis -o``) writes them through an :class:`OutputSet`:

1. **Before the work**, :meth:`OutputSet.check` makes sure the folder can be created and
   written, that no output is a folder and that no output is the same file as an input
   (paths resolved, symlinks and hard links included).
2. Every file is written into a hidden staging folder ``.territory-tmp-<pid>-<token>`` inside
   the output folder (same file system, so moving is a rename). A write error (disk full,
   permission denied) removes the staging folder and leaves the previous outputs untouched.
3. The manifest (run id, inputs with size and SHA-256, each file with size and SHA-256, the
   files of the set it replaces) is written into the staging folder last: that is the commit
   point. Publishing then removes the previous manifest, renames each file into place in a
   fixed order, deletes files of the previous set that the new one no longer has, and renames
   the manifest into place last. Ctrl-C is held back while this runs.
4. Readers check a set with :func:`verify`: a manifest whose files all match means a whole
   set; no manifest means no set or an interrupted publish. A committed staging folder left by
   a killed process is finished (rolled forward) by the next command writing into the folder,
   or by ``territory check-outputs --repair``; staging folders and temporary files of dead
   processes that never committed are removed. Files the product did not write are never
   touched, so outputs may go into a folder that also holds inputs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import json
import math
import os
import re
import secrets
import shutil
import signal
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from territory.errors import OutputError

SCHEMA = "territory-outputs/1"
TEMP_PREFIX = ".territory-tmp-"
STAGED_MANIFEST = ".territory-manifest.json"
_TEMP_RE = re.compile(r"^\.territory-tmp-(\d+)-[0-9a-f]{8}(?:-.*)?$")
# Temporary files of earlier versions: ``.<name>.<8 mkstemp characters><suffix of name>``.
_LEGACY_RE = re.compile(r"^\.(?P<name>.+?(?P<suffix>\.[^.]+))\.[a-z0-9_]{8}(?P=suffix)$")
_ACTIVE: set[Path] = set()  # staging folders and temp files of this process still in use


def temp_name(name: str = "") -> str:
    """A temporary entry name of this process: ``.territory-tmp-<pid>-<token>[-name]``."""
    token = secrets.token_hex(4)
    return f"{TEMP_PREFIX}{os.getpid()}-{token}" + (f"-{name}" if name else "")


@contextlib.contextmanager
def active(path: Path) -> Iterator[Path]:
    """Mark ``path`` as in use by this process, so stale-file cleaning leaves it alone."""
    _ACTIVE.add(path)
    try:
        yield path
    finally:
        _ACTIVE.discard(path)


# --- JSON -----------------------------------------------------------------------------------


def json_ready(value: Any) -> Any:
    """``value`` with NaN/inf as None, numpy and pandas scalars as Python values."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_ready(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, (pd.Timestamp, dt.date, dt.datetime)):
        return None if pd.isna(value) else value.isoformat()
    if value is pd.NA or value is pd.NaT:
        return None
    return str(value)


def json_text(value: Any) -> str:
    """Strict JSON (no bare NaN): missing or infinite numbers become ``null``."""
    return json.dumps(json_ready(value), indent=2, allow_nan=False, ensure_ascii=False)


# --- errors ---------------------------------------------------------------------------------

_REASONS = {
    errno.ENOSPC: "the disk is full (no space left on device)",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "the operation is not permitted",
    errno.EROFS: "the file system is read-only",
}


def write_error(exc: OSError, where: Path | str, kept: str, whole: bool = True) -> OutputError:
    """One paragraph for an OS error while writing: what, where, what is left, the fix.

    ``whole`` says nothing was half-written (``kept`` says what is there instead).
    """
    reason = _REASONS.get(exc.errno, exc.strerror or str(exc))
    fix = (
        "Free some space"
        if exc.errno in (errno.ENOSPC, errno.EDQUOT)
        else "Check the folder's permissions"
    )
    return OutputError(
        f"Cannot write {where}: {reason}. "
        + ("Nothing was half-written: " if whole else "")
        + f"{kept}. {fix}, or write "
        "the outputs elsewhere (--out / -o), and run again."
    )


# --- checks before the work -----------------------------------------------------------------


def _same_file(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_folder(folder: Path) -> None:
    """The folder exists or can be created, and can be written to."""
    folder = Path(folder)
    probe = folder
    while not probe.exists():
        if probe.is_symlink():
            raise OutputError(f"Output folder {folder}: {probe} is a broken symbolic link.")
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        where = "is a file" if probe == folder else f"is inside {probe}, which is a file"
        raise OutputError(
            f"Output folder {folder} {where}, not a folder. Choose another output folder or "
            "move the file."
        )
    if not os.access(probe, os.W_OK | os.X_OK):
        what = "" if probe == folder else f" (it would be created in {probe})"
        raise OutputError(
            f"Output folder {folder} is not writable{what}: permission denied. Choose a folder "
            "you can write to."
        )


def check_targets(
    targets: Iterable[Path], inputs: Iterable[Any] = (), folders: Iterable[Path] = ()
) -> None:
    """Each output's folder is writable, no output is a folder or the same file as an input.

    ``inputs`` may hold paths and other values (DataFrames are ignored); ``folders`` are
    outputs that are folders themselves (a partitioned Parquet dataset).
    """
    folders = {Path(f) for f in folders}
    targets = [Path(t) for t in targets]
    input_paths = [_input_file(p) for p in inputs if isinstance(p, (str, os.PathLike))]
    seen: dict[Path, Path] = {}
    for target in targets:
        key = target.resolve()
        if key in seen:
            raise OutputError(
                f"Two outputs would be written to the same file {target}. Give them different "
                "names."
            )
        seen[key] = target
        if target.is_dir() and target not in folders:
            raise OutputError(
                f"Output {target} is a folder; the output is a file. Choose another name or "
                "move the folder."
            )
        for src in input_paths:
            if _same_file(target, src):
                raise OutputError(
                    f"Output {target} is the input file {src}: writing it would overwrite the "
                    "input. Choose another output name or folder."
                )
    for parent in {t.parent for t in targets}:
        check_folder(parent)


def _input_file(path: str | os.PathLike) -> Path:
    """The file an input path reads (``areas.gpkg#counties`` reads ``areas.gpkg``)."""
    from territory.io import split_layer

    return split_layer(path)[0]


def plan_inputs(plan) -> list[Any]:
    """Every file a plan reads (plan file, accounts, layers, tables, tracking data, axes)."""
    spec, terr = plan.accounts, plan.territories
    found = [plan.source, spec.source, spec.postal_table, terr.territories, terr.blocks,
             terr.alignment, plan.targets.table]  # fmt: skip
    if plan.tracking is not None:
        t = plan.tracking
        found += [t.orders, t.opportunities, t.weights, t.targets]
    for entry in (*plan.axes, *plan.adjustments):
        params = getattr(entry, "params", None) or {}
        base = plan.base or Path(".")
        for value in params.values():
            if isinstance(value, str) and Path(value).suffix and (base / value).exists():
                found.append(base / value)
    return [p for p in found if isinstance(p, (str, os.PathLike))]


# --- stale temporary entries ----------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale_entries(folder: Path) -> list[Path]:
    """Temporary entries in ``folder`` left by processes that are gone (product names only)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    out = []
    for entry in folder.iterdir():
        m = _TEMP_RE.match(entry.name)
        if m:
            mine = int(m.group(1)) == os.getpid()
            if (mine and entry not in _ACTIVE) or not _pid_alive(int(m.group(1))):
                out.append(entry)
        elif _LEGACY_RE.match(entry.name) and entry.is_file():
            out.append(entry)
    return sorted(out)


def clean_stale(folder: Path) -> list[str]:
    """Finish interrupted publishes and remove stale temporary entries; returns what was done."""
    done = []
    for entry in stale_entries(folder):
        staged = entry / STAGED_MANIFEST
        if entry.is_dir() and staged.is_file():
            manifest = json.loads(staged.read_text(encoding="utf-8"))
            _publish(Path(folder), entry, manifest)
            done.append(f"finished publishing {manifest['manifest']} (run {manifest['run_id']})")
        elif entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
            done.append(f"removed {entry.name}")
        else:
            entry.unlink(missing_ok=True)
            done.append(f"removed {entry.name}")
    return done


# --- the set --------------------------------------------------------------------------------


def _digest(path: Path) -> tuple[int, str]:
    """Size and SHA-256 of a file, or of a folder (sorted relative names and file digests)."""
    if path.is_dir():
        h, size = hashlib.sha256(), 0
        for p in sorted(q for q in path.rglob("*") if q.is_file()):
            s, d = _digest(p)
            size += s
            h.update(f"{p.relative_to(path).as_posix()}\0{d}\n".encode())
        return size, h.hexdigest()
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return path.stat().st_size, h.hexdigest()


def read_manifest(path: Path) -> dict | None:
    """The manifest at ``path``, or None when it is missing or not a territory manifest."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("schema") == SCHEMA else None


@contextlib.contextmanager
def _hold_sigint() -> Iterator[None]:
    """Delay Ctrl-C until the block is done (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending = []
    try:
        previous = signal.signal(signal.SIGINT, lambda *a: pending.append(a))
    except ValueError:  # not the main interpreter
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if pending:
            raise KeyboardInterrupt


def _publish(folder: Path, stage: Path, manifest: dict) -> None:
    """Move a committed staging folder's files into place, manifest last (idempotent)."""
    name = manifest["manifest"]
    with _hold_sigint():
        (folder / name).unlink(missing_ok=True)
        previous = set(manifest.get("previous_files", []))
        for i, entry in enumerate(manifest["files"]):
            src, dst = stage / entry["name"], folder / entry["name"]
            if not src.exists() and not src.is_symlink():
                continue  # moved before an interruption
            dst.parent.mkdir(parents=True, exist_ok=True)
            if dst.is_dir() and not dst.is_symlink():
                if entry["name"] not in previous:
                    raise OutputError(f"{dst} is a folder the previous outputs did not write.")
                dst.rename(stage / f".old-{i}")
            os.replace(src, dst)
        new = {e["name"] for e in manifest["files"]}
        for old in sorted(previous - new):
            path = folder / old
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            elif path.exists() or path.is_symlink():
                path.unlink()
        os.replace(stage / STAGED_MANIFEST, folder / name)
        shutil.rmtree(stage, ignore_errors=True)


class OutputSet:
    """Files published together into ``folder`` with a manifest ``manifest``.

    Use :meth:`check` before the work, then ``with out: out.add_table(...)``; the set is
    published when the block ends without error, and nothing changes otherwise.
    """

    def __init__(
        self,
        folder: str | os.PathLike,
        manifest: str = "manifest.json",
        *,
        command: str = "run",
        inputs: Iterable[Any] = (),
        plan: str | None = None,
    ):
        self.folder = Path(folder)
        self.manifest = manifest
        self.command = command
        self.inputs = [_input_file(p) for p in inputs if isinstance(p, (str, os.PathLike))]
        self.plan = plan
        self.names: list[str] = []
        self.stage: Path | None = None
        self.written: list[Path] = []

    def check(self, names: Iterable[str] = (), folders: Iterable[str] = ()) -> None:
        """Fail now (before any work) if these outputs cannot be written (``folders``: outputs
        that are folders themselves, a partitioned Parquet dataset)."""
        names, folders = list(names), list(folders)
        for name in (*names, *folders):
            self._check_name(name)
        targets = [self.folder / n for n in (*names, *folders, self.manifest)]
        check_targets(targets, self.inputs, folders=[self.folder / f for f in folders])
        check_folder(self.folder)

    def _check_name(self, name: str) -> None:
        p = Path(name)
        if p.is_absolute() or ".." in p.parts or not p.parts or name.startswith(TEMP_PREFIX):
            raise OutputError(
                f"Output name '{name}' must be a file name inside the output folder "
                f"{self.folder} (no absolute path, no '..')."
            )

    def __enter__(self) -> OutputSet:
        self.check()
        kept = "the previous outputs (if any) are unchanged"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            clean_stale(self.folder)
            stage = self.folder / temp_name()
            with _hold_sigint():
                stage.mkdir()
                _ACTIVE.add(stage)
                self.stage = stage
        except OSError as exc:
            raise write_error(exc, self.folder, kept) from exc
        except BaseException:  # Ctrl-C held back until the staging folder was recorded
            if self.stage is not None:
                _ACTIVE.discard(self.stage)
                shutil.rmtree(self.stage, ignore_errors=True)
            raise
        return self

    def path(self, name: str) -> Path:
        """Where to write output ``name`` (inside the staging folder)."""
        assert self.stage is not None, "use OutputSet as a context manager"
        self._check_name(name)
        if name in self.names or name == self.manifest:
            raise OutputError(f"Two outputs are named {name}; give them different names.")
        self.names.append(name)
        target = self.stage / name
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def add_table(self, name: str, frame: pd.DataFrame) -> None:
        from territory.io import write_table

        write_table(frame, self.path(name))

    def add_text(self, name: str, text: str) -> None:
        self.path(name).write_text(text, encoding="utf-8")

    def add_json(self, name: str, value: Any) -> None:
        self.add_text(name, json_text(value))

    def __exit__(self, kind, exc, tb) -> None:
        stage = self.stage
        try:
            if kind is None:
                self._commit()
        except OSError as err:
            if (stage / STAGED_MANIFEST).exists():
                # past the commit point: keep the stage so the set can be rolled forward
                kept = (
                    "the new set was interrupted while it was being published; run "
                    f"`territory check-outputs {self.folder} --repair` to finish it"
                )
                raise write_error(err, self.folder, kept, whole=False) from err
            shutil.rmtree(stage, ignore_errors=True)
            raise write_error(err, self.folder, "the previous outputs are unchanged") from err
        except BaseException:
            if stage.exists() and not (stage / STAGED_MANIFEST).exists():
                shutil.rmtree(stage, ignore_errors=True)
            raise
        finally:
            _ACTIVE.discard(stage)
        if kind is not None:
            shutil.rmtree(stage, ignore_errors=True)
            if issubclass(kind, OSError):
                where = getattr(exc, "filename", None) or self.folder
                raise write_error(exc, where, "the previous outputs are unchanged") from exc

    def _commit(self) -> None:
        stage = self.stage
        old = read_manifest(self.folder / self.manifest)
        previous = {f["name"] for f in old["files"]} if old else set()
        dirs = [n for n in self.names if (stage / n).is_dir()]
        for name in dirs:
            if (self.folder / name).is_dir() and name not in previous:
                raise OutputError(
                    f"{self.folder / name} is a folder the previous outputs did not write; "
                    "move it or write the outputs elsewhere."
                )
        targets = [self.folder / n for n in self.names]
        check_targets(targets, self.inputs, folders=[self.folder / n for n in dirs])
        files = []
        for name in self.names:
            size, sha = _digest(stage / name)
            files.append({"name": name, "size": size, "sha256": sha})
        inputs = []
        for p in dict.fromkeys(self.inputs):
            if p.is_file():
                size, sha = _digest(p)
                inputs.append({"path": str(p.resolve()), "size": size, "sha256": sha})
        from territory import __version__

        manifest = {
            "schema": SCHEMA,
            "manifest": self.manifest,
            "command": self.command,
            "run_id": uuid.uuid4().hex,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "territory_version": __version__,
            "plan": self.plan,
            "inputs": inputs,
            "files": files,
            "previous_files": sorted(previous),
        }
        tmp = stage / (STAGED_MANIFEST + ".part")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(json_text(manifest))
            f.flush()
            os.fsync(f.fileno())
        with _hold_sigint():  # from the commit point on, the publish runs to its end
            os.replace(tmp, stage / STAGED_MANIFEST)
            _publish(self.folder, stage, manifest)
        self.written = [self.folder / n for n in self.names]


# --- checking a folder ----------------------------------------------------------------------


@dataclass
class SetReport:
    """One manifest in a folder and what :func:`verify` found about it."""

    manifest: str
    command: str | None = None
    run_id: str | None = None
    created: str | None = None
    files: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class FolderReport:
    """What :func:`verify` found in an output folder."""

    folder: Path
    sets: list[SetReport] = field(default_factory=list)
    interrupted: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.sets) and not self.interrupted and not self.leftovers


def verify(folder: str | os.PathLike, manifest: str | None = None) -> FolderReport:
    """Check the output sets in ``folder`` (or only ``manifest``) against their manifests.

    A set is whole when each listed file exists with the recorded size and SHA-256.
    ``interrupted`` lists publishes a killed process left half done (finished by the next run
    or :func:`repair`), ``leftovers`` stale temporary entries.
    """
    folder = Path(folder)
    report = FolderReport(folder)
    if not folder.is_dir():
        raise OutputError(f"{folder} is not a folder.")
    names = [manifest] if manifest else sorted(
        p.name for p in folder.iterdir() if p.name.endswith("manifest.json") and p.is_file()
    )  # fmt: skip
    for name in names:
        data = read_manifest(folder / name)
        if data is None:
            if manifest:
                report.sets.append(SetReport(name, problems=[f"{name} is missing or unreadable"]))
            continue
        s = SetReport(name, data.get("command"), data.get("run_id"), data.get("created"))
        for entry in data.get("files", []):
            path = folder / entry["name"]
            s.files.append(entry["name"])
            if not path.exists():
                s.problems.append(f"{entry['name']} is missing")
                continue
            size, sha = _digest(path)
            if (size, sha) != (entry["size"], entry["sha256"]):
                s.problems.append(f"{entry['name']} differs from the manifest")
        report.sets.append(s)
    for entry in stale_entries(folder):
        staged = entry / STAGED_MANIFEST
        if entry.is_dir() and staged.is_file():
            data = read_manifest(staged) or {}
            report.interrupted.append(
                f"{data.get('manifest', '?')} (run {data.get('run_id', '?')}) was being "
                f"published when it stopped ({entry.name})"
            )
        else:
            report.leftovers.append(entry.name)
    return report


def repair(folder: str | os.PathLike) -> list[str]:
    """Finish interrupted publishes and remove stale temporary entries in ``folder``."""
    return clean_stale(Path(folder))
