"""Saved plans (``reconciler plan -out FILE``): write and read the plan artifact.

A zip archive (``specs/plan-artifact.md``): ``manifest.json`` holds the plan's canonical JSON
form with each list's rows in ``rows/NNNN.jsonl`` (the JSON Lines rows of
``specs/plan-json.md``), plus what apply checks before sending anything: the state's lineage
and serial, the plan and vendor-export checksums. Zip rather than a tarball: members are
written as they are produced (a tarball needs each member's size first), each carries a
CRC-32 that catches a damaged file, and ``unzip -p`` shows any part.

A saved plan is kept as a CI artifact: every known secret is masked in what it holds. A plan
whose rows held one (a vendor's value equal to a credential) is then no longer exactly the
plan it was made from; the manifest says so (``secrets_masked``), and ``apply`` refuses it
with that reason rather than send the masked rows.
"""

from __future__ import annotations

import gc
import io
import json
import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from reconciler import __version__
from reconciler.errors import PlanError
from reconciler.plan.checksum import plan_checksum
from reconciler.plan.jsonform import plan_from_dict, plan_to_dict, write_rows_to
from reconciler.plan.model import ListPlan, Plan
from reconciler.private import open_private, private_dir
from reconciler.redact import holds_secret, scrub_json

ARTIFACT = "reconciler-plan"
ARTIFACT_VERSION = 1
MANIFEST = "manifest.json"
#: Level 1 of deflate: on 1M plan rows about 10% bigger than the default level 6 (18.8 against
#: 17.0 MiB) and 1.5 s of CPU faster to write (specs/plan-artifact.md).
COMPRESS_LEVEL = 1


@dataclass(frozen=True, slots=True)
class StateRef:
    """The state a plan was made against; ``lineage`` is None when there was no state yet."""

    location: str
    lineage: str | None
    serial: int


@dataclass(frozen=True)
class SavedPlan:
    plan: Plan
    state: StateRef
    plan_checksum: str
    exports_checksum: str
    targets: tuple[str, ...] | None = None
    reconciler_version: str = __version__


def write_saved_plan(path: Path, saved: SavedPlan) -> None:
    """Write the artifact next to ``path`` and rename it into place, so that a crash never
    leaves a half-written plan under the name a later apply reads."""
    private_dir(path.parent)  # the plan's rows: addresses and field values, unmasked
    partial = path.with_name(f".{path.name}.partial")
    try:
        with (
            open_private(partial) as fh,
            zipfile.ZipFile(
                fh, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL
            ) as archive,
        ):
            manifest = _manifest(archive, saved)
            if holds_secret(_manifest_json(manifest)):
                manifest.setdefault("secrets_masked", []).append(MANIFEST)
            archive.writestr(MANIFEST, scrub_json(_manifest_json(manifest), _manifest_json))
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise PlanError(f"cannot write the saved plan {path}: {exc.strerror or exc}") from exc


def _manifest_json(manifest: Any) -> str:
    return json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"


def _manifest(archive: zipfile.ZipFile, saved: SavedPlan) -> dict[str, Any]:
    numbers = iter(range(1, len(saved.plan.lists) + 1))
    masked: list[str] = []

    def sink(list_plan: ListPlan) -> str:
        # Numbered, not named after the list: list names are not always safe member names.
        member = f"rows/{next(numbers):04d}.jsonl"
        raw = archive.open(member, "w", force_zip64=True)
        with io.TextIOWrapper(raw, encoding="utf-8", newline="\n") as fh:
            if write_rows_to(fh, list_plan.changes):
                masked.append(member)
        return member

    plan = plan_to_dict(saved.plan, rows_sink=sink)
    manifest = {
        "artifact": ARTIFACT,
        "artifact_version": ARTIFACT_VERSION,
        "reconciler_version": saved.reconciler_version,
        "plan_checksum": saved.plan_checksum,
        "exports_checksum": saved.exports_checksum,
        "state": {
            "location": saved.state.location,
            "lineage": saved.state.lineage,
            "serial": saved.state.serial,
        },
        "targets": list(saved.targets) if saved.targets is not None else None,
        "plan": plan,
    }
    if masked:
        manifest["secrets_masked"] = masked
    return manifest


def read_saved_plan(path: Path) -> SavedPlan:
    """Read and verify an artifact: its rows must still give the checksum it recorded."""
    # Millions of row objects that hold no cycles: the cyclic GC would scan them over and
    # over while they are made (it doubles the time of a 1M-row read), as in build_plan.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _read_saved_plan(path)
    finally:
        if gc_was_enabled:
            gc.enable()


def _read_saved_plan(path: Path) -> SavedPlan:
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = _read_manifest(archive, path)
            masked = bool(manifest.get("secrets_masked"))

            def open_rows(member: str) -> IO[str]:
                return io.TextIOWrapper(archive.open(member), encoding="utf-8")

            plan = plan_from_dict(manifest["plan"], open_rows=open_rows)
            state = manifest["state"]
            saved = SavedPlan(
                plan=plan,
                state=StateRef(state["location"], state["lineage"], int(state["serial"])),
                plan_checksum=manifest["plan_checksum"],
                exports_checksum=manifest["exports_checksum"],
                targets=tuple(manifest["targets"]) if manifest["targets"] is not None else None,
                reconciler_version=manifest["reconciler_version"],
            )
    except FileNotFoundError:
        raise PlanError(
            f"no saved plan at {path}: make one with `reconciler plan -out {path}`"
        ) from None
    except PlanError:
        raise
    except (OSError, zipfile.BadZipFile, zlib.error, KeyError, TypeError, ValueError) as exc:
        raise PlanError(
            f"{path} is not a readable reconciler saved plan ({type(exc).__name__}: {exc}); "
            "make a new one with `reconciler plan -out FILE`"
        ) from exc
    if plan_checksum(saved.plan) != saved.plan_checksum:
        if masked:
            raise PlanError(
                f"{path} cannot be applied: it held the value of a credential, masked when the "
                "plan was saved, so it is not the plan that was made. Nothing was sent; find "
                "the value (a vendor's field?) and make a new plan"
            )
        raise PlanError(
            f"{path} was changed after it was written: its rows no longer match the checksum "
            "it recorded. Nothing was sent; make a new one with `reconciler plan -out FILE`"
        )
    return saved


def _read_manifest(archive: zipfile.ZipFile, path: Path) -> dict[str, Any]:
    data = json.loads(archive.read(MANIFEST).decode("utf-8"))
    if not isinstance(data, dict) or data.get("artifact") != ARTIFACT:
        raise PlanError(f"{path} is not a reconciler saved plan (no {ARTIFACT!r} manifest)")
    version = data.get("artifact_version")
    if version != ARTIFACT_VERSION:
        raise PlanError(
            f"{path} is a saved plan of artifact_version {version!r}; this reconciler "
            f"{__version__} reads version {ARTIFACT_VERSION}: make the plan again with it"
        )
    return data


__all__ = ["SavedPlan", "StateRef", "read_saved_plan", "write_saved_plan"]
