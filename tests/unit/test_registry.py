"""One place per vendor: the registry's classes describe their vendors, and the config
schema, the capability gaps and the export formats derive from them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.config.loader import load_config
from reconciler.config.schema import Config
from reconciler.errors import ConfigError
from reconciler.exports.files import ExportLayout
from reconciler.model import Action
from reconciler.providers.base import Provider
from reconciler.registry import (
    PROVIDERS,
    export_formats,
    provider_class,
    provider_classes,
    vendor_names,
)

OURS = {"active", "unsubscribed", "bounced", "complaint"}


@pytest.mark.parametrize("vendor", list(PROVIDERS))
def test_each_class_describes_its_vendor(vendor: str) -> None:
    cls = provider_class(vendor)
    assert issubclass(cls, Provider)
    assert cls.vendor == vendor
    assert cls.default_base_url.startswith(("https://", "http://localhost"))
    assert Action.ADD in cls.capabilities and cls.capabilities <= set(Action)
    assert set(cls.status_words.values()) <= OURS
    assert all(isinstance(layout, ExportLayout) for layout in cls.export_formats.values())


def test_the_documented_words_of_the_readable_vendors() -> None:
    # ongage-export-api.txt, status: 'active', 'unjoin-member', 'bounced', 'complaint'.
    assert dict(provider_class("ongage").status_words) == {
        "active": "active",
        "unjoin-member": "unsubscribed",
        "bounced": "bounced",
        "complaint": "complaint",
    }
    assert provider_class("listmonk").status_words["blocklisted"] == "unsubscribed"


def test_the_config_schema_lists_exactly_the_registered_names() -> None:
    schema = Config.model_json_schema()
    assert schema["$defs"]["ProviderConfig"]["properties"]["type"]["enum"] == list(PROVIDERS)
    export = schema["$defs"]["ExportConfig"]["properties"]["format"]["enum"]
    assert export == ["ongage", "listmonk-csv", "listmonk-json"] == list(export_formats())
    assert vendor_names() == tuple(cls.vendor for cls in provider_classes())


def test_unknown_names_are_errors_at_their_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "reconciler.yaml").write_text(
        "providers:\n"
        "  main:\n"
        "    type: mailchimp\n"
        "lists:\n"
        "  news:\n"
        "    provider: main\n"
        "    list_id: '1'\n"
        "    members: [{inline: [{email: a@example.com}]}]\n"
        "    export:\n"
        "      format: ongage-json\n"
        "      path: export.csv\n"
    )
    with pytest.raises(ConfigError) as exc:
        load_config(Path("reconciler.yaml"), env={})
    assert [str(p) for p in exc.value.problems] == [
        "reconciler.yaml:3:5: [providers.main.type] "
        "expected 'ongage', 'listmonk', 'yesmail' or 'omnigage'",
        "reconciler.yaml:10:7: [lists.news.export.format] "
        "expected 'ongage', 'listmonk-csv' or 'listmonk-json', got 'ongage-json'",
    ]


def test_a_class_that_names_another_vendor_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PROVIDERS, "ongage2", PROVIDERS["ongage"])  # type: ignore[index]
    with pytest.raises(TypeError, match="describes itself as 'ongage', not 'ongage2'"):
        provider_class("ongage2")


def test_validating_a_configuration_imports_no_provider() -> None:
    code = (
        "import sys, reconciler.config.loader, reconciler.registry\n"
        "print(sorted(m for m in sys.modules if m.startswith(('httpx', 'reconciler.providers'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"  # the registry names the providers; it loads none
