"""The kit's settings helpers refuse a bad configuration at start, naming the variable."""

import environ
import pytest
from django.core.exceptions import ImproperlyConfigured

from strangler_kit import settings as kit
from strangler_kit.testing import load_settings


def test_a_missing_identity_key_names_the_variable(monkeypatch):
    monkeypatch.delenv("STRANGLER_IDENTITY_KEY", raising=False)

    with pytest.raises(ImproperlyConfigured, match="STRANGLER_IDENTITY_KEY"):
        kit.identity_key(environ.Env())


def test_a_short_identity_key_is_refused_even_as_a_default(monkeypatch):
    monkeypatch.delenv("STRANGLER_IDENTITY_KEY", raising=False)

    with pytest.raises(ImproperlyConfigured, match=r"at least 32 characters; it is 5"):
        kit.identity_key(environ.Env(), default="short")


def test_the_identity_key_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("STRANGLER_IDENTITY_KEY", "k" * 32)

    assert kit.identity_key(environ.Env(), default="d" * 40) == "k" * 32


def test_the_audience_defaults_to_the_services_name_and_a_blank_one_is_refused(monkeypatch):
    monkeypatch.delenv("STRANGLER_IDENTITY_AUDIENCE", raising=False)
    assert kit.identity_audience(environ.Env(), default="reviews") == "reviews"
    monkeypatch.setenv("STRANGLER_IDENTITY_AUDIENCE", " reviews")

    with pytest.raises(ImproperlyConfigured, match="STRANGLER_IDENTITY_AUDIENCE"):
        kit.identity_audience(environ.Env(), default="reviews")


def test_v1_identities_are_refused_unless_switched_on(monkeypatch):
    monkeypatch.delenv("STRANGLER_IDENTITY_ACCEPT_V1", raising=False)
    assert kit.identity_accept_v1(environ.Env()) is False
    monkeypatch.setenv("STRANGLER_IDENTITY_ACCEPT_V1", "true")

    assert kit.identity_accept_v1(environ.Env()) is True


def test_an_sqlite_file_is_set_up_for_concurrent_requests(tmp_path):
    database = kit.serving_ready(environ.Env.db_url_config(f"sqlite:///{tmp_path / 'a.sqlite3'}"))

    assert database["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in database["OPTIONS"]["init_command"]


@pytest.mark.parametrize("url", ["sqlite:///:memory:", "postgresql://svc@db:5432/svc"])
def test_memory_and_postgresql_databases_are_left_alone(url):
    database = kit.serving_ready(environ.Env.db_url_config(url))

    assert "transaction_mode" not in database.get("OPTIONS", {})


def test_overrides_replace_one_drf_setting_and_keep_the_others():
    drf = kit.rest_framework(PAGE_SIZE=50)

    assert drf["PAGE_SIZE"] == 50
    assert drf["EXCEPTION_HANDLER"] == "strangler_kit.exception_handler.exception_handler"


def test_the_shared_base_settings_read_the_environment_as_it_is_when_loaded(monkeypatch):
    monkeypatch.setenv("ALLOWED_HOSTS", "reviews.internal,localhost")
    monkeypatch.setenv("STRANGLER_IDENTITY_ACCEPT_V1", "true")
    monkeypatch.delenv("STATIC_ROOT", raising=False)

    base = load_settings("strangler_kit.base_settings")

    assert base.ALLOWED_HOSTS == ["reviews.internal", "localhost"]
    assert base.STRANGLER_IDENTITY_ACCEPT_V1 is True
    assert base.DEBUG is False and base.WHITENOISE_USE_FINDERS is True
    assert base.REST_FRAMEWORK["EXCEPTION_HANDLER"] == "strangler_kit.exception_handler.exception_handler"
    monkeypatch.setenv("STATIC_ROOT", "/srv/static")
    assert load_settings("strangler_kit.base_settings").WHITENOISE_USE_FINDERS is False
