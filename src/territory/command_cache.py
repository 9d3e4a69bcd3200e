"""The plugin commands ``territory --help`` lists, remembered between runs.

Listing plugin commands means importing every plugin (and with them pandas, geopandas ...),
which takes over a second. ``--help`` instead reads the names and one-line helps from a small
JSON file in the user's cache folder (``$XDG_CACHE_HOME/territory`` or ``~/.cache/territory``),
written the last time the plugins were loaded without a problem. The file is used only while
its key matches: the ``territory`` entry points (name, target, distribution and version), the
newest modification time of each plugin's source files (editable installs change without a new
version), ``TERRITORY_LOAD_PLUGINS`` and territory's own version. Anything else (no file, a
different key, an unreadable file, a plugin with a problem) loads the plugins as before.
"""

from __future__ import annotations

import importlib.util
import json
import os
from importlib import metadata
from pathlib import Path

from territory import __version__

GROUP = "territory"
SCHEMA = "territory-plugin-commands/1"


def cache_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "territory" / "plugin-commands.json"


def _newest_source(module: str) -> float | None:
    """Newest mtime of the plugin's top-level package (or module) files, found without import."""
    try:
        spec = importlib.util.find_spec(module.split(".")[0])
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    roots = list(spec.submodule_search_locations or [])
    if not roots and spec.origin:
        return Path(spec.origin).stat().st_mtime
    newest = 0.0
    for root in roots:
        for folder, _, files in os.walk(root):
            for name in files:
                if name.endswith((".py", ".json", ".toml")):
                    newest = max(newest, os.stat(os.path.join(folder, name)).st_mtime)
    return newest


def current_key() -> list:
    items = []
    for ep in sorted(metadata.entry_points(group=GROUP), key=lambda e: (e.name, e.value)):
        dist = ep.dist
        items.append([ep.name, ep.value, dist.metadata["name"] if dist else None,
                      dist.version if dist else None, _newest_source(ep.module)])  # fmt: skip
    return [__version__, os.environ.get("TERRITORY_LOAD_PLUGINS"), items]


def cached_commands() -> list[tuple[str, str]] | None:
    """``[(name, short help)]`` of the plugin commands, or None when the cache does not apply."""
    try:
        data = json.loads(cache_file().read_text(encoding="utf-8"))
        if data.get("schema") != SCHEMA or data.get("key") != current_key():
            return None
        return [(str(name), str(text)) for name, text in data["commands"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remember(commands: list[tuple[str, str]]) -> None:
    """Write the listing for the next ``--help`` (quietly skipped if the folder is not writable)."""
    write_quietly(cache_file(), {"schema": SCHEMA, "key": current_key(),
                                 "commands": sorted(commands)})  # fmt: skip


def write_quietly(path, payload: dict) -> None:
    """Write a cache file whole (a temporary file renamed); skipped if it cannot be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(payload), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass
