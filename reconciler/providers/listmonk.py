"""listmonk: adds, field updates, bounces and complaints through the subscriber import (the
vendor document, ``listmonk-import-api.txt``; bounces and complaints as ``mode: blocklist``),
removals, unsubscribes and re-subscribes through ``PUT /api/subscribers/lists``, current state
through ``GET /api/subscribers``; the bounce webhook only when the ``bounce_via: webhook``
option asks for it. ``specs/vendors/listmonk.md`` has a table of every request and what allows
it."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from reconciler.config.schema import ExportConfig, ListConfig, ProviderConfig
from reconciler.errors import ProviderError
from reconciler.exports.files import CsvExportSnapshot, ExportLayout, open_export
from reconciler.exports.snapshot import CurrentSnapshot
from reconciler.model import Action
from reconciler.private import open_private, private_dir
from reconciler.providers.base import (
    Batch,
    BatchFormat,
    JobRef,
    JobState,
    JobStatus,
    Lookup,
    Provider,
)
from reconciler.providers.http import VendorHttp, field, mapping, whole_number
from reconciler.providers.listmonk_import import (
    Present,
    Written,
    batch_emails,
    import_name,
    import_params,
    present_of,
    write_import_file,
)
from reconciler.providers.listmonk_read import current_rows, listing, subscriber_ids
from reconciler.providers.ongage import VendorSnapshot

IMPORT_PATH = "/api/import/subscribers"
BOUNCE_PATH = "/webhooks/bounce"
SYNC = "sync:"
DEFAULT_BATCH = 50_000
#: How long a batch waits for someone else's import to end before it fails (seconds).
DEFAULT_IMPORT_WAIT = 600.0
#: The longest single pause between two looks at a running import.
MAX_IMPORT_BACKOFF = 30.0
BOUNCE_VIA = ("import_blocklist", "webhook")
RUNNING = ("importing", "stopping")
#: listmonk's ``import.alreadyRunning`` message (v6.2.0 ``i18n/en.json`` line 260), answered
#: with a 400 by ``cmd/import.go`` lines 19-22.
ALREADY_RUNNING = "An import is already running"


class ListmonkProvider(Provider):
    vendor = "listmonk"
    default_base_url = "http://localhost:9000"
    # The subscriber import (adds; overwrite_userinfo for fields; mode blocklist for bounces and
    # complaints), PUT /api/subscribers/lists (remove, unsubscribe, resubscribe).
    capabilities = frozenset(Action)  # every action
    # A subscription's status on a list, and the subscriber's own (listmonk v6.2.0 models).
    status_words: ClassVar[Mapping[str, str]] = {
        "confirmed": "active",
        "unconfirmed": "active",
        "enabled": "active",
        "unsubscribed": "unsubscribed",
        "blocklisted": "unsubscribed",
        "disabled": "unsubscribed",
    }
    export_formats: ClassVar[Mapping[str, ExportLayout]] = {
        "listmonk-csv": ExportLayout.CSV_ATTRIBUTES,
        "listmonk-json": ExportLayout.LISTING_JSON,
    }
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
        bounce_via = config.options.get("bounce_via", "import_blocklist")
        if bounce_via not in BOUNCE_VIA:
            raise ProviderError(
                f"option bounce_via must be import_blocklist or webhook, got {bounce_via!r}",
                vendor="listmonk",
            )
        self.bounce_via = str(bounce_via)
        # import_wait_seconds may be longer than the hour seconds_option allows: a large
        # import of someone else's can run for hours.
        wait = config.options.get("import_wait_seconds", DEFAULT_IMPORT_WAIT)
        if isinstance(wait, bool) or not isinstance(wait, int | float) or not 0 <= wait <= 86400:
            raise ProviderError(
                f"option import_wait_seconds must be a number of seconds from 0 to 86400, "
                f"got {wait!r}",
                vendor="listmonk",
            )
        self.import_wait = float(wait)
        # Injected by tests (a fake clock): the wait for another import never really sleeps.
        self._sleep: Callable[[float], None] = time.sleep
        self._clock: Callable[[], float] = time.monotonic
        self._waited_out: Any = None  # the name of a foreign import waited for in vain
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
        list_id = _list_id(list_config)
        if self._imports(batch.action):
            return self._import(list_config, batch, list_id)
        rows = _read_batch(batch.path)
        if batch.action in (Action.BOUNCE, Action.COMPLAINT):
            return self._webhook(batch, rows)
        ids = subscriber_ids(self._subscribers(list_id), list_id)
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

    def _webhook(self, batch: Batch, rows: list[dict[str, str]]) -> JobRef:
        """The opt-in bounce webhook (beyond the document; listmonk v6.2.0 registers it only
        with bounce.webhooks_enabled, cmd/handlers.go lines 222-225, and serves it only with
        bounce.enabled, cmd/bounce.go lines 127-130; bounce.actions decides what it does)."""
        kind = "hard" if batch.action is Action.BOUNCE else "complaint"
        for row in rows:
            try:
                self.http.request(
                    "POST",
                    BOUNCE_PATH,
                    idempotent=True,
                    json={"email": row["email"], "type": kind, "source": "reconciler"},
                )
            except ProviderError as exc:
                if exc.status_code == 404:
                    raise ProviderError(
                        "answered 404: listmonk serves the bounce webhook only when "
                        "bounce.webhooks_enabled is on (Settings → Bounces → Enable bounce "
                        "webhooks, then restart listmonk), and also needs bounce.enabled; or drop "
                        "the provider option bounce_via: webhook to send bounces and complaints "
                        "as a blocklist import",
                        vendor="listmonk",
                        endpoint=f"POST {BOUNCE_PATH}",
                        status_code=404,
                    ) from exc
                if exc.status_code == 503:
                    raise ProviderError(
                        "answered 503: listmonk's bounce webhooks are on but bounce processing "
                        "is off (bounce.enabled: Settings → Bounces → Enable bounce processing, "
                        "then restart listmonk); or drop the provider option bounce_via: webhook "
                        "to send bounces and complaints as a blocklist import",
                        vendor="listmonk",
                        endpoint=f"POST {BOUNCE_PATH}",
                        status_code=503,
                    ) from exc
                raise
        return JobRef(
            f"{SYNC}{batch.action.value}:{batch.sha256[:12]}", {"done": len(rows), "missing": 0}
        )

    def _import(self, list_config: ListConfig, batch: Batch, list_id: int) -> JobRef:
        """Our own running import is followed, someone else's waited for (``_wait_for``); the
        file is written just before each POST, so that an update's present attributes are
        read as late as they can be."""
        name = import_name(batch)
        params = import_params(batch.action, list_id, self.subscription_status)
        path = self.workdir / "imports" / name
        waited_since = self._clock()
        pause = 1.0
        while True:
            running = self._import_status()
            if running.get("status") in RUNNING:
                if running.get("name") == name:
                    # Our own batch, sent before (an answer lost, or a crashed run): follow it.
                    return JobRef(f"import:{name}", {"name": name, "rows": batch.rows})
                self._wait_for(running, waited_since, pause)
                pause = min(MAX_IMPORT_BACKOFF, pause * 2)
                continue
            written = self._write_import(list_config, batch, list_id, path)
            if not written.rows:  # an update of subscribers who have all left the list
                path.unlink(missing_ok=True)
                return JobRef(
                    f"{SYNC}{batch.action.value}:{batch.sha256[:12]}",
                    {"done": 0, "missing": written.missing},
                )
            try:
                with path.open("rb") as upload:
                    self.http.request(
                        "POST",
                        IMPORT_PATH,
                        idempotent=False,
                        data={"params": json.dumps(params)},
                        files={"file": (name, upload, "text/csv")},
                    )
            except ProviderError as exc:
                # Someone else's import started between the look and the POST: wait again.
                if exc.status_code == 400 and ALREADY_RUNNING in str(exc):
                    continue
                raise
            finally:
                path.unlink(missing_ok=True)
            break
        started = datetime.now(UTC).replace(microsecond=0).isoformat()
        # listmonk has no import ID: the run is identified by its file name and start time.
        detail = {"name": name, "started": started, "rows": written.rows}
        return JobRef(f"import:{name}", {**detail, "missing": written.missing})

    def _write_import(
        self, list_config: ListConfig, batch: Batch, list_id: int, path: Path
    ) -> Written:
        present: dict[str, Present] | None = None
        if batch.action is Action.UPDATE:
            # listmonk replaces name and attributes with the row's (v6.2.0
            # queries/subscribers.sql lines 122-123): the present ones go back, the changes
            # over them. Only this batch's subscribers are kept of the listing.
            present = present_of(self._subscribers(list_id), batch_emails(batch.path))
        private_dir(path.parent)
        with open_private(path, "w", encoding="utf-8", newline="") as fh:
            return write_import_file(batch.path, fh, list_config.managed_fields, present)

    def _wait_for(self, running: dict[str, Any], since: float, pause: float) -> None:
        """listmonk runs one import at a time (v6.2.0 cmd/import.go lines 19-22): someone
        else's running import is waited for, up to import_wait_seconds in all, then a clear
        failure. An import this provider already waited out fails the next batches at once
        (each would otherwise wait the whole limit again)."""
        name = running.get("name")
        remaining = self.import_wait - (self._clock() - since)
        if remaining <= 0 or name == self._waited_out:
            self._waited_out = name
            raise ProviderError(
                f"another import is running at listmonk ({name!r}, {running.get('status')}, "
                f"{running.get('imported')} of {running.get('total')} rows) and did not end "
                f"within import_wait_seconds ({self.import_wait:g} s): wait for it or stop it "
                "(DELETE /api/import/subscribers), or raise the provider option "
                "import_wait_seconds",
                vendor="listmonk",
                endpoint=f"GET {IMPORT_PATH}",
            )
        self._sleep(min(pause, remaining))

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
        if job.detail.get("missing"):  # an update's rows left out: not on the list any more
            counts["not_found"] = int(job.detail["missing"])
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
            done = min(counts["imported"] / counts["total"], 1.0) if counts["total"] else None
            return JobStatus(JobState.PENDING, word, counts, done=done)
        if word == "finished":
            return JobStatus(JobState.SUCCEEDED, word, counts)
        if word != "failed":
            raise ProviderError(
                f"unknown import status {word!r}; the job stays in the ledger: `reconciler "
                "poll` follows it later",
                vendor="listmonk",
                endpoint=f"GET {IMPORT_PATH}",
            )
        answer = self.http.json("GET", f"{IMPORT_PATH}/logs")
        logs = str((answer.get("data") if isinstance(answer, dict) else None) or "").strip()
        last_line = logs.splitlines()[-1] if logs else ""
        return JobStatus(JobState.FAILED, word, counts, last_line or f"import {word}")

    def find_submitted(self, list_config: ListConfig, batch: Batch) -> Lookup:
        """listmonk runs one import at a time and names it by its file: this batch's name is
        its job; another (or none): no import of it runs or ended last. Subscription changes
        and webhook bounces are synchronous calls: nothing to look up."""
        if not self._imports(batch.action):
            return Lookup.cannot_tell(f"listmonk keeps no record of a {batch.action.value} call")
        name = import_name(batch)
        basis = f"listmonk's import status (GET {IMPORT_PATH}), which names the latest import"
        if self._import_status().get("name") == name:
            return Lookup.found(JobRef(f"import:{name}", {"name": name, "rows": batch.rows}), basis)
        return Lookup.absent(basis)

    def resend_is_harmless(self, action: Action) -> str | None:
        # PUT /api/subscribers/lists sets memberships; a webhook bounce twice is two bounces.
        if action in (Action.REMOVE, Action.UNSUBSCRIBE, Action.RESUBSCRIBE):
            return f"a {action.value} there sets list subscriptions: the same twice is as once"
        return None

    def _imports(self, action: Action) -> bool:
        """Whether this action's batches are imports (else synchronous calls)."""
        if action in (Action.BOUNCE, Action.COMPLAINT):
            return self.bounce_via == "import_blocklist"
        return action in (Action.ADD, Action.UPDATE)

    # -- reading ------------------------------------------------------------------------------
    def _subscribers(self, list_id: int) -> list[dict[str, Any]]:
        return listing(self.http, list_id)[0]

    def read_current(self, list_name: str, list_config: ListConfig) -> CurrentSnapshot:
        list_id = _list_id(list_config)
        target = self.workdir / "current" / f"{list_name}.csv"
        private_dir(target.parent)
        managed = list_config.managed_fields
        subscribers, total = listing(self.http, list_id)
        with open_private(target, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["email", "status", *managed])
            writer.writerows(current_rows(subscribers, list_id, managed))
        export = ExportConfig(format="listmonk-csv", path=str(target))
        snapshot = open_export(export, Path, managed, ExportLayout.CSV, self.status_words)
        assert isinstance(snapshot, CsvExportSnapshot)
        return VendorSnapshot(
            snapshot, f"listmonk GET /api/subscribers?list_id={list_id}", reported_total=total
        )


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
