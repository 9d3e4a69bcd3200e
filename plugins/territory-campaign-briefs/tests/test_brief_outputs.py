"""``territory briefs`` writes its two files as one output set (like the core's commands)."""

from __future__ import annotations

import errno

import pandas as pd
import pytest
from territory_campaign_briefs import write_briefs

from territory import outputs
from territory.errors import OutputError


def table(n: int) -> pd.DataFrame:
    return pd.DataFrame({"territory_id": [f"T{k}" for k in range(n)], "message": ["m"] * n})


def test_a_failed_write_keeps_the_previous_pair_and_a_good_one_replaces_both(tmp_path, monkeypatch):
    folder = tmp_path / "briefs"
    write_briefs(table(2), folder, "First")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert set(before) == {"briefs.csv", "briefs.html", "briefs-manifest.json"}

    real = outputs.OutputSet.add_text

    def disk_full(self, name, text):
        if name == "briefs.html":  # the CSV is already staged
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, name, text)

    monkeypatch.setattr(outputs.OutputSet, "add_text", disk_full)
    with pytest.raises(OutputError):
        write_briefs(table(3), folder, "Second")
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    monkeypatch.undo()

    write_briefs(table(3), folder, "Third")
    assert len(pd.read_csv(folder / "briefs.csv")) == 3
    assert "Third" in (folder / "briefs.html").read_text()
    assert outputs.verify(folder).ok


def test_the_output_may_not_be_an_input(tmp_path):
    folder = tmp_path / "briefs"
    folder.mkdir()
    (folder / "briefs.csv").write_text("territory_id\nT1\n")
    with pytest.raises(OutputError, match="input"):
        write_briefs(table(1), folder, "x", inputs=[folder / "briefs.csv"])
    assert (folder / "briefs.csv").read_text() == "territory_id\nT1\n"
