"""Read a database table through the local engine's batches; print the peak memory.

Run as ``python -m tests.db_stream URL TABLE BATCH_ROWS`` (the password comes from the
environment): prints one JSON line with the rows read, the measure total, the resident memory
after the imports and the peak resident memory of the process (kB, ``VmHWM`` of
``/proc/self/status``: unlike ``ru_maxrss`` it starts afresh at ``exec``, so a large parent,
such as the test process, does not hide the figure).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def main(url: str, table: str, batch_rows: int) -> None:
    from territory.db.source import DatabaseSource
    from territory.engines.local import database_batches
    from territory.validate import prepare_accounts

    src = DatabaseSource(url, table=table)
    before = status_kb("VmRSS")
    total, frames = database_batches(src, batch_rows)
    rows, revenue, batches = 0, 0.0, 0
    for frame, source in frames:
        accounts = prepare_accounts(frame, source=source)  # checked like every batch
        rows += len(accounts)
        revenue += float(accounts.frame["revenue"].sum())
        batches += 1
        del frame, accounts
    peak = status_kb("VmHWM")
    print(json.dumps({"total": total, "rows": rows, "revenue": revenue, "batches": batches,
                      "before_kb": before, "peak_kb": peak}))  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
