"""The GitOps example's workflows as a team lives them, run on this machine.

No GitHub Actions runner can run here (`act` needs a Docker engine and images from outside), so
this file is one: it reads each workflow under ``examples/gitops/.github/workflows`` and runs
its job's steps in order, each ``run:`` step's own shell script with ``bash -eo pipefail`` (as
GitHub does), the job's and the step's ``env``, ``${{ … }}`` expressions and ``if:`` conditions
evaluated as a runner would, and ``$GITHUB_OUTPUT`` read back into ``steps.ID.outputs``. The
repository is a Git repository with a bare origin; the vendors are reconciler's sandbox; GitHub
is a fake ``gh`` on ``PATH`` (this very file, run as a script) keeping pull requests, comments,
workflow runs and their artifacts in a JSON file. The ``uses:`` steps are emulated: checkout
clones the origin, upload-artifact keeps files with the run, create-pull-request commits,
pushes and opens a pull request; setup-python and the AWS role do nothing here (the state is
local, the vendors need no credentials), and the ``pip install`` step is replaced by the
reconciler of this checkout.

The fake ``gh`` applies ``--jq`` with the ``jq`` program, so these tests need ``jq`` on PATH
(GitHub's runners have it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "gitops"
WORKFLOWS = EXAMPLE / ".github" / "workflows"
REPO = "acme/audiences"
BOT = "github-actions[bot]"
SECRETS = {
    "ONGAGE_USERNAME": "test-user",
    "ONGAGE_PASSWORD": "not-a-real-secret",
    "ONGAGE_ACCOUNT_CODE": "test-account",
    "LISTMONK_USER": "test-user",
    "LISTMONK_TOKEN": "not-a-real-secret",
}
INSTALL = 'pip install "audience-reconciler[s3]==0.1.0"'

pytestmark = pytest.mark.skipif(shutil.which("jq") is None, reason="the fake gh needs jq")


def git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Dev",
        "GIT_AUTHOR_EMAIL": "dev@example.com",
        "GIT_COMMITTER_NAME": "Dev",
        "GIT_COMMITTER_EMAIL": "dev@example.com",
    }
    run = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, env=env, check=False
    )
    assert run.returncode == 0, f"git {' '.join(args)}: {run.stderr}"
    return run.stdout.strip()


# -- the fake GitHub: state in a JSON file, shared by the harness and the fake gh ------------


class GitHub:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Any]:
        return dict(json.loads(self.path.read_text()))

    def save(self, data: dict[str, Any]) -> None:
        self.path.write_text(json.dumps(data, indent=1))

    @staticmethod
    def new(path: Path, origin: Path, artifacts: Path) -> GitHub:
        hub = GitHub(path)
        hub.save(
            {
                "origin": str(origin),
                "artifacts": str(artifacts),
                "pulls": {},
                "comments": [],
                "next_comment": 1000,
                "runs": [],
                "dispatches": [],
                "calls": [],
            }
        )
        return hub


def _head_sha(data: dict[str, Any], number: str) -> str:
    origin = Path(data["origin"])
    return git(origin, "rev-parse", f"refs/pull/{number}/head")


def _pull_json(data: dict[str, Any], number: str) -> dict[str, Any]:
    pull = data["pulls"][number]
    return {
        "number": int(number),
        "state": pull["state"],
        "baseRefName": pull["base"],
        "headRefName": pull["branch"],
        "headRefOid": _head_sha(data, number),
        "isCrossRepository": pull.get("fork", False),
        "head": {"sha": _head_sha(data, number), "ref": pull["branch"]},
    }


def _jq(value: Any, expression: str | None) -> str:
    text = json.dumps(value)
    if expression is None:
        return text + "\n"
    run = subprocess.run(
        ["jq", "-r", expression], input=text, capture_output=True, text=True, check=False
    )
    if run.returncode:
        sys.stderr.write(run.stderr)
        raise SystemExit(run.returncode)
    return run.stdout


def fake_gh(argv: list[str]) -> int:  # noqa: C901 - one branch per command the workflows use
    hub = GitHub(Path(os.environ["FAKE_GITHUB"]))
    data = hub.load()
    data["calls"].append(argv)
    assert os.environ.get("GH_TOKEN"), "gh needs GH_TOKEN"
    assert os.environ.get("GH_REPO") == REPO, "gh needs GH_REPO"
    options: dict[str, str] = {}
    fields: list[str] = []
    flags: set[str] = set()
    words: list[str] = []
    i = 0
    valued = {
        "--json",
        "--jq",
        "-X",
        "--method",
        "--workflow",
        "--commit",
        "--status",
        "--limit",
        "--name",
        "--dir",
        "--ref",
        "--base",
        "--state",
        "--body-file",
    }
    while i < len(argv):
        arg = argv[i]
        if arg in ("-F", "-f", "--field", "--raw-field"):
            fields.append(argv[i + 1])
            i += 2
        elif arg in valued:
            options[arg] = argv[i + 1]
            i += 2
        elif arg.startswith("-"):
            flags.add(arg)
            i += 1
        else:
            words.append(arg)
            i += 1
    jq = options.get("--jq")
    out = ""
    if words[:2] == ["pr", "view"]:
        out = _jq(_pull_json(data, words[2]), jq)
    elif words[:2] == ["pr", "list"]:
        pulls = [
            _pull_json(data, n)
            for n, p in data["pulls"].items()
            if p["state"] == "OPEN" and p["base"] == options.get("--base", p["base"])
        ]
        out = _jq(pulls, jq)
    elif words[:2] == ["run", "list"]:
        runs = [
            {"databaseId": r["id"]}
            for r in reversed(data["runs"])  # newest first, as GitHub lists them
            if r["workflow"] == options["--workflow"]
            and r["head_sha"] == options.get("--commit", r["head_sha"])
            and r["conclusion"] == options.get("--status", r["conclusion"])
        ][: int(options.get("--limit", "20"))]
        out = _jq(runs, jq)
    elif words[:2] == ["run", "download"]:
        source = Path(data["artifacts"]) / words[2] / options["--name"]
        if not source.is_dir():
            sys.stderr.write(f"no artifact named {options['--name']} in run {words[2]}\n")
            return 1
        shutil.copytree(source, Path(options.get("--dir", ".")), dirs_exist_ok=True)
    elif words[:2] == ["workflow", "run"]:
        inputs = dict(f.split("=", 1) for f in fields)
        data["dispatches"].append({"workflow": words[2], "ref": options["--ref"], "inputs": inputs})
    elif words[0] == "api":
        method = options.get("-X", options.get("--method", "POST" if fields else "GET"))
        path = words[1]
        body = None
        for item in fields:
            key, value = item.split("=", 1)
            if key == "body":
                body = Path(value[1:]).read_text() if value.startswith("@") else value
        result: Any = None
        if m := re.fullmatch(rf"repos/{REPO}/issues/(\d+)/comments", path):
            if method == "GET":
                result = [c for c in data["comments"] if c["issue"] == m[1]]
            else:
                data["next_comment"] += 1
                comment = {
                    "id": data["next_comment"],
                    "issue": m[1],
                    "body": body,
                    "user": {"login": BOT},
                }
                data["comments"].append(comment)
                result = comment
        elif m := re.fullmatch(rf"repos/{REPO}/issues/comments/(\d+)", path):
            (comment,) = [c for c in data["comments"] if c["id"] == int(m[1])]
            if method == "PATCH":
                comment["body"] = body
                result = comment
            elif method == "DELETE":
                data["comments"].remove(comment)
        elif m := re.fullmatch(rf"repos/{REPO}/commits/(\w+)/pulls", path):
            result = [
                _pull_json(data, n) for n, p in data["pulls"].items() if p.get("merge") == m[1]
            ]
        elif m := re.fullmatch(rf"repos/{REPO}/pulls/(\d+)", path):
            result = _pull_json(data, m[1])
        else:
            sys.stderr.write(f"fake gh: no such API {method} {path}\n")
            return 1
        if "--silent" not in flags and result is not None:
            out = _jq(result, jq)
    else:
        sys.stderr.write(f"fake gh: unknown command {argv}\n")
        return 1
    hub.save(data)
    sys.stdout.write(out)
    return 0


# -- GitHub Actions expressions, as far as the workflows use them -----------------------------

TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<op>==|!=|&&|\|\||!|\(|\)|,)"
    r"|(?P<num>\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_.\-]*))"
)


def evaluate(expression: str, context: dict[str, Any]) -> Any:
    python: list[str] = []
    position = 0
    expression = expression.strip()
    while position < len(expression):
        match = TOKEN.match(expression, position)
        assert match, f"cannot read the expression {expression!r} at {position}"
        position = match.end()
        if match["str"] is not None:
            python.append(repr(match["str"][1:-1].replace("''", "'")))
        elif match["op"] is not None:
            python.append({"&&": " and ", "||": " or ", "!": " not "}.get(match["op"], match["op"]))
        elif match["num"] is not None:
            python.append(repr(match["num"]))
        elif match["name"] in ("always", "format", "success", "failure"):
            python.append(f"_{match['name']}")
        elif match["name"] in ("true", "false"):
            python.append(str(match["name"] == "true"))
        else:
            python.append(f"_get({match['name']!r})")

    def get(name: str) -> Any:
        value: Any = context
        for part in name.split("."):
            value = value.get(part, "") if isinstance(value, dict) else ""
        return value

    def fmt(template: str, *args: Any) -> str:
        return re.sub(r"\{(\d+)\}", lambda m: str(args[int(m[1])]), template)

    namespace = {
        "_get": get,
        "_format": fmt,
        "_always": lambda: True,
        "_success": lambda: not context["failed"],
        "_failure": lambda: context["failed"],
    }
    return eval("".join(python), namespace)  # our own workflows' expressions only


def as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def substitute(text: str, context: dict[str, Any]) -> str:
    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: as_text(evaluate(m[1], context)), text)


# -- the runner --------------------------------------------------------------------------------


@dataclass
class StepResult:
    name: str
    status: str  # success, failure, skipped
    code: int = 0
    out: str = ""
    err: str = ""


@dataclass
class Run:
    id: int
    workflow: str
    conclusion: str
    jobs: dict[str, list[StepResult]] = field(default_factory=dict)
    artifacts: Path | None = None

    def steps(self, job: str) -> dict[str, StepResult]:
        return {s.name: s for s in self.jobs[job]}

    def log(self) -> str:
        return "\n".join(
            f"[{job}] {s.name}: {s.status} {s.code}\n{s.out}{s.err}"
            for job, steps in self.jobs.items()
            for s in steps
        )


class Team:
    """A repository with its origin, its fake GitHub, its sandboxed vendors, and the runner."""

    def __init__(self, tmp: Path, seed: str) -> None:
        self.tmp = tmp
        self.origin = tmp / "origin.git"
        self.dev = tmp / "dev"
        self.bin = tmp / "bin"
        self.vendors = tmp / "vendors"
        self.state = tmp / "state" / "reconciler.json"
        self.hub = GitHub.new(tmp / "github.json", self.origin, tmp / "artifacts")
        self.next_pr = 0
        self.bin.mkdir()
        gh = self.bin / "gh"
        gh.write_text(f'#!/bin/sh\nexec {sys.executable} {Path(__file__)} "$@"\n')
        reconciler = self.bin / "reconciler"
        reconciler.write_text(
            # The vendors' data and the state live outside the checkout (on S3 in GitHub).
            f"#!/bin/sh\nRECONCILER_PATHS_ROOT={tmp} PYTHONPATH={ROOT} "
            f'exec {sys.executable} -m reconciler "$@"\n'
        )
        gh.chmod(0o755)
        reconciler.chmod(0o755)
        (tmp / "seed.yaml").write_text(seed)
        git(tmp, "init", "-q", "--bare", "-b", "main", str(self.origin))
        shutil.copytree(EXAMPLE, self.dev)
        # The vendors are the sandbox and the state is a local file outside every checkout
        # (S3 on GitHub): each run has a fresh clone, the vendors and the state outlive it.
        (self.dev / "config" / "providers.yaml").write_text(
            "providers:\n"
            "  ongage: {type: ongage, base_url: sandbox}\n"
            "  listmonk: {type: listmonk, base_url: sandbox}\n"
            f"sandbox: {{seed: {tmp / 'seed.yaml'}, data: {self.vendors}}}\n"
        )
        (self.dev / "config" / "state.yaml").write_text(
            f"state: {{backend: local, path: {self.state}}}\n"
        )
        git(self.dev, "init", "-q", "-b", "main")
        git(self.dev, "add", ".")
        git(self.dev, "commit", "-q", "-m", "the audiences repository")
        git(self.dev, "remote", "add", "origin", str(self.origin))
        git(self.dev, "push", "-q", "origin", "main")

    # -- what people do

    def edit(self, name: str, text: str, *, append: bool = True) -> None:
        path = self.dev / name
        path.write_text(path.read_text() + text if append else text)

    def open_pr(self, branch: str, name: str, text: str, *, append: bool = True) -> str:
        git(self.dev, "checkout", "-q", "-b", branch, "main")
        self.edit(name, text, append=append)
        git(self.dev, "commit", "-q", "-am", f"{branch}: {name}")
        self.next_pr += 1
        number = str(self.next_pr)
        data = self.hub.load()
        data["pulls"][number] = {"state": "OPEN", "base": "main", "branch": branch}
        self.hub.save(data)
        self.push(branch, number)
        git(self.dev, "checkout", "-q", "main")
        return number

    def push_to_pr(self, number: str, name: str, text: str) -> None:
        branch = self.hub.load()["pulls"][number]["branch"]
        git(self.dev, "checkout", "-q", branch)
        self.edit(name, text)
        git(self.dev, "commit", "-q", "-am", f"{branch}: more")
        self.push(branch, number)
        git(self.dev, "checkout", "-q", "main")

    def push(self, branch: str, number: str) -> None:
        git(self.dev, "push", "-q", "-f", "origin", f"{branch}:{branch}")
        git(self.origin, "update-ref", f"refs/pull/{number}/head", f"refs/heads/{branch}")

    def merge(self, number: str) -> str:
        """The merge button: a merge commit on main, pushed."""
        data = self.hub.load()
        branch = data["pulls"][number]["branch"]
        git(self.dev, "checkout", "-q", "main")
        git(self.dev, "pull", "-q", "--ff-only", "origin", "main")
        git(self.dev, "fetch", "-q", "origin", branch)
        git(self.dev, "merge", "-q", "--no-ff", "-m", f"Merge #{number}", "FETCH_HEAD")
        git(self.dev, "push", "-q", "origin", "main")
        sha = git(self.dev, "rev-parse", "HEAD")
        data["pulls"][number].update(state="MERGED", merge=sha)
        self.hub.save(data)
        return sha

    def head(self, number: str) -> str:
        return git(self.origin, "rev-parse", f"refs/pull/{number}/head")

    def comments(self, number: str) -> list[str]:
        return [c["body"] for c in self.hub.load()["comments"] if c["issue"] == number]

    def vendor_list(self, vendor: str, list_id: str) -> dict[str, str]:
        from reconciler.sandbox.server import EmbeddedSandbox

        with EmbeddedSandbox(self.vendors) as sandbox:
            rows = sandbox.app.state()["vendors"][vendor]["lists"].get(list_id, [])
        return {r["email"]: r["status"] for r in rows}

    # -- GitHub's side

    def pull_request_event(self, number: str) -> dict[str, Any]:
        return {
            "event_name": "pull_request",
            "sha": "",  # the merge ref's commit: unused by the workflows
            "ref": f"refs/pull/{number}/merge",
            "event": {"pull_request": {"number": int(number), "head": {"sha": self.head(number)}}},
        }

    def dispatch_event(self, dispatch: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        ref = dispatch["ref"]
        sha = git(self.origin, "rev-parse", f"refs/heads/{ref}")
        return {"event_name": "workflow_dispatch", "sha": sha, "ref": f"refs/heads/{ref}"}, dict(
            dispatch["inputs"]
        )

    def push_event(self, sha: str) -> dict[str, Any]:
        return {"event_name": "push", "sha": sha, "ref": "refs/heads/main", "event": {}}

    def take_dispatches(self) -> list[dict[str, Any]]:
        data = self.hub.load()
        dispatches = list(data["dispatches"])
        data["dispatches"] = []
        self.hub.save(data)
        return dispatches

    def run(
        self,
        workflow: str,
        github: dict[str, Any],
        *,
        inputs: dict[str, str] | None = None,
        secrets: dict[str, str] | None = None,
        head_sha: str | None = None,
    ) -> Run:
        spec = YAML(typ="safe").load((WORKFLOWS / workflow).read_text())
        data = self.hub.load()
        run_id = len(data["runs"]) + 1
        artifacts = Path(data["artifacts"]) / str(run_id)
        github = {
            "repository": REPO,
            "server_url": "https://github.com",
            "run_id": str(run_id),
            "token": "ghs_test_token",
            "event": {},
            **github,
        }
        record = Run(run_id, workflow, "success", artifacts=artifacts)
        results: dict[str, str] = {}
        for job_name, job in spec["jobs"].items():
            needs = job.get("needs", [])
            needs = [needs] if isinstance(needs, str) else needs
            if any(results.get(n) != "success" for n in needs):
                results[job_name] = "skipped"
                continue
            context = {
                "github": github,
                "secrets": {**SECRETS, **(secrets or {})},
                "vars": {"LISTMONK_URL": "sandbox", "RECONCILER_ROLE_ARN": "arn:aws:iam::1:role/r"},
                "inputs": inputs or {},
                "steps": {},
                "failed": False,
            }
            steps = self._job(job, context, artifacts, tmp=self.tmp / f"run-{run_id}-{job_name}")
            record.jobs[job_name] = steps
            results[job_name] = "failure" if context["failed"] else "success"
        record.conclusion = "failure" if "failure" in results.values() else "success"
        data = self.hub.load()
        if head_sha is None:
            head_sha = github["sha"] or github["event"]["pull_request"]["head"]["sha"]
        data["runs"].append(
            {
                "id": run_id,
                "workflow": workflow,
                "head_sha": head_sha,
                "event": github["event_name"],
                "conclusion": record.conclusion,
            }
        )
        self.hub.save(data)
        return record

    def _job(
        self, job: dict[str, Any], context: dict[str, Any], artifacts: Path, *, tmp: Path
    ) -> list[StepResult]:
        workspace = tmp / "workspace"
        workspace.mkdir(parents=True)
        job_env = {k: substitute(str(v), context) for k, v in (job.get("env") or {}).items()}
        results = []
        for index, step in enumerate(job["steps"]):
            name = step.get("name") or step.get("uses") or step.get("run", "").splitlines()[0]
            condition = str(step.get("if", "success()"))
            condition = condition.removeprefix("${{").removesuffix("}}")
            if "always()" not in condition and "failure()" not in condition:
                condition = f"success() && ({condition})"
            if not evaluate(condition, context):
                results.append(StepResult(name, "skipped"))
                continue
            env = {**job_env}
            env.update({k: substitute(str(v), context) for k, v in (step.get("env") or {}).items()})
            outputs: dict[str, str] = {}
            if "uses" in step:
                with_ = {
                    k: substitute(str(v), context) for k, v in (step.get("with") or {}).items()
                }
                result = self._uses(step["uses"], with_, env, workspace, artifacts, outputs)
                result.name = name
            else:
                result = self._shell(
                    name,
                    substitute(step["run"], context),
                    env,
                    workspace,
                    tmp / f"output-{index}",
                    outputs,
                )
            results.append(result)
            if result.status == "failure":
                context["failed"] = True
            if "id" in step:
                context["steps"][step["id"]] = {"outputs": outputs, "conclusion": result.status}
        return results

    def _shell(
        self,
        name: str,
        script: str,
        env: dict[str, str],
        workspace: Path,
        output: Path,
        outputs: dict[str, str],
    ) -> StepResult:
        if script.strip() == INSTALL:
            return StepResult(name, "success", out="(reconciler from this checkout)")
        output.write_text("")
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
            cwd=workspace,
            capture_output=True,
            text=True,
            timeout=300,
            env={
                "PATH": f"{self.bin}:{os.environ['PATH']}",
                "HOME": str(self.tmp),
                "NO_COLOR": "1",
                "FAKE_GITHUB": str(self.hub.path),
                "GITHUB_OUTPUT": str(output),
                "GITHUB_WORKSPACE": str(workspace),
                **env,
            },
        )
        for line in output.read_text().splitlines():
            key, _, value = line.partition("=")
            outputs[key] = value
        return StepResult(
            name,
            "failure" if proc.returncode else "success",
            proc.returncode,
            proc.stdout,
            proc.stderr,
        )

    def _uses(
        self,
        uses: str,
        with_: dict[str, str],
        env: dict[str, str],
        workspace: Path,
        artifacts: Path,
        outputs: dict[str, str],
    ) -> StepResult:
        action = uses.split("@")[0]
        if action == "actions/checkout":
            git(workspace.parent, "clone", "-q", str(self.origin), str(workspace))
            ref = with_.get("ref")
            if ref:
                git(workspace, "fetch", "-q", "origin", ref)
                git(workspace, "checkout", "-q", "--detach", "FETCH_HEAD")
            return StepResult(uses, "success")
        if action in ("actions/setup-python", "aws-actions/configure-aws-credentials"):
            return StepResult(uses, "success", out="(nothing to do on this machine)")
        if action == "actions/upload-artifact":
            target = artifacts / with_["name"]
            files = [p for p in workspace.glob(with_["path"].rstrip("/")) if p.exists()]
            if not files:
                code = 1 if with_.get("if-no-files-found") == "error" else 0
                return StepResult(uses, "failure" if code else "success", code)
            target.mkdir(parents=True, exist_ok=True)
            for path in files:
                if path.is_dir():
                    shutil.copytree(path, target, dirs_exist_ok=True)
                else:
                    shutil.copy(path, target / path.name)
            return StepResult(uses, "success")
        if action == "peter-evans/create-pull-request":
            changed = git(workspace, "status", "--porcelain", "--", with_["add-paths"])
            if not changed:
                outputs["pull-request-operation"] = "none"
                return StepResult(uses, "success")
            branch = with_["branch"]
            git(workspace, "checkout", "-q", "-B", branch)
            git(workspace, "add", "--", with_["add-paths"])
            git(workspace, "commit", "-q", "-m", with_["commit-message"])
            git(workspace, "push", "-q", "-f", "origin", branch)
            self.next_pr += 1
            number = str(self.next_pr)
            git(self.origin, "update-ref", f"refs/pull/{number}/head", f"refs/heads/{branch}")
            data = self.hub.load()
            data["pulls"][number] = {
                "state": "OPEN",
                "base": "main",
                "branch": branch,
                "token": with_["token"],
            }
            self.hub.save(data)
            outputs.update(
                {
                    "pull-request-number": number,
                    "pull-request-operation": "created",
                    "pull-request-branch": branch,
                }
            )
            return StepResult(uses, "success")
        raise AssertionError(f"no emulation of {uses}")


# -- the flows ---------------------------------------------------------------------------------

IN_SYNC = """\
ongage:
  lists:
    "1001":
      fields: [first_name]
      contacts:
        - {email: ann.archer@example.com, status: active, fields: {first_name: Ann}}
        - {email: ben.baker@example.com, status: active, fields: {first_name: Ben}}
        - {email: carla.cho@example.com, status: active, fields: {first_name: Carla}}
        - {email: dana.diaz@example.com, status: active, fields: {first_name: Dana}}
