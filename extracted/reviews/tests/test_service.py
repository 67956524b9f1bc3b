"""The service stands alone: its code comes from its own folder or the kit, it needs its configuration, and its
migrations are complete."""

import importlib
import importlib.util
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from strangler_kit.testing import load_settings

SERVICE = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("package", ["reviews", "config"])
def test_each_package_is_the_services_own(package):
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.origin is not None
    assert Path(spec.origin).resolve().is_relative_to(SERVICE)


@pytest.mark.parametrize("package", ["catalog", "customers", "orders", "inventory", "common", "identity"])
def test_the_monoliths_apps_are_not_importable(package):
    assert importlib.util.find_spec(package) is None


def test_the_migrations_match_the_models(db):
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)


@pytest.fixture
def production_env(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "s3cret")
    monkeypatch.setenv("ALLOWED_HOSTS", "reviews.internal")
    monkeypatch.setenv("DATABASE_URL", "postgresql://reviews@reviews-db:5432/reviews")
    monkeypatch.setenv("STRANGLER_IDENTITY_KEY", "k" * 32)
    monkeypatch.setenv("CATALOG_URL", "http://proxy:8080")
    return monkeypatch


@pytest.mark.parametrize("variable", ["SECRET_KEY", "STRANGLER_IDENTITY_KEY", "CATALOG_URL", "ALLOWED_HOSTS"])
def test_production_refuses_to_start_without_each_variable(production_env, variable):
    production_env.delenv(variable)

    with pytest.raises(ImproperlyConfigured, match=variable):
        load_settings("config.settings.production")


def test_production_reads_everything_from_the_environment(production_env):
    settings = load_settings("config.settings.production")

    assert settings.DATABASES["default"]["NAME"] == "reviews"
    assert settings.CATALOG_URL == "http://proxy:8080"
    assert settings.ALLOWED_HOSTS == ["reviews.internal"]


def test_production_keeps_connections_and_checks_them_before_reuse(production_env):
    production_env.delenv("CONN_MAX_AGE", raising=False)

    database = load_settings("config.settings.production").DATABASES["default"]

    assert database["CONN_MAX_AGE"] == 60
    assert database["CONN_HEALTH_CHECKS"] is True
