"""listmonk: adds and field updates through the subscriber import, removals, unsubscribes and
re-subscribes through ``PUT /api/subscribers/lists``, bounces and complaints through the bounce
webhook, current state through ``GET /api/subscribers`` (``specs/vendors/listmonk.md``)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler.config.schema import ExportConfig, ListConfig, ProviderConfig
from reconciler.errors import ProviderError
from reconciler.exports.files import CsvExportSnapshot, open_export
from reconciler.exports.snapshot import CurrentSnapshot
from reconciler.model import Action, VendorType
from reconciler.private import open_private, private_dir
from reconciler.providers.base import Batch, BatchFormat, JobRef, JobState, JobStatus, Provider
from reconciler.providers.capabilities import CAPABILITIES
from reconciler.providers.http import VendorHttp, field, mapping, whole_number
from reconciler.providers.ongage import VendorSnapshot

IMPORT_PATH = "/api/import/subscribers"
SYNC = "sync:"
DEFAULT_BATCH = 50_000


class ListmonkProvider(Provider):
    vendor = VendorType.LISTMONK
    capabilities = CAPABILITIES[VendorType.LISTMONK]
    can_read_current = True

    def __init__(
        self, name: str, config: ProviderConfig, *, base_url: str | None = None, workdir: Path
    ) -> None:
        super().__init__(name, config, base_url=base_url, workdir=workdir)
        self.batch_size = self.int_option("batch_size", DEFAULT_BATCH, low=1, high=5_000_000)
        status = config.options.get("subscription_status", "confirmed")
        if status not in ("confirmed", "unconfirmed"):
            raise ProviderError(
                "option subscription_status must be confirmed or unconfirmed", vendor="listmonk"
            )
        self.subscription_status = str(status)
        creds = config.credentials
        user = creds.username.get_secret_value() if creds.username else ""
        secret = creds.password or creds.api_key
        token = secret.get_secret_value() if secret else ""
        self.http = VendorHttp(
            "listmonk", self.base_url, auth=(user, token), policy=self.http_policy
        )

    def close(self) -> None:
        self.http.close()

    def batch_format(self, list_config: ListConfig, action: Action) -> BatchFormat:
        return BatchFormat(
            field_columns={n: n for n in list_config.managed_fields}, max_rows=self.batch_size
        )

    # -- writing ------------------------------------------------------------------------------
    def submit(self, list_config: ListConfig, batch: Batch) -> JobRef:
        rows = _read_batch(batch.path)
        list_id = _list_id(list_config)
        if batch.action in (Action.ADD, Action.UPDATE):
            return self._import(list_config, batch, rows, list_id)
        if batch.action in (Action.BOUNCE, Action.COMPLAINT):
            kind = "hard" if batch.action is Action.BOUNCE else "complaint"
            for row in rows:
                self.http.request(
                    "POST",
                    "/webhooks/bounce",
                    idempotent=True,
                    json={
                        "email": row["email"],
                        "type": kind,
                        "source": "reconciler",
                        "meta": "{}",
                    },
                )
            return JobRef(
                f"{SYNC}{batch.action.value}:{batch.sha256[:12]}", {"done": len(rows), "missing": 0}
            )
        ids = self._subscriber_ids(list_id)
        found = [ids[r["email"]] for r in rows if r["email"] in ids]
        body: dict[str, Any] = {
            "ids": found,
            "target_list_ids": [list_id],
            "action": {
                Action.REMOVE: "remove",
                Action.UNSUBSCRIBE: "unsubscribe",
                Action.RESUBSCRIBE: "add",
            }[batch.action],
        }
        if batch.action is Action.RESUBSCRIBE:
            body["status"] = self.subscription_status
        if found:
            self.http.request("PUT", "/api/subscribers/lists", json=body)
        return JobRef(
            f"{SYNC}{batch.action.value}:{batch.sha256[:12]}",
            {"done": len(found), "missing": len(rows) - len(found)},
        )

    def _import(
        self, list_config: ListConfig, batch: Batch, rows: list[dict[str, str]], list_id: int
    ) -> JobRef:
        running = self._import_status()
        if running.get("status") in ("importing", "stopping"):
            raise ProviderError(
                f"an import is already running at listmonk "
                f"({running.get('name')!r}): wait for it or stop it",
                vendor="listmonk",
                endpoint=f"GET {IMPORT_PATH}",
            )
        name = f"{batch.path.stem}-{batch.sha256[:12]}.csv"
        params = {
            "mode": "subscribe",
            "delim": ",",
            "lists": [list_id],
            "subscription_status": self.subscription_status,
            # overwrite changes name and attributes only, never a subscription status.
            "overwrite": batch.action is Action.UPDATE,
        }
        files = {"file": (name, _listmonk_csv(rows, list_config.managed_fields), "text/csv")}
        self.http.request(
            "POST", IMPORT_PATH, idempotent=False, data={"params": json.dumps(params)}, files=files
        )
        started = datetime.now(UTC).replace(microsecond=0).isoformat()
        # listmonk has no import ID: the run is identified by its file name and start time.
        return JobRef(f"import:{name}", {"name": name, "started": started, "rows": len(rows)})

    def _import_status(self) -> dict[str, Any]:
        endpoint = f"GET {IMPORT_PATH}"
        data = self.http.json("GET", IMPORT_PATH)
        status = field(data, "data", vendor="listmonk", endpoint=endpoint)
        if status is None:  # listmonk always describes the import, "none" when there is none
            raise ProviderError("response has no 'data'", vendor="listmonk", endpoint=endpoint)
        return mapping(status, "data", vendor="listmonk", endpoint=endpoint)

    def poll(self, list_config: ListConfig, job: JobRef) -> JobStatus:
        if job.vendor_job_id.startswith(SYNC):
            counts = {
                "done": int(job.detail.get("done", 0)),
                "not_found": int(job.detail.get("missing", 0)),
            }
            return JobStatus(JobState.SUCCEEDED, "done", counts)
        status = self._import_status()
        counts = {
            key: whole_number(
                status.get(key), f"data.{key}", vendor="listmonk", endpoint=f"GET {IMPORT_PATH}"
            )
            for key in ("total", "imported")
        }
        word = str(status.get("status") or "none")
        if status.get("name") != job.detail.get("name"):
            return JobStatus(
                JobState.FAILED,
                word,
                counts,
                f"listmonk reports another import ({status.get('name')!r}); "
                "this one's outcome is unknown",
            )
        if word in ("importing", "stopping"):
            return JobStatus(JobState.PENDING, word, counts)
        if word == "finished":
            return JobStatus(JobState.SUCCEEDED, word, counts)
        if word != "failed":
            raise ProviderError(
                f"unknown import status {word!r}; the job stays in the ledger: `reconciler "
                "refresh` follows it later",
                vendor="listmonk",
                endpoint=f"GET {IMPORT_PATH}",
            )
        answer = self.http.json("GET", f"{IMPORT_PATH}/logs")
        logs = str((answer.get("data") if isinstance(answer, dict) else None) or "").strip()
        last_line = logs.splitlines()[-1] if logs else ""
        return JobStatus(JobState.FAILED, word, counts, last_line or f"import {word}")

    def find_submitted(self, list_config: ListConfig, batch: Batch) -> JobRef | None:
        """listmonk runs one import at a time and names it by its file: a match on the name
        is this batch (for list-subscription actions, which are synchronous, None)."""
        if batch.action not in (Action.ADD, Action.UPDATE):
            return None
        name = f"{batch.path.stem}-{batch.sha256[:12]}.csv"
        status = self._import_status()
        if status.get("name") == name:
            return JobRef(f"import:{name}", {"name": name, "rows": batch.rows})
        return None

    # -- reading ------------------------------------------------------------------------------
    def _subscribers(self, list_id: int) -> list[dict[str, Any]]:
        return self._listing(list_id)[0]

    def _listing(self, list_id: int) -> tuple[list[dict[str, Any]], int | None]:
        """The list's subscribers, and listmonk's ``total``: its own count of them, which the
        safety guards compare with the rows received."""
        path = f"/api/subscribers?list_id={list_id}&per_page=all"
        data = self.http.json("GET", path)
        results = field(data, "data", "results", vendor="listmonk", endpoint=f"GET {path}")
        if not isinstance(results, list):
            raise ProviderError(
                "response has no list at 'data.results'", vendor="listmonk", endpoint=f"GET {path}"
            )
        total = data["data"].get("total")
        reported = total if isinstance(total, int) and not isinstance(total, bool) else None
        return [r for r in results if isinstance(r, dict)], reported

    def _subscriber_ids(self, list_id: int) -> dict[str, int]:
        endpoint = f"GET /api/subscribers?list_id={list_id}"
        ids = {}
        for sub in self._subscribers(list_id):
            email = field(sub, "email", vendor="listmonk", endpoint=endpoint)
            sub_id = field(sub, "id", vendor="listmonk", endpoint=endpoint)
            ids[str(email).lower()] = whole_number(
                sub_id, "a subscriber's id", vendor="listmonk", endpoint=endpoint
            )
        return ids

    def read_current(self, list_name: str, list_config: ListConfig) -> CurrentSnapshot:
        list_id = _list_id(list_config)
        target = self.workdir / "current" / f"{list_name}.csv"
        private_dir(target.parent)
        managed = list_config.managed_fields
        subscribers, total = self._listing(list_id)
        with open_private(target, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["email", "status", *managed])
            for sub in subscribers:
                status = (
                    "blocklisted"
                    if sub.get("status") == "blocklisted"
                    else next(
                        (
                            str(s.get("subscription_status"))
                            for s in _objects(sub.get("lists"))
                            if s.get("id") == list_id
                        ),
                        "unconfirmed",
                    )
                )
                attribs = sub.get("attribs")
                attribs = attribs if isinstance(attribs, dict) else {}
                values = [sub.get("name") if f == "name" else attribs.get(f) for f in managed]
                writer.writerow(
                    [sub.get("email"), status, *("" if v is None else str(v) for v in values)]
                )
        snapshot = open_export(ExportConfig(format="ongage", path=str(target)), Path, managed)
        assert isinstance(snapshot, CsvExportSnapshot)
        return VendorSnapshot(
            snapshot, f"listmonk GET /api/subscribers?list_id={list_id}", reported_total=total
        )


def _objects(value: Any) -> list[dict[str, Any]]:
    """The JSON objects of a list the vendor sent (anything else in it says nothing)."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _list_id(list_config: ListConfig) -> int:
    if not list_config.list_id.isdigit():
        raise ProviderError(
            f"list_id must be listmonk's numeric list ID, got {list_config.list_id!r}",
            vendor="listmonk",
        )
    return int(list_config.list_id)


def _read_batch(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _listmonk_csv(rows: list[dict[str, str]], managed: list[str]) -> bytes:
    """listmonk's import columns: email, name, attributes (a JSON object)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["email", "name", "attributes"])
    for row in rows:
        attributes = {f: row[f] for f in managed if f != "name" and row.get(f)}
        writer.writerow([row["email"], row.get("name", ""), json.dumps(attributes)])
    return buffer.getvalue().encode("utf-8")
