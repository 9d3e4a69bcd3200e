"""What plugins register: segment axes, adjustments, KPI columns and map layers.

Each carries a unique ``name`` and, for axes and adjustments, declared parameters (:class:`Param`)
that the core validates before calling the plugin, so a bad parameter is reported naming the
axis or adjustment, the parameter and what it expects.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from territory.errors import ValidationError

REQUIRED = object()
KINDS = ("str", "int", "float", "bool", "path", "list[str]", "list[float]")


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


@dataclass(frozen=True)
class AdjustmentContext:
    """What an adjustment sees: the territories with their KPIs (``target`` included), the
    accounts with their assignments (``territory_id`` and location ``lon``/``lat``), and the
    accounts' measures."""

    territories: pd.DataFrame
    accounts: pd.DataFrame
    measures: tuple[str, ...] = ()


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
    what: str, declared: Mapping[str, Param], given: Mapping[str, Any], base: Path | None = None
) -> dict[str, Any]:
    """Validate ``given`` against ``declared`` and fill defaults.

    ``what`` names the owner in messages (e.g. ``"segment axis 'size_tier'"``).
    """
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


def invoke(registry: Mapping, name: str, given: Mapping[str, Any], context: Any, *, kind: str,
           plural: str, hook: str, base: Path | None = None) -> tuple[str, Any]:  # fmt: skip
    """Call the registered ``kind`` named ``name`` with checked parameters.

    Returns ``(plugin name, result)``. Unknown names and bad parameters raise
    ``ValidationError``; anything a plugin raises other than a ``TerritoryError`` becomes a
    ``PluginError`` naming the plugin and ``hook``.
    """
    from territory.errors import PluginError, TerritoryError

    if name not in registry:
        known = ", ".join(sorted(registry)) or "none"
        raise ValidationError(f"Unknown {kind} '{name}'. Known {plural}: {known}.")
    plugin, obj = registry[name]
    params = check_params(f"{kind} '{name}'", obj.params, given, base)
    try:
        return plugin, obj.compute(context, **params)
    except TerritoryError:
        raise
    except Exception as exc:
        raise PluginError(
            f"Plugin '{plugin}' {kind} '{name}' (hook {hook}) raised {type(exc).__name__}: {exc}"
        ) from exc