listmonk:
  lists:
    "3":
      name: product-updates
      contacts:
        - {email: ann.archer@example.com, status: active, fields: {first_name: Ann}}
        - {email: erik.eng@example.com, status: active, fields: {first_name: Erik}}
"""


@pytest.fixture
def team(tmp_path: Path) -> Iterator[Team]:
    yield Team(tmp_path, IN_SYNC)


def plan_of(run: Run) -> dict[str, str]:
    assert run.artifacts is not None
    (artifact,) = run.artifacts.iterdir()
    text = (artifact / "plan.txt").read_text()
    return dict(line.split("=", 1) for line in text.splitlines()) | {"artifact": artifact.name}


def test_two_pull_requests_planned_commented_in_place_applied_and_replanned(team: Team) -> None:
    first = team.open_pr("hana", "members/newsletter.csv", "hana.hall@example.com,Hana\n")
    second = team.open_pr("ivan", "members/product-updates.csv", "ivan.ito@example.com;Ivan\n")
    main_before = git(team.origin, "rev-parse", "main")

    run = team.run("plan.yml", team.pull_request_event(first))
    assert run.conclusion == "success", run.log()
    head = team.head(first)
    assert plan_of(run) == {
        "exitcode": "2",
        "head_sha": head,
        "base_sha": main_before,
        "artifact": f"reconciler-plan-{head}",
    }
    assert (run.artifacts / f"reconciler-plan-{head}" / "plan.zip").is_file()  # type: ignore[operator]
    (body,) = team.comments(first)
    assert body.splitlines()[0] == "<!-- reconciler-plan part 1 -->"
    assert (
        f"Plan for `{head[:12]}` (the head of #{first}) merged with `main` at `{main_before[:12]}`"
        in body
    )
    assert "h***@example.com" in body or "hana" in body

    # A second push: the same comment is edited, and names the new commit.
    team.push_to_pr(first, "members/newsletter.csv", "jo.jones@example.com,Jo\n")
    assert team.run("plan.yml", team.pull_request_event(first)).conclusion == "success"
    (body,) = team.comments(first)
    assert f"Plan for `{team.head(first)[:12]}`" in body and head[:12] not in body
    assert team.run("plan.yml", team.pull_request_event(second)).conclusion == "success"
    (second_body,) = team.comments(second)
    assert f"at `{main_before[:12]}`" in second_body

    merged = team.merge(first)
    apply = team.run("apply.yml", team.push_event(merged))
    assert apply.conclusion == "success", apply.log()
    steps = apply.steps("apply")
    assert steps["reconciler apply"].status == "success"
    assert steps["ledger"].status == "success"
    newsletter = team.vendor_list("ongage", "1001")
    assert newsletter["hana.hall@example.com"] == "active"
    assert newsletter["jo.jones@example.com"] == "active"

    # The other open pull request is planned again, by a dispatch on its branch.
    assert apply.steps("replan")["plan the open pull requests again"].status == "success"
    (dispatch,) = team.take_dispatches()
    assert dispatch == {"workflow": "plan.yml", "ref": "ivan", "inputs": {"pr": second}}
    github, inputs = team.dispatch_event(dispatch)
    replan = team.run("plan.yml", github, inputs=inputs)
    assert replan.conclusion == "success", replan.log()
    assert plan_of(replan)["base_sha"] == merged
    (second_body,) = team.comments(second)  # still one comment, now against the new main
    assert f"merged with `main` at `{merged[:12]}`" in second_body

    apply = team.run("apply.yml", team.push_event(team.merge(second)))
    assert apply.conclusion == "success", apply.log()
    assert team.vendor_list("listmonk", "3")["ivan.ito@example.com"] == "active"
    assert team.take_dispatches() == []  # no open pull request left


def test_a_pull_request_with_no_changes_is_applied_as_nothing(team: Team) -> None:
    number = team.open_pr(
        "comment", "config/growth.yaml", "# The newsletter goes out on Mondays.\n"
    )
    run = team.run("plan.yml", team.pull_request_event(number))
    assert run.conclusion == "success", run.log()
    assert plan_of(run)["exitcode"] == "0"
    (body,) = team.comments(number)
    assert f"Plan for `{team.head(number)[:12]}`" in body
    before = team.vendor_list("ongage", "1001")

    apply = team.run("apply.yml", team.push_event(team.merge(number)))
    assert apply.conclusion == "success", apply.log()
    steps = apply.steps("apply")
    assert steps["the reviewed plan"].status == "success"
    assert "has no changes: nothing to apply" in steps["the reviewed plan"].out
    assert steps["reconciler apply"].status == "skipped"
    assert steps["ledger"].status == "skipped"
    assert team.vendor_list("ongage", "1001") == before


def test_a_push_without_a_reviewed_plan_is_refused(team: Team) -> None:
    number = team.open_pr("unplanned", "members/newsletter.csv", "hana.hall@example.com,Hana\n")
    apply = team.run("apply.yml", team.push_event(team.merge(number)))
    assert apply.conclusion == "failure"
    step = apply.steps("apply")["the reviewed plan"]
    assert "no successful plan of pull request #1's last commit" in step.out
    assert apply.steps("apply")["reconciler apply"].status == "skipped"
    assert "hana.hall@example.com" not in team.vendor_list("ongage", "1001")


def test_a_plan_blocked_by_a_guard_is_posted_fails_its_check_and_is_never_applied(
    team: Team,
) -> None:
    members = "email,first_name\nann.archer@example.com,Ann\nben.baker@example.com,Ben\n"
    number = team.open_pr("cleanup", "members/newsletter.csv", members, append=False)
    run = team.run("plan.yml", team.pull_request_event(number))
    assert run.conclusion == "failure"
    steps = run.steps("plan")
    assert steps["reconciler plan"].status == "success"  # exit 3 still posts the plan
    assert steps["blocked by a safety guard"].code == 3
    assert "--allow" in steps["blocked by a safety guard"].out
    assert steps[next(s for s in steps if s.startswith("actions/upload-artifact"))].status == (
        "skipped"
    )
    (body,) = team.comments(number)
    assert "max_drop_percent" in body
    apply = team.run("apply.yml", team.push_event(team.merge(number)))
    assert apply.conclusion == "failure"
    assert apply.steps("apply")["reconciler apply"].status == "skipped"
    assert team.vendor_list("ongage", "1001")["carla.cho@example.com"] == "active"


def test_a_shorter_plan_deletes_the_parts_it_no_longer_has(team: Team) -> None:
    number = team.open_pr("short", "members/newsletter.csv", "hana.hall@example.com,Hana\n")
    data = team.hub.load()
    stale = {
        "id": 1,
        "issue": number,
        "user": {"login": "github-actions[bot]"},
        "body": "<!-- reconciler-plan part 2 -->\nan old second part",
    }
    human = {
        "id": 2,
        "issue": number,
        "user": {"login": "dev"},
        "body": "<!-- reconciler-plan part 1 -->\nquoted by a person",
    }
    data["comments"] += [stale, human]
    team.hub.save(data)
    assert team.run("plan.yml", team.pull_request_event(number)).conclusion == "success"
    bodies = team.comments(number)
    assert len(bodies) == 2 and human["body"] in bodies
    assert "an old second part" not in "".join(bodies)


def test_the_write_back_pull_request_gets_its_plan_check(team: Team) -> None:
    # Ben unsubscribed at Ongage: drift, and a write-back pull request opened with GITHUB_TOKEN.
    from reconciler.sandbox.server import EmbeddedSandbox

    seed = IN_SYNC.replace(
        "ben.baker@example.com, status: active", "ben.baker@example.com, status: unsubscribed"
    )
    (team.tmp / "seed.yaml").write_text(seed)
    with EmbeddedSandbox(team.vendors, seed=YAML(typ="safe").load(seed)):
        pass
    drift = team.run(
        "drift.yml", {"event_name": "schedule", "sha": git(team.origin, "rev-parse", "main")}
    )
    assert drift.conclusion == "success", drift.log()
    steps = drift.steps("drift")
    assert steps["write back the vendors' suppressions"].status == "success"
    number = "1"
    pull = team.hub.load()["pulls"][number]
    assert pull["branch"] == "reconciler/vendor-suppressions"
    assert pull["token"] == "ghs_test_token"  # no RECONCILER_WRITEBACK_TOKEN: GITHUB_TOKEN
    written = git(team.origin, "show", "reconciler/vendor-suppressions:suppressions/vendor.csv")
    assert "ben.baker@example.com" in written
    assert "started plan.yml for #1" in steps["plan the write-back pull request"].out

    (dispatch,) = team.take_dispatches()
    assert dispatch == {
        "workflow": "plan.yml",
        "ref": "reconciler/vendor-suppressions",
        "inputs": {"pr": number},
    }
    github, inputs = team.dispatch_event(dispatch)
    plan = team.run("plan.yml", github, inputs=inputs)
    assert plan.conclusion == "success", plan.log()
    # The check is reported on the write-back pull request's head commit, which branch
    # protection looks at, and apply.yml finds its plan there after the merge.
    assert team.hub.load()["runs"][-1]["head_sha"] == team.head(number)
    assert plan_of(plan)["head_sha"] == team.head(number)
    (body,) = team.comments(number)
    assert f"Plan for `{team.head(number)[:12]}` (the head of #1)" in body
    apply = team.run("apply.yml", team.push_event(team.merge(number)))
    assert apply.conclusion == "success", apply.log()


def test_with_a_write_back_token_the_pull_request_triggers_plan_itself(team: Team) -> None:
    from reconciler.sandbox.server import EmbeddedSandbox

    seed = IN_SYNC.replace(
        "ben.baker@example.com, status: active", "ben.baker@example.com, status: unsubscribed"
    )
    with EmbeddedSandbox(team.vendors, seed=YAML(typ="safe").load(seed)):
        pass
    drift = team.run(
        "drift.yml",
        {"event_name": "schedule", "sha": git(team.origin, "rev-parse", "main")},
        secrets={"RECONCILER_WRITEBACK_TOKEN": "ghs_app_token"},
    )
    assert drift.conclusion == "success", drift.log()
    assert team.hub.load()["pulls"]["1"]["token"] == "ghs_app_token"
    step = drift.steps("drift")["plan the write-back pull request"]
    assert "plan.yml runs on its own for #1" in step.out
    assert team.take_dispatches() == []


def test_a_closed_pull_request_is_not_planned(team: Team) -> None:
    number = team.open_pr("gone", "members/newsletter.csv", "hana.hall@example.com,Hana\n")
    data = team.hub.load()
    data["pulls"][number]["state"] = "CLOSED"
    team.hub.save(data)
    github, inputs = team.dispatch_event({"ref": "gone", "inputs": {"pr": number}})
    run = team.run("plan.yml", github, inputs=inputs)
    assert run.conclusion == "failure"
    assert (
        "pull request #1 is CLOSED"
        in run.steps("plan")["the pull request merged with its base"].out
    )
    assert team.comments(number) == []


# -- what the files promise ----------------------------------------------------------------------


def workflows() -> dict[str, dict[str, Any]]:
    return {p.name: YAML(typ="safe").load(p.read_text()) for p in sorted(WORKFLOWS.glob("*.yml"))}


def test_every_action_is_pinned_to_a_commit_with_its_release_named() -> None:
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for line in path.read_text().splitlines():
            if "uses:" not in line:
                continue
            match = re.search(r"uses:\s*([\w./-]+)@(\S+)\s*#\s*(v\d+\.\d+\.\d+)\s*$", line)
            assert match, f"{path.name}: {line.strip()} is not pinned to a commit"
            assert re.fullmatch(r"[0-9a-f]{40}", match[2]), f"{path.name}: {line.strip()}"


def test_one_action_one_commit_across_the_workflows() -> None:
    pins: dict[str, set[str]] = {}
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for match in re.finditer(r"uses:\s*([\w./-]+)@(\S+)", path.read_text()):
            pins.setdefault(match[1], set()).add(match[2])
    assert all(len(commits) == 1 for commits in pins.values()), pins


def test_the_role_variable_has_one_name_everywhere() -> None:
    texts = [p.read_text() for p in WORKFLOWS.glob("*.yml")]
    texts += [(EXAMPLE / "README.md").read_text(), (ROOT / "README.md").read_text()]
    joined = "\n".join(texts)
    assert "RECONCILER_AWS_ROLE" not in joined
    for name, spec in workflows().items():
        text = (WORKFLOWS / name).read_text()
        assert "vars.RECONCILER_ROLE_ARN" in text, name
        # The role is assumed through OIDC by the job that uses it, and only by it.
        for job in spec["jobs"].values():
            uses_role = any("configure-aws-credentials" in s.get("uses", "") for s in job["steps"])
            granted = {**(spec.get("permissions") or {}), **(job.get("permissions") or {})}
            assert (granted.get("id-token") == "write") == uses_role, name
    assert "RECONCILER_ROLE_ARN" in (EXAMPLE / "README.md").read_text()


def test_codeowners_names_an_owner_for_every_file_of_the_example() -> None:
    lines = [
        line.split()
        for line in (EXAMPLE / ".github" / "CODEOWNERS").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    rules = [(pattern, owners) for pattern, *owners in lines]
    assert all(owners and all(o.startswith("@") for o in owners) for _, owners in rules)

    def owners_of(path: str) -> list[str]:
        found: list[str] = []
        for pattern, owners in rules:  # the last matching pattern wins
            if (
                pattern == "*"
                or path == pattern.lstrip("/")
                or (pattern.endswith("/") and path.startswith(pattern.lstrip("/")))
            ):
                found = owners
        return found

    assert owners_of("config/growth.yaml") == ["@acme/growth"]
    assert owners_of("members/newsletter.csv") == ["@acme/growth"]
    assert owners_of("config/product.yaml") == ["@acme/product"]
    assert owners_of("members/product-updates.csv") == ["@acme/product"]
    for path in (
        "config/providers.yaml",
        "config/state.yaml",
        ".github/workflows/apply.yml",
        ".github/CODEOWNERS",
        "suppressions/global.csv",
    ):
        assert owners_of(path) and "@acme/growth" not in owners_of(path), path
    # The comments that promise an owner name the one CODEOWNERS gives.
    for name in ("growth", "product"):
        head = (EXAMPLE / "config" / f"{name}.yaml").read_text().splitlines()[0]
        assert f"@acme/{name}" in head and owners_of(f"config/{name}.yaml") == [f"@acme/{name}"]


def test_plan_reports_on_every_pull_request_and_can_be_started_again() -> None:
    spec = workflows()["plan.yml"]
    triggers = spec.get("on") or spec[True]  # YAML 1.1 reads a bare `on` as true
    assert triggers["pull_request"] is None  # no paths filter: a required check always reports
    assert triggers["workflow_dispatch"]["inputs"]["pr"]["required"] is True
    assert list(spec["jobs"]) == ["plan"]  # the check's name, the same for both events


if __name__ == "__main__":
    raise SystemExit(fake_gh(sys.argv[1:]))
