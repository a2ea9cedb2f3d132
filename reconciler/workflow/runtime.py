"""What a command needs around the configuration while it runs: the vendor providers, the
embedded sandbox when a provider says ``base_url: sandbox``, and staging for file-pulling
vendors. Started on entry, stopped on exit, nothing left behind: the providers' scratch files
(the vendors' current lists, read for the plan) live in a directory of this command's own under
``workdir``, removed on exit, so a ``plan`` run during an ``apply`` never touches its files and
no copy of a vendor's list outlives the command."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

from reconciler.config.loader import LoadedConfig
from reconciler.config.locations import problem_at
from reconciler.config.schema import SANDBOX_URL, Credentials, ListConfig
from reconciler.errors import ConfigError, PlanError, Problem, ReconcilerError
from reconciler.exports.snapshot import CurrentSnapshot, UnknownSnapshot
from reconciler.private import private_dir
from reconciler.registry import provider_class
from reconciler.staging.base import PortTaken, Stager, StagingError, open_stager
from reconciler.staging.checks import http_staging_problems
from reconciler.state.membership import Form, Recorded

if TYPE_CHECKING:  # providers pull in httpx, which a plan from export files never needs
    from reconciler.providers.base import Provider
    from reconciler.state.ledger import InFlight


def staging_problems(loaded: LoadedConfig, *, offline_too: bool) -> list[Problem]:
    """A problem for each provider of a list whose vendor fetches batch files by URL and that
    has nowhere to publish them, or publishes them where a job could fail (``staging: http``
    without a fixed port, or on another provider's port): without it, apply would stop at
    the first batch, after the plan was shown and approved, or a crash would fail the jobs in
    flight. Without ``offline_too`` (validate), lists planned from an export file are not
    counted: such a repository may only ever be planned offline."""
    used = {lc.provider for lc in loaded.config.lists.values() if offline_too or lc.export is None}
    problems = []
    fetching = []
    for name, config in loaded.config.providers.items():
        if name not in used or not provider_class(config.type).fetches_by_url:
            continue
        fetching.append(name)
        if config.staging is None and config.base_url != SANDBOX_URL:
            problems.append(
                problem_at(
                    f"{config.type} fetches every batch file by URL, so provider {name!r} "
                    "needs staging: to publish them (e.g. staging: {backend: s3, bucket: …}, "
                    "or {backend: directory, path: …, base_url: …}; specs/config.md)",
                    loaded.source_map.locate("providers", name),
                    ("providers", name),
                )
            )
    return problems + http_staging_problems(loaded, fetching)


def require_staging(loaded: LoadedConfig, *, offline_too: bool = True) -> None:
    problems = staging_problems(loaded, offline_too=offline_too)
    if problems:
        raise ConfigError(
            problems, summary="The configuration cannot be applied (nothing was sent)"
        )


def config_dir(loaded: LoadedConfig) -> Path:
    return loaded.root if loaded.root.is_dir() else loaded.root.parent


class ReadEvents(Protocol):
    """Progress of reading the vendors' current state (an export can take minutes)."""

    def reading(self, list_name: str, where: str) -> None: ...

    def read(self, list_name: str) -> None: ...


class NoReadEvents:
    def reading(self, list_name: str, where: str) -> None:
        return None

    def read(self, list_name: str) -> None:
        return None


class AppliedReader(Protocol):
    """The state's applied membership (``reconciler.state.membership.StateMemory``)."""

    def snapshot(
        self, list_name: str, list_config: ListConfig, vendor: str, scratch: Path
    ) -> CurrentSnapshot | None: ...

    def recorded(
        self, list_name: str, list_config: ListConfig, scratch: Path, form: Form
    ) -> Recorded | None: ...


class Runtime:
    def __init__(
        self, loaded: LoadedConfig, *, workdir: Path, read_events: ReadEvents | None = None
    ) -> None:
        self.loaded = loaded
        self.workdir = workdir
        self.read_events: ReadEvents = read_events or NoReadEvents()
        self._stack = ExitStack()
        self._providers: dict[str, Provider] = {}
        self._stagers: dict[str, Stager | None] = {}
        self.sandbox_url: str | None = None
        self._scratch: Path | None = None
        #: The applied membership of a list whose vendor cannot be read (set by the command
        #: from the state it read): its current state instead of "unknown", when recorded.
        self.applied: AppliedReader | None = None

    def __enter__(self) -> Runtime:
        return self

    def _sandbox(self) -> str:
        """Start the embedded sandbox the first time a provider needs it."""
        if self.sandbox_url is None:
            from reconciler.sandbox.server import sandbox_for_config_dir

            settings = self.loaded.config.sandbox
            where = ("sandbox",)
            seed = self.loaded.resolve_path(where, settings.seed) if settings.seed else None
            try:
                embedded = sandbox_for_config_dir(
                    config_dir(self.loaded),
                    seed_file=seed,
                    data_dir=self.loaded.resolve_path(where, settings.data),
                    polls_per_step=settings.polls_per_step,
                )
            except ValueError as exc:  # the seed: unreadable, not YAML or JSON, not a seed
                raise ReconcilerError(f"cannot read the sandbox seed {seed}: {exc}") from exc
            sandbox = self._stack.enter_context(embedded)
            self.sandbox_url = sandbox.base_url
        return self.sandbox_url

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for provider in self._providers.values():
            provider.close()
        self._stack.close()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)

    def scratch(self) -> Path:
        """This command's own scratch directory (created on first use); those of commands
        that were killed (their process is gone) are removed first."""
        if self._scratch is None:
            private_dir(self.workdir)
            prefix = f"run-{socket.gethostname()}-"
            for stale in self.workdir.glob(f"{prefix}*-*"):
                pid = stale.name[len(prefix) :].split("-", 1)[0]
                if pid.isdigit() and not _alive(int(pid)):
                    shutil.rmtree(stale, ignore_errors=True)
            self._scratch = Path(
                tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=self.workdir)
            )
        return self._scratch

    def provider(self, name: str) -> Provider:
        if name not in self._providers:
            config = self.loaded.config.providers.get(name)
            if config is None:
                raise PlanError(f"unknown provider {name!r}")
            base_url = config.base_url
            if base_url == SANDBOX_URL:
                base_url = f"{self._sandbox()}/{config.type}"
                if config.credentials == Credentials():
                    # The sandbox wants credentials present, not particular ones.
                    placeholder = Credentials(
                        username="sandbox",  # type: ignore[arg-type]
                        password="sandbox",  # type: ignore[arg-type]
                        api_key="sandbox",  # type: ignore[arg-type]
                        account_code="sandbox",  # type: ignore[arg-type]
                    )
                    config = config.model_copy(update={"credentials": placeholder})
                if "poll_interval_seconds" not in config.options:
                    # The emulator answers at once: poll it briskly.
                    options = {**config.options, "poll_interval_seconds": 0.02}
                    config = config.model_copy(update={"options": options})
            cls = provider_class(config.type)
            self._providers[name] = cls(
                name, config, base_url=base_url, workdir=self.scratch() / "providers" / name
            )
        return self._providers[name]

    def check_list(self, list_name: str, list_config: ListConfig) -> None:
        self.provider(list_config.provider).check_list(list_name, list_config)

    def recorded(self, list_name: str, list_config: ListConfig) -> Recorded | None:
        """What reconciler recorded of a list (ownership, three-way drift), if anything."""
        if self.applied is None:
            return None
        config = self.loaded.config.providers.get(list_config.provider)
        if config is None:
            return None
        form = Form.KEYED if provider_class(config.type).can_read_current else Form.EMAIL
        return self.applied.recorded(list_name, list_config, self.scratch() / "recorded", form)

    def read_current(self, list_name: str, list_config: ListConfig) -> CurrentSnapshot:
        provider = self.provider(list_config.provider)
        if not provider.can_read_current:
            recorded = (
                self.applied.snapshot(
                    list_name, list_config, provider.vendor, self.scratch() / "applied"
                )
                if self.applied is not None
                else None
            )
            if recorded is not None:
                return recorded
            return UnknownSnapshot(
                f"{provider.vendor} has no documented API to read list membership and "
                "no export file is configured: taken as empty",
                len(list_config.managed_fields),
            )
        self.read_events.reading(list_name, f"{provider.vendor} list {list_config.list_id}")
        try:
            return provider.read_current(list_name, list_config)
        finally:
            self.read_events.read(list_name)

    def stager_for(self, provider_name: str) -> Stager | None:
        if provider_name not in self._stagers:
            config = self.loaded.config.providers[provider_name]
            staging = config.staging
            stager: Stager | None = None
            if staging is None and config.base_url == SANDBOX_URL:
                from reconciler.staging.sandbox import SandboxStager

                stager = self._stack.enter_context(SandboxStager(self._sandbox()))
            elif staging is not None:
                stager = self._stack.enter_context(
                    open_stager(staging, config_dir=config_dir(self.loaded))
                )
            self._stagers[provider_name] = stager
        return self._stagers[provider_name]

    def open_staging(self, in_flight: Iterable[InFlight], *, sending: bool = True) -> None:
        """Before anything is sent or polled: start the staging servers (``staging: http``) of
        the providers a list uses, when ``sending`` (a port another program holds is an error
        now, not after the first batches), and serve the file of every job a previous run left
        in flight again at the URL the vendor was given, before any of them is polled: a job
        must never fail because the run that staged its file has ended."""
        if sending:
            for name in sorted({lc.provider for lc in self.loaded.config.lists.values()}):
                config = self.loaded.config.providers.get(name)
                staging = config.staging if config is not None else None
                if (
                    config is not None
                    and staging is not None
                    and staging.backend == "http"
                    and provider_class(config.type).fetches_by_url
                ):
                    self._located_stager(name, "port")
        for item in in_flight:
            url = item.batch.url
            if url is None or item.provider not in self.loaded.config.providers:
                continue
            stager = self._located_stager(item.provider, "backend")
            if stager is not None and not stager.serve_again(url, item.batch.path):
                staged = getattr(stager, "base_url", "")
                problem = self._staging_problem(
                    item.provider,
                    "backend",
                    f"the job of {item.batch.key} (ledger entry {item.entry_id}) is still in "
                    f"flight, and its file was published at {url}, which provider "
                    f"{item.provider!r}'s staging (now at {staged}) does not serve: the vendor "
                    "may not have fetched it yet, and its job would fail. Put back the staging "
                    "that published it (the same port and public_url) until the job is final, "
                    "then run the command again; nothing was sent",
                )
                raise StagingError(str(problem))

    def _located_stager(self, provider_name: str, key: str) -> Stager | None:
        """``stager_for``, its failure to start located at the provider's staging ``key``."""
        try:
            return self.stager_for(provider_name)
        except StagingError as exc:
            advice = (
                ". Stop that program, or set another port" if isinstance(exc, PortTaken) else ""
            )
            problem = self._staging_problem(provider_name, key, f"{exc}; nothing was sent{advice}")
            raise StagingError(str(problem)) from exc

    def _staging_problem(self, provider_name: str, key: str, message: str) -> Problem:
        where = ("providers", provider_name, "staging", key)
        return problem_at(message, self.loaded.source_map.locate(*where), where)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True
