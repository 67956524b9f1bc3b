from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest
from conftest import REQUIRED_SETTINGS as REQUIRED
from strangler_proxy.control.settings import VARIABLES, Settings
from strangler_proxy.dataplane.app import ProxyApp
from strangler_proxy.dataplane.model import RouteTable, Upstream
from strangler_proxy.errors import SettingsInvalid, TableInvalid


def test_settings_come_from_the_environment() -> None:
    settings = Settings.load(
        REQUIRED
        | {
            "STRANGLER_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1",
            "STRANGLER_SHADOW_QUEUE": "12",
            "STRANGLER_BREAKER_COOLDOWN": "2.5",
            "STRANGLER_ACCESS_LOG": "false",
        }
    ).proxy
    assert settings.trusted_proxies == (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("127.0.0.1/32"))
    assert settings.shadow_queue == 12 and settings.breaker_cooldown == 2.5 and settings.access_log is False


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"STRANGLER_TRUSTED_PROXIES": "10.0.0.0/33"}, "STRANGLER_TRUSTED_PROXIES"),
        ({"STRANGLER_SHADOW_QUEUE": "many"}, "STRANGLER_SHADOW_QUEUE"),
        ({"STRANGLER_SHADOW_QUEUE": "0"}, "STRANGLER_SHADOW_QUEUE"),
        ({"STRANGLER_RETRIES": "-1"}, "STRANGLER_RETRIES"),
        ({"STRANGLER_BREAKER_COOLDOWN": "0"}, "STRANGLER_BREAKER_COOLDOWN"),
        ({"STRANGLER_ACCESS_LOG": "maybe"}, "STRANGLER_ACCESS_LOG"),
        ({"STRANGLER_VIA_NAME": "two words"}, "STRANGLER_VIA_NAME"),
        ({"STRANGLER_IDENTITY_CACHE_SECONDS": "soon"}, "STRANGLER_IDENTITY_CACHE_SECONDS"),
        ({"STRANGLER_IDENTITY_CACHE_SECONDS": "-1"}, "STRANGLER_IDENTITY_CACHE_SECONDS"),
        ({"STRANGLER_IDENTITY_KEY": "short"}, "STRANGLER_IDENTITY_KEY"),
        ({"STRANGLER_SERVER_MAX_URL_BYTES": "0"}, "STRANGLER_SERVER_MAX_URL_BYTES"),
        ({"STRANGLER_SERVER_HEADER_TIMEOUT": "never"}, "STRANGLER_SERVER_HEADER_TIMEOUT"),
        ({"STRANGLER_SERVER_KEEPALIVE_TIMEOUT": "nan"}, "STRANGLER_SERVER_KEEPALIVE_TIMEOUT"),
        ({"STRANGLER_DATA_MAX_LAG": "0"}, "STRANGLER_DATA_MAX_LAG"),
    ],
)
def test_a_bad_setting_fails_loudly_naming_its_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsInvalid, match=variable):
        Settings.load(REQUIRED | env)


def test_the_servers_limits_and_the_identity_cache_are_settings_too() -> None:
    settings = Settings.load(
        REQUIRED
        | {
            "STRANGLER_SERVER_MAX_HEADERS": "50",
            "STRANGLER_SERVER_BODY_TIMEOUT": "2.5",
            "STRANGLER_IDENTITY_CACHE_SECONDS": "0",
            "STRANGLER_DATA_MAX_AGE": "30",
        }
    )
    assert (settings.server.max_headers, settings.server.body_timeout) == (50, 2.5)
    assert settings.proxy.identity_cache_seconds == 0.0 and settings.data_gate.max_age == 30.0


def test_a_keyword_names_any_setting_and_an_unknown_one_is_refused() -> None:
    assert Settings.load(REQUIRED, shadow_workers=3, server_max_headers=7).proxy.shadow_workers == 3
    with pytest.raises(SettingsInvalid, match="unknown setting"):
        Settings.load(REQUIRED, shadow_wrokers=3)


def test_a_bad_table_is_refused_and_the_running_one_kept() -> None:
    good = RouteTable(version=1, upstreams={"monolith": Upstream("monolith", "http://127.0.0.1:1")}, routes=())
    app = ProxyApp(good)
    bad = RouteTable(version=2, upstreams={"catalog": Upstream("catalog", "http://127.0.0.1:2")}, routes=())
    with pytest.raises(TableInvalid):
        app.set_table(bad)
    assert app.table is good


def test_the_readme_table_lists_exactly_the_settings_the_process_reads() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `(STRANGLER_[A-Z_]+)` \|", section, re.M)
    assert sorted(documented) == sorted(VARIABLES.values())
    assert len(documented) == len(set(documented))
