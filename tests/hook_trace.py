"""A pytest plugin that records which territory hooks each test really exercises.

Load it with ``-p tests.hook_trace`` and ``HOOK_TRACE=<file.json>``: for every test it writes
the hooks of non-built-in plugins that the core called during the test and the fixtures it
requested, with the phase ("register": the registration hook ran; "use": what it registered
was used, e.g. an axis computed or a command invoked). :func:`exercised` runs it in a fresh
interpreter and returns the record; ``tests/test_hooks.py`` checks every hook with it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_sinks: list[set] = []
_fixture_calls: dict[str, set] = {}
_test_calls: dict[str, set] = {}


def _observe(hook: str, plugin: str, phase: str) -> None:
    if plugin.startswith("territory.default_plugins."):
        return
    for sink in _sinks:
        sink.add((hook, phase))


def pytest_configure(config):
    from territory.extensions import HOOK_CALL_OBSERVERS

    HOOK_CALL_OBSERVERS.append(_observe)


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    sink: set = set()
    _sinks.append(sink)
    try:
        yield
    finally:
        _sinks.remove(sink)
        _fixture_calls.setdefault(fixturedef.argname, set()).update(sink)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    sink: set = set()
    _sinks.append(sink)
    try:
        yield
    finally:
        _sinks.remove(sink)
        for name in getattr(item, "fixturenames", ()):
            sink |= _fixture_calls.get(name, set())
        _test_calls[item.nodeid] = sink


def pytest_sessionfinish(session):
    path = os.environ.get("HOOK_TRACE")
    if path:
        record = {k: sorted(f"{h}:{p}" for h, p in v) for k, v in _test_calls.items()}
        Path(path).write_text(json.dumps(record, indent=1))


def exercised(args: list[str], out: Path, cwd: Path = ROOT) -> dict[str, list[str]]:
    """Run pytest with ``args`` under the tracer; ``{test id: ["hook:phase", ...]}`` of the
    tests that passed or failed (a test that fails still counts: it is the test's own job)."""
    env = {**os.environ, "HOOK_TRACE": str(out)}
    import territory

    package_root = Path(territory.__file__).resolve().parents[1]  # the territory under test
    paths = [str(ROOT), str(package_root)] + [
        str(Path(p).resolve()) for p in env.get("PYTHONPATH", "").split(os.pathsep) if p
    ]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.hook_trace", "-p", "no:cacheprovider",
         *args],
        cwd=cwd, env=env, capture_output=True, text=True,
    )  # fmt: skip
    if not out.exists():
        raise AssertionError(f"the traced run wrote nothing:\n{run.stdout[-3000:]}{run.stderr}")
    return json.loads(out.read_text())
