"""What plugins register: segment axes, adjustments, KPI columns and map layers.

Each carries a unique ``name`` and, for axes and adjustments, declared parameters (:class:`Param`)
that the core validates before calling the plugin, so a bad parameter is reported naming the
axis or adjustment, the parameter and what it expects.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from territory.errors import PluginError, TerritoryError, ValidationError

REQUIRED = object()
KINDS = ("str", "int", "float", "bool", "path", "list[str]", "list[float]")
# pandas 3 copies on write: a shallow copy is then as private as a deep one, at no cost
_COPY_ON_WRITE = int(pd.__version__.split(".")[0]) >= 3
SLOW_SECONDS = 1.0  # plugin calls longer than this show a progress line (with progress on)


#: Callables ``observer(hook, plugin, phase)`` told about every hook call the core makes
#: (``phase`` "register": the registration hook ran; "use": what it registered was used).
#: For tooling such as the test suite's hook meta-test.
HOOK_CALL_OBSERVERS: list[Callable[[str, str, str], None]] = []


def notify_hook_call(hook: str, plugin: str, phase: str) -> None:
    for observer in HOOK_CALL_OBSERVERS:
        observer(hook, plugin, phase)


def private(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` a plugin may change freely without changing the run's table."""
    return frame.copy(deep=not _COPY_ON_WRITE)


@dataclass(frozen=True)
class Param:
    """A declared parameter.

    ``kind`` is one of ``str``, ``int``, ``float``, ``bool``, ``path`` (resolved from the plan
    file's folder), ``list[str]``, ``list[float]``; ``default`` is :data:`REQUIRED` when the
    user must give it; ``choices`` limits allowed values.
    """

    kind: str = "str"
    default: Any = None
    help: str = ""
    choices: tuple = ()

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Param kind must be one of {KINDS}, not {self.kind!r}")

    def describe(self) -> str:
        need = "required" if self.default is REQUIRED else f"default {self.default!r}"
        options = f"; one of {', '.join(map(str, self.choices))}" if self.choices else ""
        return f"{self.kind}, {need}{options}. {self.help}".strip()


@dataclass(frozen=True)
class AxisContext:
    """What an axis sees: accounts (``account_id``, attributes, measures), their assignments
    (``territory_id``, ``block_id``), the territories (``territory_id``, ``name``, ``parent``)
    and the plan's folder for relative paths."""

    accounts: pd.DataFrame
    assignments: pd.DataFrame
    territories: pd.DataFrame
    measures: tuple[str, ...] = ()

    def copy(self) -> AxisContext:
        """A context with private copies of the tables (each axis gets its own)."""
        return AxisContext(private(self.accounts), private(self.assignments),
                           private(self.territories), self.measures)  # fmt: skip


@dataclass(frozen=True)
class AdjustmentContext:
    """What an adjustment sees: the territories with their KPIs (``target`` included), the
    accounts with their assignments (``territory_id`` and location ``lon``/``lat``), and the
    accounts' measures."""

    territories: pd.DataFrame
    accounts: pd.DataFrame
    measures: tuple[str, ...] = ()

    def copy(self) -> AdjustmentContext:
        """A context with private copies of the tables (each adjustment gets its own)."""
        return AdjustmentContext(private(self.territories), private(self.accounts),
                                 self.measures)  # fmt: skip


@dataclass(frozen=True)
class SegmentAxis:
    """A way to label accounts: ``compute(context, **params) -> Series`` of string labels.

    ``whole_table`` says the labels of one account depend on the others (quantiles, Pareto
    tiers, fitted models): engines that split accounts into batches or partitions then run the
    axis once on the whole accounts table instead of per part.
    """

    name: str
    compute: Callable[..., pd.Series]
    params: Mapping[str, Param] = field(default_factory=dict)
    description: str = ""
    whole_table: bool = False


@dataclass(frozen=True)
class Adjustment:
    """A per-territory change: ``compute(context, **params) -> DataFrame`` (see hookspecs)."""

    name: str
    compute: Callable[..., pd.DataFrame]
    params: Mapping[str, Param] = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True)
class KpiColumn:
    """An extra KPI column.

    Give ``from_sums(sums) -> Series`` when the KPI follows from the additive sums (``accounts``
    and each measure, indexed by the grouping keys): it then works on every engine without
    reading account rows. Otherwise give ``compute(rows, keys) -> Series`` over the assigned
    account rows; engines that split the accounts collect the rows for it.
    """

    name: str
    compute: Callable[[pd.DataFrame, list[str]], pd.Series] | None = None
    description: str = ""
    from_sums: Callable[[pd.DataFrame], pd.Series] | None = None

    def __post_init__(self):
        if self.compute is None and self.from_sums is None:
            raise ValueError(f"KpiColumn '{self.name}' needs compute or from_sums")


@dataclass(frozen=True)
class MapLayer:
    """An extra map layer: ``build(result, fmap)`` adds it to the folium map."""

    name: str
    build: Callable[..., None]
    description: str = ""


def check_params(
    what: str,
    declared: Mapping[str, Param],
    given: Mapping[str, Any],
    base: Path | None = None,
    where: str | None = None,
) -> dict[str, Any]:
    """Validate ``given`` against ``declared`` and fill defaults.

    ``what`` names the owner in messages (e.g. ``"segment axis 'size_tier'"``), ``where`` the
    place it was asked for (e.g. ``"[[segments]] number 2 of plan.toml"``).
    """
    if where:
        what = f"{what} in {where}"
    unknown = set(given) - set(declared)
    if unknown:
        known = ", ".join(sorted(declared)) or "none"
        raise ValidationError(
            f"Unknown parameter(s) {', '.join(sorted(unknown))} for {what}. Known: {known}."
        )
    out = {}
    for key, param in declared.items():
        if key not in given:
            if param.default is REQUIRED:
                raise ValidationError(
                    f"Parameter '{key}' of {what} is required ({param.describe()})"
                )
            out[key] = param.default
            continue
        out[key] = _convert(what, key, param, given[key], base)
    return out


def _convert(what: str, key: str, param: Param, value: Any, base: Path | None) -> Any:
    def fail(expected: str):
        raise ValidationError(
            f"Parameter '{key}' of {what} must be {expected}, not {value!r}. {param.help}".strip()
        )

    if value is None:
        return None
    kind = param.kind
    if kind in ("str", "path"):
        if not isinstance(value, str):
            fail("text")
        if kind == "path" and not isinstance(value, Path):
            p = Path(value).expanduser()
            value = p if p.is_absolute() or base is None else base / p
    elif kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            fail("a whole number")
    elif kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail("a number")
        value = float(value)
    elif kind == "bool":
        if not isinstance(value, bool):
            fail("true or false")
    elif kind == "list[str]":
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            fail("a list of text values")
        value = list(value)
    elif kind == "list[float]":
        if not isinstance(value, (list, tuple)) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
        ):
            fail("a list of numbers")
        value = [float(v) for v in value]
    if param.choices and value not in param.choices:
        fail(f"one of {', '.join(map(str, param.choices))}")
    return value


