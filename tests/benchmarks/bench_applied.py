"""The applied membership at scale: journal, merge and read N members of a list whose vendor
cannot be read (``reconciler/state/applied.py``), or, with ``--keyed``, of a list whose vendor
can be read (keyed hashes: ``reconciler/state/keys.py``).

    python -m tests.benchmarks.bench_applied [--members 10000000] [--batch 100000] [--keyed]

Each phase runs in a process of its own, so its peak memory is its own; printed per phase:
wall seconds, CPU seconds, peak RSS, rows/s; and the size of the membership file. Phases:

- journal: every batch file journaled as apply does when its job succeeds (DuckDB, per batch);
- merge: the journals merged into the list's Parquet file (DuckDB), as at the end of an apply;
- re-merge: one more batch of updates merged into that file (a steady-state apply);
- read: the file opened as a plan's current state and counted, as a plan reads it; keyed:
  ``batch`` addresses looked up in it, as three-way drift and ownership do;
- baseline (keyed): the list's N declared members hashed from their CSV file into a journal,
  as apply does before it sends (``reconciler/engine/baseline.py``).
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


SALT = "ab" * 32


def _baseline(root: Path) -> None:
    from reconciler.config.loader import load_config
    from reconciler.engine.baseline import write_baseline
    from reconciler.sources.desired import collect_sources

    loaded = load_config(root / "reconciler.yaml")
    entry = collect_sources(loaded, [LIST]).lists[LIST]
    con = connect()
    try:
        write_baseline(con, entry, [], SALT, root / "baseline.parquet")
    finally:
        con.close()


def _lookup(blobs: LocalBlobs, ref: AppliedRef, root: Path, batch: int) -> None:
    from reconciler.state.membership import Form, Recorded, open_files

    files = open_files(blobs, LIST, ref, root / "read", Form.KEYED)
    assert files is not None
    emails = [
        f"{(i * 2654435761) % 2**40:010x}.{i % 9973}@example{i % 4}.com" for i in range(batch)
    ]
    con = connect()
    try:
        found = Recorded(files, SALT).lookup(con, emails)
    finally:
        con.close()
    assert len(found) == batch, len(found)


def _setup(root: Path, members: int, batch: int) -> None:
    """As apply writes them, and the list's member file: not what is measured."""
    (root / "batches").mkdir()
    for n, start in enumerate(range(0, members, batch)):
        write_batch(root / "batches" / f"{n:05d}.csv", start, min(members, start + batch))
    write_batch(root / "update.csv", 0, batch, tag="x")
    write_batch(root / "members.csv", 0, members)
    (root / "reconciler.yaml").write_text(
        "providers:\n  og: {type: ongage, base_url: sandbox}\nlists:\n"
        f"  {LIST}:\n    provider: og\n    list_id: '1'\n"
        "    managed_fields: [first_name, plan]\n    members: [{csv: members.csv}]\n"
    )


def phase(name: str, root: Path, members: int, batch: int, keyed: bool) -> dict[str, float]:
    blobs = LocalBlobs(root / "blobs")
    salt = SALT if keyed else None
    ref_file = root / "ref.json"
    started, cpu = time.perf_counter(), time.process_time()
    count = members
    if name == "batches":
        _setup(root, members, batch)
    elif name == "journal":
        for path in sorted((root / "batches").iterdir()):
            record_batch(
                blobs, LIST, path.stem, Action.ADD, path, FORMAT, (), root / "scratch", salt=salt
            )
    elif name == "baseline":
        _baseline(root)
    elif name in ("merge", "re-merge"):
        from reconciler.apply.recording import merge_applied
        from reconciler.state.model import ListState, State

        if name == "re-merge":
            update = root / "update.csv"
            record_batch(
                blobs,
                LIST,
                "update",
                Action.UPDATE,
                update,
                FORMAT,
                (),
                root / "scratch",
                salt=salt,
            )
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
    elif name == "read" and keyed:
        _lookup(blobs, AppliedRef.model_validate_json(ref_file.read_text()), root, batch)
        count = batch
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
    parser.add_argument("--keyed", action="store_true", help="a list whose vendor can be read")
    args = parser.parse_args()
    if args.phase:
        result = phase(args.phase, Path(args.root), args.members, args.batch, args.keyed)
        print(json.dumps(result))
        return
    form = "keyed" if args.keyed else "by address"
    print(f"applied membership ({form}), {args.members:,} members in batches of {args.batch:,}")
    print(f"{'phase':<10}{'wall s':>9}{'CPU s':>9}{'peak MiB':>10}{'rows/s':>13}{'file MiB':>10}")
    with tempfile.TemporaryDirectory() as root:
        phases = ["batches", "journal", "merge", "re-merge", "read"]
        for name in phases + (["baseline"] if args.keyed else []):
            done = subprocess.run(
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
                    *(["--keyed"] if args.keyed else []),
                ],
                capture_output=True,
                text=True,
            )
            if done.returncode:
                sys.exit(f"phase {name} failed:\n{done.stderr}")
            out = done.stdout
            r = json.loads(out)
            if name == "batches":
                continue
            print(
                f"{name:<10}{r['wall']:>9.2f}{r['cpu']:>9.2f}{r['rss']:>10.0f}"
                f"{r['rows_per_s']:>13,.0f}{r['file_mib']:>10.1f}"
            )


if __name__ == "__main__":
    main()
