"""Submissions whose fate is unknown, settled by the vendor's own records after a settle window.

A job-creating request may have reached the vendor without its answer reaching us: a timeout or
a broken connection after sending, a 5xx other than 429 and 503, a 2xx that cannot be read
(``AmbiguousSubmission``); or a run ended between recording a batch as ``submitting`` and
recording its job ID. A vendor may commit such a job a while after it took the request, so one
immediate look proves nothing. The ledger entry stays ``unknown`` until one of:

- the vendor's records show the job (``Lookup`` FOUND): it is adopted (``submitted``), and the
  caller polls it like any other;
- a lookup made *after* the settle window proves it absent (ABSENT): ``unsent``, and the batch
  may be sent again (the next run's plan does). The window is the provider's
  ``settle_seconds``, measured from when the submission became ambiguous (``unknown_since``;
  for a crashed run's ``submitting`` entry, from when it was recorded); within it the vendor is
  asked again with backoff (1 s, doubling, at most 30 s) and once more as it ends;
- the vendor documents no records to ask (CANNOT_TELL): after the window, ``unsent`` only when
  the user chose it (the provider option ``resend_unknown: if_harmless``) and the provider
  declares that a second send of this action's batch leaves the vendor as one does
  (``Provider.resend_is_harmless``), which the ledger and apply's output then say; otherwise
  (the default, ``ask``: nothing is sent again on a guess) the entry stays ``unknown`` and
  :class:`UnresolvedSubmission` stops apply, naming what to check at the vendor and how to
  record the answer (``reconciler state resolve``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from reconciler.config.schema import ListConfig
from reconciler.errors import UnresolvedSubmission
from reconciler.providers.base import Batch, JobRef, Lookup, Provider, Seen

FIRST_PAUSE = 1.0
MAX_PAUSE = 30.0


class SettleLedger(Protocol):
    def unknown(self, entry_id: str, message: str, *, since: datetime) -> None: ...

    def unsent(self, entry_id: str, message: str) -> None: ...


@dataclass
class Settler:
    ledger: SettleLedger
    note: Callable[[str], None]
    sleep: Callable[[float], None]
    clock: Callable[[], datetime]

    def settle(
        self,
        provider: Provider,
        list_config: ListConfig,
        entry_id: str,
        batch: Batch,
        *,
        since: datetime,
        cause: str,
    ) -> JobRef | None:
        """The job of a batch whose submission is ``unknown`` since ``since`` (``cause``: what
        happened), or None once it is recorded ``unsent``; raises UnresolvedSubmission when it
        must stay ``unknown``. The caller records a found job as submitted."""
        window = provider.settle_seconds
        deadline = since + timedelta(seconds=window)
        pause, asked, waiting = FIRST_PAUSE, 0, False
        while True:
            started = self.clock()  # taken before the lookup: it must begin after the deadline
            lookup = provider.find_submitted(list_config, batch)
            if lookup.job is not None:
                self.note(
                    f"{batch.key}: {cause}; found at {provider.vendor} as job "
                    f"{lookup.job.vendor_job_id} ({lookup.basis}): adopted, not sent again"
                )
                return lookup.job
            asked += lookup.seen is Seen.ABSENT
            remaining = (deadline - started).total_seconds()
            if remaining <= 0:
                self._conclude(provider, entry_id, batch, lookup, cause, asked, since)
                return None
            if not waiting:
                waiting = True
                self.note(
                    f"{batch.key}: {provider.vendor} may have taken it ({cause}); "
                    + (
                        f"{lookup.basis}: waiting out the settle window ({remaining:.0f} s more)"
                        if lookup.seen is Seen.CANNOT_TELL
                        else f"not in {lookup.basis} yet: asking again until the settle window "
                        f"of {window:g} s has passed ({remaining:.0f} s more)"
                    )
                )
            if lookup.seen is Seen.CANNOT_TELL:
                self.sleep(remaining)  # there is nothing to ask meanwhile
            else:
                self.sleep(min(pause, remaining))
                pause = min(MAX_PAUSE, pause * 2)

    def _conclude(
        self,
        provider: Provider,
        entry_id: str,
        batch: Batch,
        lookup: Lookup,
        cause: str,
        asked: int,
        since: datetime,
    ) -> None:
        window = f"{provider.settle_seconds:g} s"
        if lookup.seen is Seen.ABSENT:
            message = (
                f"{cause}; not in {lookup.basis}, asked {asked} time(s) until {window} had "
                "passed: never received, planned and sent again if still needed"
            )
            self.ledger.unsent(entry_id, message)
            self.note(f"{batch.key}: {message}")
            return
        harmless = provider.resend_is_harmless(batch.action)
        if harmless is not None and provider.resend_unknown == "if_harmless":
            message = f"{cause}; {lookup.basis}; {harmless}, so the batch is sent again"
            self.ledger.unsent(entry_id, message)
            self.note(f"{batch.key}: {message}")
            return
        self.ledger.unknown(entry_id, cause, since=since)
        why = (
            f"reconciler does not send it again on a guess ({harmless}: the provider option "
            "resend_unknown: if_harmless would send it again)"
            if harmless is not None
            else f"a {batch.action.value} sent twice may not leave {provider.vendor} as once, "
            "so it is not sent again without you"
        )
        raise UnresolvedSubmission(
            f"{batch.list_name}: {batch.action.value} batch {batch.index} ({batch.rows:,} "
            f"row(s), ledger entry {entry_id}) may have reached {provider.vendor} ({cause}), "
            f"and {lookup.basis}; {why}. Check at "
            f"{provider.vendor} for a job created from {since.isoformat(timespec='seconds')} on "
            f"of the list {batch.vendor_list_id}, then record what you found: `reconciler "
            f"state resolve {entry_id} --sent JOB_ID` (apply follows that job) or `reconciler "
            f"state resolve {entry_id} --unsent` (apply sends the batch again). Until then "
            "apply sends nothing"
        )
