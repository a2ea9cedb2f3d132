"""Every file the configuration names stays inside the repository (``..``, absolute paths and
symbolic links resolved), and what a message quotes of a file is a bounded, escaped excerpt:
``csv: /proc/self/environ`` used to print the CI's whole environment."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from reconciler.config.loader import load_config
from reconciler.drift.writeback import read_rows
from reconciler.errors import ConfigError, SourceError
from tests.security.hostile import SECRET, HostileProject

ADVICE = (
    "the configuration may name files inside it only (another root: RECONCILER_PATHS_ROOT=DIR "
    "in the environment of the run)"
)
PROVIDERS = "providers: {og: {type: ongage, base_url: sandbox}}\n"
LIST = "lists:\n  news:\n    provider: og\n    list_id: 1\n"


@pytest.fixture
def project(tmp_path: Path) -> HostileProject:
    (tmp_path / "repo").mkdir()
    (tmp_path / "outside").mkdir()
    # A file the run can read but that is none of the repository's business.
    (tmp_path / "outside" / "secret.csv").write_text(f"email,{SECRET}\na@example.com,x\n")
    return HostileProject(tmp_path / "repo")


def problems(config: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load_config(config, env=env or {})
    return [str(p) for p in exc.value.problems]


def test_proc_self_environ_is_refused_before_it_is_read(project: HostileProject) -> None:
    project.write(
        "reconciler.yaml", PROVIDERS + LIST + "    members:\n      - csv: /proc/self/environ\n"
    )
    run = project.run("validate")
    assert (run.code, run.out, run.err) == (
        1,
        "",
        "Error: The configuration has 1 problem(s):\n"
        "  reconciler.yaml:7:9: [lists.news.members[0].csv] '/proc/self/environ' is outside "
        f"the repository ({project.root}): {ADVICE}\n",
    )
    assert project.leaks(run) == []
    assert project.requests() == [] and not (project.root / ".sandbox").exists()


@pytest.mark.parametrize(
    ("yaml", "where", "written"),
    [
        (
            "    members: [{csv: ../outside/secret.csv}]\n",
            "6:16: [lists.news.members[0].csv]",
            "../outside/secret.csv",
        ),
        (
            "    suppressions: [{csv: /etc/passwd, reason: bounce}]\n",
            "6:21: [lists.news.suppressions[0].csv]",
            "/etc/passwd",
        ),
        (
            "    export: {format: ongage, path: /etc/passwd}\n",
            "6:30: [lists.news.export.path]",
            "/etc/passwd",
        ),
        (
            "    export: {format: ongage, by_status: {bounced: /etc/passwd}}\n",
            "6:42: [lists.news.export.by_status.bounced]",
            "/etc/passwd",
        ),
        ("suppressions: [{csv: /etc/*.conf}]\n", "6:17: [suppressions[0].csv]", "/etc/*.conf"),
        (
            "resubscribe: [{csv: ../outside/secret.csv}]\n",
            "6:16: [resubscribe[0].csv]",
            "../outside/secret.csv",
        ),
        (
            "writeback: {path: ../outside/vendor.csv}\n",
            "6:13: [writeback.path]",
            "../outside/vendor.csv",
        ),
        ("sandbox: {seed: /etc/passwd}\n", "6:11: [sandbox.seed]", "/etc/passwd"),
        ("sandbox: {data: /tmp}\n", "6:11: [sandbox.data]", "/tmp"),
        ("state: {path: ../../state.json}\n", "6:9: [state.path]", "../../state.json"),
    ],
)
def test_every_configured_path_must_stay_inside(
    project: HostileProject, yaml: str, where: str, written: str
) -> None:
    config = project.write("reconciler.yaml", PROVIDERS + LIST + yaml)
    assert problems(config) == [
        f"{config}:{where} {written!r} is outside the repository ({project.root}): {ADVICE}"
    ]


def test_a_link_out_of_the_repository_is_refused_too(project: HostileProject) -> None:
    members = project.root / "members"
    members.mkdir()
    (members / "ok.csv").write_text("email\nann@example.com\n")
    (members / "link.csv").symlink_to("../../outside/secret.csv")
    (project.root / "data").symlink_to("../outside")
    config = project.write(
        "reconciler.yaml",
        PROVIDERS
        + LIST
        + "    members:\n"
        + "      - csv: members/link.csv\n"
        + "      - csv: members/*.csv\n"
        + "      - csv: data/secret.csv\n",
    )
    link = f"leads outside the repository ({project.root}) through the symbolic link"
    assert problems(config) == [
        f"{config}:7:9: [lists.news.members[0].csv] 'members/link.csv' {link} "
        f"{members}/link.csv: {ADVICE}",
        f"{config}:8:9: [lists.news.members[1].csv] 'members/*.csv' matches "
        f"{members}/link.csv, which {link} {members}/link.csv: {ADVICE}",
        f"{config}:9:9: [lists.news.members[2].csv] 'data/secret.csv' {link} "
        f"{project.root}/data: {ADVICE}",
    ]
    run = project.run("validate")
    assert run.code == 1 and project.leaks(run) == []


def test_a_configuration_file_that_links_out_is_not_read(project: HostileProject) -> None:
    outside = project.root.parent / "outside" / "keys.yaml"
    outside.write_text(f"{SECRET}: 1\n")  # its key would be quoted as an unknown key
    project.write("cfg/lists.yaml", PROVIDERS + LIST)
    (project.root / "cfg" / "keys.yaml").symlink_to(outside)
    run = project.run("validate", "-c", "cfg")
    assert (run.code, run.out, run.err) == (
        1,
        "",
        "Error: The configuration has 1 problem(s):\n"
        f"  cfg/keys.yaml: configuration file leads outside the repository ({project.root}/cfg) "
        "through the symbolic link cfg/keys.yaml: it is not read (another root: "
        "RECONCILER_PATHS_ROOT=DIR in the environment of the run)\n",
    )
    assert project.leaks(run) == []


def test_the_root_is_the_git_work_tree_else_the_configurations_directory(
    project: HostileProject,
) -> None:
    project.write("members/news.csv", "email\nann@example.com\n")
    project.write(
        "config/lists.yaml", PROVIDERS + LIST + "    members: [{csv: ../members/news.csv}]\n"
    )
    outside = (
        "Error: The configuration has 1 problem(s):\n"
        "  config/lists.yaml:6:16: [lists.news.members[0].csv] '../members/news.csv' is outside "
        f"the repository ({project.root}/config): {ADVICE}\n"
    )
    assert project.run("validate", "-c", "config").err == outside
    subprocess.run(["git", "init", "-q", str(project.root)], check=True)
    valid = project.run("validate", "-c", "config")
    assert (valid.code, valid.out) == (0, "The configuration is valid: 1 list(s), 1 file(s).\n")
    # From anywhere: the root follows the configuration, not the working directory.
    elsewhere = project.run("validate", "-c", str(project.root / "config"), cwd=Path("/"))
    assert elsewhere.code == 0, elsewhere.err


def test_whoever_runs_reconciler_may_name_another_root(project: HostileProject) -> None:
    config = project.write(
        "reconciler.yaml", PROVIDERS + LIST + "    members: [{csv: ../outside/secret.csv}]\n"
    )
    parent = str(project.root.parent)
    assert load_config(config, env={"RECONCILER_PATHS_ROOT": parent}).config.lists
    run = project.run("validate", env={"RECONCILER_PATHS_ROOT": parent})
    assert (run.code, run.out) == (0, "The configuration is valid: 1 list(s), 1 file(s).\n")
    # The configuration itself cannot: a pull request writes it.
    project.write("reconciler.yaml", PROVIDERS + LIST + "paths: {root: /}\n")
    assert problems(config)[0].startswith(f"{config}:6:1: [paths] unknown key 'paths'")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("    members: [{csv: data.csv}]\n", "no column 'email' for 'email'"),
        (
            "    members: [{inline: [{email: ann@example.com}]}]\n"
            "    export: {format: ongage, path: data.csv}\n",
            "no 'email' column",
        ),
    ],
)
def test_a_header_is_quoted_as_a_bounded_escaped_excerpt(
    project: HostileProject, source: str, message: str
) -> None:
    long_name = "x" * 39 + SECRET  # the secret starts past the excerpt's 40 characters
    header = ["Mail", long_name, "red\x1b[31m", "tab\there", "c5", SECRET, "c7"]
    project.write("data.csv", ",".join(header) + "\nann@example.com,a,b,c,d,e,f\n")
    project.write("reconciler.yaml", PROVIDERS + LIST + source)
    columns = "Mail, " + "x" * 39 + "h…, red\\x1b[31m, tab\\there, c5, … and 2 more"
    run = project.run("validate")
    assert (run.code, run.out, run.err) == (
        1,
        "",
        f"Error: 1 problem(s) in the sources:\n  data.csv:1: {message} (columns: {columns})\n",
    )
    assert SECRET not in run.err


def test_a_repeated_header_name_is_quoted_bounded(project: HostileProject) -> None:
    name = "n" * 30 + SECRET
    project.write("members.csv", f"email,{name},{name.upper()}\n")
    project.write("reconciler.yaml", PROVIDERS + LIST + "    members: [{csv: members.csv}]\n")
    run = project.run("validate")
    assert run.err == (
        "Error: 1 problem(s) in the sources:\n"
        f"  members.csv:1: header column '{'N' * 30}HOSTILE-PR'… appears twice (columns 2 and 3)\n"
    )
    assert SECRET.upper() not in run.err


def test_the_write_back_files_columns_are_quoted_bounded(tmp_path: Path) -> None:
    path = tmp_path / "vendor.csv"
    path.write_text("email,reason," + ",".join(f"{i}" * 50 for i in range(7)) + "\n")
    with pytest.raises(SourceError) as exc:
        read_rows(path, "vendor.csv")
    assert [str(p) for p in exc.value.problems] == [
        "vendor.csv:1: the write-back file must have the columns email, reason, vendor, list, "
        "seen_at (missing: -; unknown: "
        + ", ".join(f"{i}" * 40 + "…" for i in range(5))
        + ", … and 2 more)"
    ]
