"""Everything the engine reads from the environment, read once at the start of a command and validated there.

| variable                 | default                  | what it is                                                  |
|--------------------------|--------------------------|-------------------------------------------------------------|
| the spec's source_url_env | (STRANGLER_SOURCE_URL)  | the monolith's database, unless `--source` is given          |
| the spec's target_url_env | (STRANGLER_TARGET_URL)  | the service's database, unless `--target` is given           |
| STRANGLER_ADMIN_URL      | http://127.0.0.1:8081    | the proxy's admin API, unless `--admin-url` is given         |
| STRANGLER_ADMIN_TOKEN    | (none)                   | its bearer token                                            |
| STRANGLER_ACTOR          | strangler data           | the author of every route change, in the route store's audit |

Command options come from `STRANGLER_DATA_<COMMAND>_<OPTION>` through click. Only the CLI reads settings; the
engine below it takes explicit arguments (the import contract keeps it so).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from strangler_playbook.errors import ConnectError, SettingsError
from strangler_playbook.spec.spec import Spec

DEFAULT_ADMIN_URL = "http://127.0.0.1:8081"
DEFAULT_ACTOR = "strangler data"


@dataclass(frozen=True)
class Settings:
    monolith_url: str  # "" when neither the option nor the variable gives one
    service_url: str
    monolith_url_env: str
    service_url_env: str
    admin_url: str = DEFAULT_ADMIN_URL
    admin_token: str = ""
    actor: str = DEFAULT_ACTOR

    @classmethod
    def load(
        cls,
        spec: Spec,
        *,
        source_url: str | None = None,
        target_url: str | None = None,
        admin_url: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        """The options given on the command line, else the environment; `SettingsError` names a bad variable."""
        env = os.environ if environ is None else environ
        admin = admin_url or env.get("STRANGLER_ADMIN_URL") or DEFAULT_ADMIN_URL
        _require_http_url(admin, "--admin-url" if admin_url else "STRANGLER_ADMIN_URL")
        return cls(
            monolith_url=source_url or env.get(spec.source_url_env, ""),
            service_url=target_url or env.get(spec.target_url_env, ""),
            monolith_url_env=spec.source_url_env,
            service_url_env=spec.target_url_env,
            admin_url=admin.rstrip("/"),
            admin_token=env.get("STRANGLER_ADMIN_TOKEN", ""),
            actor=env.get("STRANGLER_ACTOR", "").strip() or DEFAULT_ACTOR,
        )

    def database_urls(self, *, reverse: bool = False) -> tuple[str, str]:
        """(source, target) in this run's direction: monolith → service, or the other way with `reverse`."""
        if not self.monolith_url:
            raise ConnectError(
                "no source database URL", hint=f"pass --source URL or set {self.monolith_url_env} (named by the spec)"
            )
        if not self.service_url:
            raise ConnectError(
                "no target database URL", hint=f"pass --target URL or set {self.service_url_env} (named by the spec)"
            )
        if reverse:
            return self.service_url, self.monolith_url
        return self.monolith_url, self.service_url


def _require_http_url(value: str, name: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(
            f"{name} must be an http(s) URL such as {DEFAULT_ADMIN_URL}, got {value!r}",
            hint="point it at the proxy's admin listener (STRANGLER_ADMIN_LISTEN of `strangler proxy`)",
        )
