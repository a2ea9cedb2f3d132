"""The applied membership at scale: journal, merge and read N members of a list whose vendor
cannot be read (``reconciler/state/applied.py``).

    python -m tests.benchmarks.bench_applied [--members 10000000] [--batch 100000]

Each phase runs in a process of its own, so its peak memory is its own; printed per phase:
wall seconds, CPU seconds, peak RSS, rows/s; and the size of the membership file. Phases:

- journal: every batch file journaled as apply does when its job succeeds (DuckDB, per batch);
- merge: the journals merged into the list's Parquet file (DuckDB), as at the end of an apply;
- re-merge: one more batch of updates merged into that file (a steady-state apply);
- read: the file opened as a plan's current state and counted, as a plan reads it.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reconciler.engine.duck import connect
from reconciler.model import Action
from reconciler.providers.base import BatchFormat
from reconciler.state.applied import record_batch
from reconciler.state.blobs import LocalBlobs
from reconciler.state.membership import open_applied
from reconciler.state.model import AppliedRef

LIST = "big"
FIELDS = ["first_name", "plan"]


def write_batch(path: Path, start: int, stop: int, tag: str = "") -> None:
    """A batch file as apply writes one for Yesmail (email, then the managed fields)."""
    with path.open("w", encoding="utf-8") as fh:
        fh.write("email,first_name,plan\n")
        for i in range(start, stop):
            # Local parts that do not repeat a pattern (a file of them compresses as real ones do).
            local = f"{(i * 2654435761) % 2**40:010x}.{i % 9973}"
            fh.write(f"{local}@example{i % 4}.com,Name{i % 997}{tag},p\n")


FORMAT = BatchFormat(field_columns={"first_name": "first_name", "plan": "plan"})


def phase(name: str, root: Path, members: int, batch: int) -> dict[str, float]:
    blobs = LocalBlobs(root / "blobs")
    ref_file = root / "ref.json"
    started, cpu = time.perf_counter(), time.process_time()
    count = members
    if name == "batches":  # setup, as apply writes them: not what is measured
        (root / "batches").mkdir()
        for n, start in enumerate(range(0, members, batch)):
            write_batch(root / "batches" / f"{n:05d}.csv", start, min(members, start + batch))
        write_batch(root / "update.csv", 0, batch, tag="x")
    elif name == "journal":
        for path in sorted((root / "batches").iterdir()):
            record_batch(blobs, LIST, path.stem, Action.ADD, path, FORMAT, (), root / "scratch")
    elif name in ("merge", "re-merge"):
        from reconciler.apply.recording import merge_applied
        from reconciler.state.model import ListState, State

        if name == "re-merge":
            update = root / "update.csv"
            record_batch(blobs, LIST, "update", Action.UPDATE, update, FORMAT, (), root / "scratch")
            count = batch
        state = State()
        previous = (
            AppliedRef.model_validate_json(ref_file.read_text()) if ref_file.exists() else None
        )
        state.lists[LIST] = ListState(
            provider="p", vendor="yesmail", vendor_list_id="l", applied=previous
        )
        for journal in merge_applied(state, blobs, root / "scratch"):
            blobs.delete(journal)
        ref = state.lists[LIST].applied
        assert ref is not None
        ref_file.write_text(ref.model_dump_json())
    elif name == "read":
        ref = AppliedRef.model_validate_json(ref_file.read_text())
        snapshot = open_applied(blobs, LIST, ref, FIELDS, root / "read", vendor="yesmail")
        assert snapshot is not None
        con = connect()
        snapshot.prepare(con)
        # Every column a plan reads: the address, the status and each field.
        got, named = con.execute(
            f"SELECT count(*), count(DISTINCT email) + count(status) + count(f0) + count(f1) "
            f"FROM {snapshot.sql()}"
        ).fetchone()
        assert got == members and named == 4 * members, (got, named)
    wall = time.perf_counter() - started
    size = 0.0
    if ref_file.exists():
        ref = AppliedRef.model_validate_json(ref_file.read_text())
        size = (blobs.root / ref.file).stat().st_size / 2**20
    return {
        "wall": wall,
        "cpu": time.process_time() - cpu,
        "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rows_per_s": count / wall,
        "file_mib": size,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=10_000_000)
    parser.add_argument("--batch", type=int, default=100_000)
    parser.add_argument("--phase")
    parser.add_argument("--root")
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args.phase, Path(args.root), args.members, args.batch)))
        return
    print(f"applied membership, {args.members:,} members in batches of {args.batch:,}")
    print(f"{'phase':<10}{'wall s':>9}{'CPU s':>9}{'peak MiB':>10}{'rows/s':>13}{'file MiB':>10}")
    with tempfile.TemporaryDirectory() as root:
        for name in ("batches", "journal", "merge", "re-merge", "read"):
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "tests.benchmarks.bench_applied",
                    "--phase",
                    name,
                    "--root",
                    root,
                    "--members",
                    str(args.members),
                    "--batch",
                    str(args.batch),
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            r = json.loads(out)
            if name == "batches":
                continue
            print(
                f"{name:<10}{r['wall']:>9.2f}{r['cpu']:>9.2f}{r['rss']:>10.0f}"
                f"{r['rows_per_s']:>13,.0f}{r['file_mib']:>10.1f}"
            )


if __name__ == "__main__":
    main()
