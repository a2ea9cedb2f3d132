"""Property: whatever a vendor answers, a provider returns a result or raises a ProviderError
that names the vendor and the endpoint, never another exception (which would reach the user as
a traceback).

Answers are the documented ones with any value replaced by another JSON value or left out, or
any JSON at all. Each provider's HTTP client is given a mock transport: no server involved.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.config.schema import Credentials, ListConfig, ProviderConfig
from reconciler.errors import ProviderError
from reconciler.model import Action
from reconciler.providers.base import Batch, JobRef, Provider
from reconciler.registry import provider_class
from tests.hypothesis_budget import examples

CREDS = Credentials(
    username="u",  # type: ignore[arg-type]
    password="p",  # type: ignore[arg-type]
    api_key="k",  # type: ignore[arg-type]
    account_code="a",  # type: ignore[arg-type]
)
LIST_IDS = {"ongage": "1001", "yesmail": "weekly", "listmonk": "3", "omnigage": "L1"}
FILE = "news-add-0001-0000.csv"
#: A documented answer per vendor, with every key a provider reads.
DOCUMENTED: dict[str, Any] = {
    "ongage": {
        "payload": {
            "id": 1,
            "status": 40003,
            "status_desc": "Completed",
            "status_info": "",
            "success": "1",
            "failed": "0",
            "total": "1",
            "name": FILE,
            "file_url": f"http://x/f/{FILE}",
        }
    },
    "ongage-listing": {"payload": [{"id": 1, "name": FILE, "file_url": f"http://x/f/{FILE}"}]},
    "yesmail": {
        "state": "completed",
        "message": "m",
        "response": {"location": "http://x/v2/async-results/1"},
        "counts": {"completed": 1, "failed": 1, "total": 2},
        "failed": [{"index": 0, "error": {"status": 400, "message": "bad"}}],
    },
    "listmonk": {
        "data": {
            "name": "x.csv",
            "status": "failed",
            "total": 1,
            "imported": 0,
            "results": [
                {
                    "id": 1,
                    "email": "a@example.com",
                    "name": "A",
                    "status": "enabled",
                    "attribs": {"first_name": "A"},
                    "lists": [{"id": 3, "subscription_status": "confirmed"}],
                }
            ],
        }
    },
    "omnigage": {
        "data": {
            "id": "X",
            "attributes": {"status": "completed", "count-erred": 0, "count-total": 1},
        }
    },
}
LEAF = (
    st.none()
    | st.booleans()
    | st.integers(-5, 100)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=4)
    | st.just([])
    | st.just({})
)
ANY_JSON = st.recursive(
    LEAF, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner)
)


def mutated(sample: Any) -> st.SearchStrategy[Any]:
    """``sample`` with keys left out and values replaced by any JSON value."""
    if isinstance(sample, dict):
        return st.fixed_dictionaries({}, optional={k: mutated(v) for k, v in sample.items()})
    if isinstance(sample, list):
        return st.lists(mutated(sample[0]), max_size=2)
    return st.one_of(st.just(sample), LEAF)


def make(vendor: str, answer: Any, workdir: Path) -> Provider:
    config = ProviderConfig(type=vendor, credentials=CREDS)
    made = provider_class(vendor)("p", config, base_url=f"http://x/{vendor}", workdir=workdir)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/retrieve"):  # an Ongage export: not a ZIP either
            return httpx.Response(200, content=b"PK\x03\x04 not a zip")
        headers = {"Content-Location": "http://x/v2/tickets/1"}
        return httpx.Response(200, json=answer, headers=headers)

    http = made.http  # type: ignore[attr-defined]
    http.client = httpx.Client(
        transport=httpx.MockTransport(handler), base_url=f"http://x/{vendor}"
    )
    http._sleep = lambda _seconds: None
    return made


def calls(vendor: str, made: Provider, batch_file: Path) -> Iterator[Callable[[], object]]:
    config = ListConfig(provider="p", list_id=LIST_IDS[vendor], managed_fields=["first_name"])
    batch = Batch(
        "news", LIST_IDS[vendor], Action.ADD, 1, batch_file, 1, "0" * 64, f"http://x/{FILE}"
    )
    yield lambda: made.poll(config, JobRef("1", {"name": "x.csv", "file": str(batch_file)}))
    yield lambda: made.find_submitted(config, batch)
    if made.can_read_current:
        # ref(): the snapshot's fingerprint is read in a thread, finished before the files go
        yield lambda: made.read_current("news", config).ref(0)
    if vendor != "omnigage":  # its submit posts to a pre-signed URL the answer names
        yield lambda: made.submit(config, batch)
    if vendor == "listmonk":
        yield lambda: made.submit(
            config, Batch("news", "3", Action.REMOVE, 1, batch_file, 1, "0" * 64)
        )


def check(vendor: str, answer: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        batch_file = Path(tmp) / "news-add-0001.csv"
        batch_file.write_text("email,first_name\na@example.com,A\n")
        made = make(vendor, answer, Path(tmp))
        for call in calls(vendor, made, batch_file):
            try:
                call()
            except ProviderError as exc:
                assert str(exc).startswith(f"{vendor} ") and exc.endpoint, str(exc)
        made.close()


@pytest.mark.parametrize("documented", sorted(DOCUMENTED))
def test_any_variation_of_a_documented_answer(documented: str) -> None:
    vendor = documented.split("-")[0]

    @examples(25)
    @given(mutated(DOCUMENTED[documented]))
    def run(answer: Any) -> None:
        check(vendor, answer)

    run()


@pytest.mark.parametrize("vendor", sorted(LIST_IDS))
def test_any_json_at_all(vendor: str) -> None:
    @examples(15)
    @given(ANY_JSON)
    def run(answer: Any) -> None:
        check(vendor, json.loads(json.dumps(answer)))

    run()
