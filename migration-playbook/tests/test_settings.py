"""The engine's settings: read once from the options and the environment, a bad value named by its variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from strangler_playbook.errors import ConnectError, SettingsError
from strangler_playbook.settings import DEFAULT_ACTOR, DEFAULT_ADMIN_URL, Settings
from strangler_playbook.spec.spec import Spec, load_spec

import catalog_fixture


@pytest.fixture
def spec(tmp_path: Path) -> Spec:
    path = catalog_fixture.write_spec(
        tmp_path,
        'name = "catalog"\nsource_url_env = "MONOLITH_DB"\ntarget_url_env = "CATALOG_DB"\n'
        '[[tables]]\nsource = "catalog_product"\n',
    )
    return load_spec(path)


def test_it_reads_the_variables_the_spec_names_and_the_proxys(spec: Spec) -> None:
    settings = Settings.load(
        spec,
        environ={
            "MONOLITH_DB": "sqlite:///m.db",
            "CATALOG_DB": "sqlite:///c.db",
            "STRANGLER_ADMIN_URL": "http://proxy:9000/",
            "STRANGLER_ADMIN_TOKEN": "t0ken",
            "STRANGLER_ACTOR": "alice",
        },
    )
    assert settings.database_urls() == ("sqlite:///m.db", "sqlite:///c.db")
    assert settings.database_urls(reverse=True) == ("sqlite:///c.db", "sqlite:///m.db")
    assert (settings.admin_url, settings.admin_token, settings.actor) == ("http://proxy:9000", "t0ken", "alice")


def test_options_win_over_the_environment_and_defaults_fill_the_rest(spec: Spec) -> None:
    settings = Settings.load(
        spec,
        source_url="m2.db",
        admin_url="http://127.0.0.1:7000",
        environ={"MONOLITH_DB": "m.db", "CATALOG_DB": "c.db", "STRANGLER_ACTOR": "  "},
    )
    assert settings.database_urls() == ("m2.db", "c.db")
    assert settings.admin_url == "http://127.0.0.1:7000"
    assert (settings.admin_token, settings.actor) == ("", DEFAULT_ACTOR)
    assert Settings.load(spec, environ={}).admin_url == DEFAULT_ADMIN_URL


@pytest.mark.parametrize("value", ["127.0.0.1:8081", "ftp://proxy", "http://", "admin"])
def test_an_admin_url_that_is_not_http_fails_at_once_naming_the_variable(spec: Spec, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.load(spec, environ={"STRANGLER_ADMIN_URL": value})
    assert caught.value.message.startswith("STRANGLER_ADMIN_URL must be an http(s) URL")
    assert caught.value.exit_code == 1
    with pytest.raises(SettingsError, match=r"^--admin-url must be"):
        Settings.load(spec, admin_url=value, environ={})


def test_a_missing_database_url_names_the_variable_the_spec_chose(spec: Spec) -> None:
    with pytest.raises(ConnectError) as caught:
        Settings.load(spec, environ={"MONOLITH_DB": "m.db"}).database_urls()
    assert caught.value.message == "no target database URL"
    assert "CATALOG_DB" in caught.value.hint