@dataclass
class PluginLog:
    """What plugin code did during a run: seconds per ``(plugin, kind, name)`` and the warnings
    it raised, as notes (one each). Parts of a run (batches, partitions) add up with ``+``."""

    seconds: dict[tuple[str, str, str], float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    progress: bool = False

    def __add__(self, other: PluginLog) -> PluginLog:
        seconds = dict(self.seconds)
        for key, value in other.seconds.items():
            seconds[key] = seconds.get(key, 0.0) + value
        return PluginLog(seconds, list(dict.fromkeys([*self.notes, *other.notes])), self.progress)

    def timings(self) -> list[dict[str, Any]]:
        """Rows ``plugin, kind, name, seconds``, slowest first (for the run summary)."""
        rows = [{"plugin": p, "kind": k, "name": n, "seconds": round(s, 4)}
                for (p, k, n), s in self.seconds.items()]  # fmt: skip
        return sorted(rows, key=lambda r: -r["seconds"])

    def call(self, plugin: str, kind: str, name: str, hook: str, fn: Callable, *args, **kwargs):
        """``fn(*args, **kwargs)`` timed, its warnings kept as notes, its exceptions (other
        than a TerritoryError) turned into a :class:`PluginError` naming plugin and hook."""
        notify_hook_call(hook, plugin, "use")
        start, caught = time.perf_counter(), []
        try:
            with warnings.catch_warnings(record=True) as caught, self._slow(plugin, kind, name):
                warnings.simplefilter("always")
                return fn(*args, **kwargs)
        except TerritoryError:
            raise
        except Exception as exc:
            raise PluginError(
                f"Plugin '{plugin}' {kind} '{name}' (hook {hook}) raised {type(exc).__name__}: "
                f"{exc}"
            ) from exc
        finally:
            key = (plugin, kind, name)
            self.seconds[key] = self.seconds.get(key, 0.0) + time.perf_counter() - start
            for w in caught:
                note = f"Plugin '{plugin}' {kind} '{name}': {w.category.__name__}: {w.message}"
                if note not in self.notes:
                    self.notes.append(note)

    @contextlib.contextmanager
    def _slow(self, plugin: str, kind: str, name: str) -> Iterator[None]:
        """A progress line on stderr once the call takes longer than :data:`SLOW_SECONDS`."""
        if not self.progress:
            yield
            return
        import threading

        from rich.console import Console

        console = Console(stderr=True, highlight=False)
        text = f"Running {kind} '{name}' (plugin '{plugin}')"
        state: dict[str, Any] = {}

        def show():
            state["status"] = console.status(f"{text}...")
            state["status"].start()

        timer = threading.Timer(SLOW_SECONDS, show)
        start = time.perf_counter()
        timer.start()
        try:
            yield
        finally:
            timer.cancel()
            if "status" in state:
                state["status"].stop()
                console.print(f"{text}: {time.perf_counter() - start:.1f} s", markup=False)


def resolve(plugins: Any, hook: str, name: str, *, kind: str, plural: str,
            where: str | None = None) -> tuple[str, Any]:  # fmt: skip
    """``(plugin, object)`` registered as ``name`` through ``hook``; an unknown name is a
    :class:`ValidationError` listing the known names and the plugins that did not load."""
    registry = plugins.registry(hook).strict()
    if name not in registry:
        known = ", ".join(sorted(registry)) or "none"
        at = f" (asked for in {where})" if where else ""
        raise ValidationError(
            f"Unknown {kind} '{name}'{at}. Known {plural}: {known}.{plugins.not_loaded_hint()}"
        )
    return registry[name]


def check_request(plugins: Any, hook: str, name: str, given: Mapping[str, Any], *, kind: str,
                  plural: str, base: Path | None = None,
                  where: str | None = None) -> None:  # fmt: skip
    """Check a requested axis or adjustment and its parameters before any data is read."""
    _, obj = resolve(plugins, hook, name, kind=kind, plural=plural, where=where)
    check_params(f"{kind} '{name}'", obj.params, given, base, where)


def invoke(plugins: Any, hook: str, name: str, given: Mapping[str, Any], context: Any, *,
           kind: str, plural: str, base: Path | None = None, log: PluginLog | None = None,
           where: str | None = None) -> tuple[str, Any]:  # fmt: skip
    """Call the registered ``kind`` named ``name`` with checked parameters.

    Returns ``(plugin name, result)``. Unknown names and bad parameters raise
    ``ValidationError``; anything a plugin raises other than a ``TerritoryError`` becomes a
    ``PluginError`` naming the plugin and ``hook``. ``context`` must be a private copy.
    """
    plugin, obj = resolve(plugins, hook, name, kind=kind, plural=plural, where=where)
    params = check_params(f"{kind} '{name}'", obj.params, given, base, where)
    log = log if log is not None else PluginLog()
    return plugin, log.call(plugin, kind, name, hook, obj.compute, context, **params)
