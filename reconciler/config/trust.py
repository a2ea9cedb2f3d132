"""Where a provider's credentials may be sent.

A pull request writes the configuration, and the CI run that plans it holds the vendors'
credentials: a ``base_url`` written in the repository could send them to any host. So a
provider with credentials talks only to a host that whoever runs reconciler chose or the vendor
is: the vendor's documented API (no ``base_url``), the built-in sandbox, this machine
(loopback), a ``base_url`` taken from the environment (``${env:NAME}``), or an origin listed in
:data:`TRUSTED_ENV` (set in the CI job's environment, e.g. from a repository variable).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Mapping
from urllib.parse import urlsplit

from reconciler.config.locations import SourceMap, problem_at
from reconciler.config.schema import SANDBOX_URL, Config, ProviderConfig
from reconciler.errors import Problem

TRUSTED_ENV = "RECONCILER_TRUSTED_URLS"


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, lower-cased; what trust is granted to."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme.lower()}://{host}{port}"


def _loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def trusted_origins(env: Mapping[str, str]) -> frozenset[str]:
    raw = env.get(TRUSTED_ENV, "")
    return frozenset(origin(u) for u in raw.replace(",", " ").split() if u)


def _has_credentials(config: ProviderConfig) -> bool:
    creds = config.credentials
    return any(
        v is not None for v in (creds.username, creds.password, creds.api_key, creds.account_code)
    )


def base_url_problems(
    config: Config,
    source_map: SourceMap,
    env: Mapping[str, str],
    from_env: Collection[str],
) -> list[Problem]:
    """A problem for each provider whose credentials would go to a host the repository chose;
    ``from_env`` names the providers whose ``base_url`` came from ``${env:…}``."""
    trusted = trusted_origins(env)
    problems = []
    for name, provider in config.providers.items():
        url = provider.base_url
        if (
            url is None
            or url == SANDBOX_URL
            or name in from_env
            or not _has_credentials(provider)
            or _loopback(url)
            or origin(url) == origin(_default_base_url(provider.type))
            or origin(url) in trusted
        ):
            continue
        where = origin(url)
        problems.append(
            problem_at(
                f"base_url {where} is not {provider.type}'s own API, and the provider's "
                "credentials would be sent there: a base_url written in the repository could "
                "send them anywhere. Take it from the environment (base_url: ${env:NAME}), or "
                f"list {where} in the environment variable {TRUSTED_ENV} where reconciler runs",
                source_map.locate("providers", name, "base_url"),
                ("providers", name, "base_url"),
            )
        )
    return problems


def _default_base_url(vendor: str) -> str:
    # Imported here: the providers import the config schema.
    from reconciler.registry import provider_class

    return provider_class(vendor).default_base_url


__all__ = ["TRUSTED_ENV", "base_url_problems", "origin", "trusted_origins"]
