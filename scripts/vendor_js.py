"""Vendor the browser libraries the offline maps inline, from the npm registry.

    python scripts/vendor_js.py

Writes ``src/territory/maps/vendor/<package>/`` with the minified JS/CSS, the package licence,
and a VERSION file. Images referenced by the CSS are inlined as data URIs so a saved map needs
no other file. Requires ``npm`` (only to refresh the vendored copy; users never need it).
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

VENDOR = Path(__file__).resolve().parents[1] / "src" / "territory" / "maps" / "vendor"
PACKAGES = {
    # npm package@version: files to keep (relative to the package root)
    "leaflet@1.9.4": ["dist/leaflet.js", "dist/leaflet.css", "LICENSE"],
    # the map's PNG button (DOM to image, offline); MIT
    "html-to-image@1.11.13": ["dist/html-to-image.js", "LICENSE"],
}


def inline_images(css: str, root: Path) -> str:
    def repl(match: re.Match) -> str:
        image = root / match.group(1)
        if not image.exists():
            return match.group(0)
        kind = "svg+xml" if image.suffix == ".svg" else image.suffix.lstrip(".")
        data = base64.b64encode(image.read_bytes()).decode()
        return f"url(data:image/{kind};base64,{data})"

    return re.sub(r"url\((images/[^)]+)\)", repl, css)


def vendor(spec: str, keep: list[str]) -> None:
    name = spec.rsplit("@", 1)[0]
    with tempfile.TemporaryDirectory() as tmp:
        out = (
            subprocess.run(
                ["npm", "pack", spec, "--silent"],
                cwd=tmp,
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        with tarfile.open(Path(tmp) / out) as tar:
            tar.extractall(tmp, filter="data")
        root = Path(tmp) / "package"
        dest = VENDOR / name
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        for rel in keep:
            src = root / rel
            text = src.read_text(encoding="utf-8")
            if src.suffix == ".css":
                text = inline_images(text, src.parent)
            (dest / src.name).write_text(text, encoding="utf-8")
        (dest / "VERSION").write_text(spec + "\n")
    print(f"vendored {spec} -> {dest}")


if __name__ == "__main__":
    import sys

    wanted = sys.argv[1:]  # package names to refresh (default all)
    for spec, keep in PACKAGES.items():
        if not wanted or spec.rsplit("@", 1)[0] in wanted:
            vendor(spec, keep)
