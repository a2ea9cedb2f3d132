"""A version 3 state (applied membership by address only) is read as version 4 and written as
version 4, the version 3 file kept as the backup."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.state.local import LocalStateStore

V3 = {
    "format_version": 3,
    "lineage": "L",
    "serial": 4,
    "lists": {
        "vip": {
            "provider": "ym",
            "vendor": "yesmail",
            "vendor_list_id": "vip",
            "applied": {
                "file": "lists/vip-0123456789abcdef.parquet",
                "sha256": "ab" * 32,
                "rows": 2,
                "merged_at": "2026-12-01T00:00:00Z",
            },
        }
    },
}


def test_a_version_3_state_is_upgraded_and_its_file_kept(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps(V3))
    store = LocalStateStore(path)
    state = store.read()
    assert state is not None and state.format_version == 4
    applied = state.lists["vip"].applied
    assert applied is not None and applied.form == "email"  # what version 3 recorded
    state.lists["vip"].last_applied_at = applied.merged_at  # a change: the file is written
    with store.locked("test"):
        store.write(state)
    assert json.loads(path.read_text())["format_version"] == 4
    assert json.loads((tmp_path / "state.json.backup").read_text()) == V3
