"""Read a database table through the local engine's batches; print the peak memory.

Run as ``python -m tests.db_stream URL TABLE BATCH_ROWS`` (the password comes from the
environment): prints one JSON line with the rows read, the measure total, the resident memory
after the imports and the peak resident memory (kB, ``ru_maxrss``) of the whole process.
"""

from __future__ import annotations

import json
import resource
import sys


def main(url: str, table: str, batch_rows: int) -> None:
    from territory.db.source import DatabaseSource
    from territory.engines.local import database_batches
    from territory.validate import prepare_accounts

    src = DatabaseSource(url, table=table)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    total, frames = database_batches(src, batch_rows)
    rows, revenue, batches = 0, 0.0, 0
    for frame, source in frames:
        accounts = prepare_accounts(frame, source=source)  # checked like every batch
        rows += len(accounts)
        revenue += float(accounts.frame["revenue"].sum())
        batches += 1
        del frame, accounts
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"total": total, "rows": rows, "revenue": revenue, "batches": batches,
                      "before_kb": before, "peak_kb": peak}))  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
