import importlib
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured


def load(module: str):
    sys.modules.pop(module, None)
    return importlib.import_module(module)


def test_production_refuses_to_start_without_a_secret_key(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("ALLOWED_HOSTS", "shop.example")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///:memory:")

    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY"):
        load("config.settings.production")


def test_production_reads_everything_from_the_environment(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "s3cret")
    monkeypatch.setenv("ALLOWED_HOSTS", "shop.example,api.shop.example")
    monkeypatch.setenv("DATABASE_URL", "postgresql://shop@db:5432/shop")
    monkeypatch.setenv("DEBUG", "false")

    settings = load("config.settings.production")

    assert settings.SECRET_KEY == "s3cret"
    assert settings.ALLOWED_HOSTS == ["shop.example", "api.shop.example"]
    assert settings.DATABASES["default"]["NAME"] == "shop"
    assert settings.DEBUG is False


def test_production_keeps_connections_and_checks_them_before_reuse(monkeypatch):
    production_environment(monkeypatch)
    monkeypatch.setenv("DATABASE_URL", "postgresql://shop@db:5432/shop")
    monkeypatch.delenv("CONN_MAX_AGE", raising=False)

    database = load("config.settings.production").DATABASES["default"]

    assert database["CONN_MAX_AGE"] == 60
    assert database["CONN_HEALTH_CHECKS"] is True


def test_development_defaults_to_sqlite_next_to_manage_py(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)

    settings = load("config.settings.development")

    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert str(settings.DATABASES["default"]["NAME"]).endswith("monolith/db.sqlite3")
    assert settings.SECRET_KEY


def test_an_sqlite_file_is_set_up_for_concurrent_requests(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'shop.sqlite3'}")

    options = load("config.settings.development").DATABASES["default"]["OPTIONS"]

    assert options["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in options["init_command"]


def test_postgresql_options_are_left_alone(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://shop@db:5432/shop")

    database = load("config.settings.development").DATABASES["default"]

    assert "transaction_mode" not in database.get("OPTIONS", {})


def production_environment(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "s3cret")
    monkeypatch.setenv("ALLOWED_HOSTS", "shop.example")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///:memory:")


def test_production_needs_no_catalog_service_until_one_is_configured(monkeypatch):
    production_environment(monkeypatch)
    monkeypatch.delenv("CATALOG_SERVICE_URL", raising=False)
    monkeypatch.delenv("STRANGLER_IDENTITY_KEY", raising=False)

    settings = load("config.settings.production")

    assert settings.CATALOG_SERVICE_URL == ""


def test_production_with_a_catalog_service_refuses_to_start_without_the_identity_key(monkeypatch):
    production_environment(monkeypatch)
    monkeypatch.setenv("CATALOG_SERVICE_URL", "http://catalog:8001")
    monkeypatch.setenv("STRANGLER_IDENTITY_KEY", "too-short")

    with pytest.raises(ImproperlyConfigured, match="STRANGLER_IDENTITY_KEY"):
        load("config.settings.production")

    monkeypatch.setenv("STRANGLER_IDENTITY_KEY", "k" * 32)
    monkeypatch.setenv("CATALOG_SERVICE_TIMEOUT", "0.5")
    sys.modules.pop("config.settings.base", None)  # where the timeout is read
    settings = load("config.settings.production")
    assert (settings.CATALOG_SERVICE_URL, settings.CATALOG_SERVICE_TIMEOUT_S) == ("http://catalog:8001", 0.5)


def test_development_finds_the_catalog_service_where_make_up_runs_it(monkeypatch):
    monkeypatch.delenv("CATALOG_SERVICE_URL", raising=False)
    monkeypatch.delenv("STRANGLER_IDENTITY_KEY", raising=False)

    settings = load("config.settings.development")

    assert settings.CATALOG_SERVICE_URL == "http://127.0.0.1:8001"
    assert len(settings.STRANGLER_IDENTITY_KEY) >= 32


def test_production_with_an_inventory_service_refuses_to_start_without_the_identity_key(monkeypatch):
    production_environment(monkeypatch)
    monkeypatch.delenv("CATALOG_SERVICE_URL", raising=False)
    monkeypatch.setenv("INVENTORY_SERVICE_URL", "http://inventory:8002")
    monkeypatch.delenv("STRANGLER_IDENTITY_KEY", raising=False)

    with pytest.raises(ImproperlyConfigured, match="STRANGLER_IDENTITY_KEY"):
        load("config.settings.production")

    monkeypatch.setenv("STRANGLER_IDENTITY_KEY", "k" * 32)
    settings = load("config.settings.production")
    assert (settings.INVENTORY_SERVICE_URL, settings.STRANGLER_IDENTITY_KEY) == ("http://inventory:8002", "k" * 32)


def test_production_with_a_reviews_service_refuses_to_start_without_the_identity_key(monkeypatch):
    production_environment(monkeypatch)
    monkeypatch.delenv("CATALOG_SERVICE_URL", raising=False)
    monkeypatch.delenv("INVENTORY_SERVICE_URL", raising=False)
    monkeypatch.setenv("REVIEWS_SERVICE_URL", "http://reviews:8003")
    monkeypatch.delenv("STRANGLER_IDENTITY_KEY", raising=False)

    with pytest.raises(ImproperlyConfigured, match="STRANGLER_IDENTITY_KEY"):
        load("config.settings.production")

    monkeypatch.setenv("STRANGLER_IDENTITY_KEY", "k" * 32)
    monkeypatch.setenv("REVIEWS_SERVICE_TIMEOUT", "0.5")
    sys.modules.pop("config.settings.base", None)  # where the timeout is read
    settings = load("config.settings.production")
    assert (settings.REVIEWS_SERVICE_URL, settings.REVIEWS_SERVICE_TIMEOUT_S) == ("http://reviews:8003", 0.5)


def test_development_finds_the_reviews_service_where_make_up_runs_it(monkeypatch):
    monkeypatch.delenv("REVIEWS_SERVICE_URL", raising=False)

    assert load("config.settings.development").REVIEWS_SERVICE_URL == "http://127.0.0.1:8003"
