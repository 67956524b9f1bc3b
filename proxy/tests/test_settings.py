from __future__ import annotations

import ipaddress

import pytest
from strangler_proxy.dataplane.app import ProxyApp
from strangler_proxy.dataplane.model import RouteTable, Upstream
from strangler_proxy.dataplane.routing import InvalidRouteTable
from strangler_proxy.dataplane.settings import ProxySettings, SettingsError


def test_settings_come_from_the_environment() -> None:
    settings = ProxySettings.from_env(
        {
            "STRANGLER_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1",
            "STRANGLER_SHADOW_QUEUE": "12",
            "STRANGLER_BREAKER_COOLDOWN": "2.5",
            "STRANGLER_ACCESS_LOG": "false",
        }
    )
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
    ],
)
def test_a_bad_setting_fails_loudly_naming_its_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        ProxySettings.from_env(env)


def test_a_bad_table_is_refused_and_the_running_one_kept() -> None:
    good = RouteTable(version=1, upstreams={"monolith": Upstream("monolith", "http://127.0.0.1:1")}, routes=())
    app = ProxyApp(good)
    bad = RouteTable(version=2, upstreams={"catalog": Upstream("catalog", "http://127.0.0.1:2")}, routes=())
    with pytest.raises(InvalidRouteTable):
        app.set_table(bad)
    assert app.table is good
