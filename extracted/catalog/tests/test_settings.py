import pytest
from django.core.exceptions import ImproperlyConfigured
from strangler_kit.testing import load_settings

KEY = "k" * 32


@pytest.fixture
def production_env(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "s3cret")
    monkeypatch.setenv("ALLOWED_HOSTS", "catalog.internal")
    monkeypatch.setenv("DATABASE_URL", "postgresql://catalog@catalog-db:5432/catalog")
    monkeypatch.setenv("STRANGLER_IDENTITY_KEY", KEY)
    return monkeypatch


def test_production_refuses_to_start_without_a_secret_key(production_env):
    production_env.delenv("SECRET_KEY")

    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY"):
        load_settings("config.settings.production")


def test_production_refuses_to_start_without_an_identity_key(production_env):
    production_env.delenv("STRANGLER_IDENTITY_KEY")

    with pytest.raises(ImproperlyConfigured, match="STRANGLER_IDENTITY_KEY"):
        load_settings("config.settings.production")


def test_a_short_identity_key_is_refused_in_every_environment(production_env):
    production_env.setenv("STRANGLER_IDENTITY_KEY", "k" * 31)

    for module in ("config.settings.production", "config.settings.development"):
        with pytest.raises(ImproperlyConfigured, match=r"STRANGLER_IDENTITY_KEY.*at least 32"):
            load_settings(module)


def test_production_reads_everything_from_the_environment(production_env):
    production_env.setenv("DEBUG", "false")

    settings = load_settings("config.settings.production")

    assert settings.SECRET_KEY == "s3cret"
    assert settings.ALLOWED_HOSTS == ["catalog.internal"]
    assert settings.DATABASES["default"]["NAME"] == "catalog"
    assert settings.STRANGLER_IDENTITY_KEY == KEY
    assert settings.DEBUG is False


def test_production_keeps_connections_and_checks_them_before_reuse(production_env):
    production_env.delenv("CONN_MAX_AGE", raising=False)

    database = load_settings("config.settings.production").DATABASES["default"]

    assert database["CONN_MAX_AGE"] == 60
    assert database["CONN_HEALTH_CHECKS"] is True


def test_development_defaults_to_its_own_sqlite_file_next_to_manage_py(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("STRANGLER_IDENTITY_KEY", raising=False)

    settings = load_settings("config.settings.development")

    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert str(settings.DATABASES["default"]["NAME"]).endswith("extracted/catalog/db.sqlite3")
    assert settings.SECRET_KEY
    assert len(settings.STRANGLER_IDENTITY_KEY) >= 32


def test_an_sqlite_file_is_set_up_for_concurrent_requests(monkeypatch, tmp_path):
    monkeypatch.delenv("STRANGLER_IDENTITY_KEY", raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'catalog.sqlite3'}")

    options = load_settings("config.settings.development").DATABASES["default"]["OPTIONS"]

    assert options["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in options["init_command"]


def test_postgresql_options_are_left_alone(monkeypatch):
    monkeypatch.delenv("STRANGLER_IDENTITY_KEY", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://catalog@catalog-db:5432/catalog")

    database = load_settings("config.settings.development").DATABASES["default"]

    assert "transaction_mode" not in database.get("OPTIONS", {})
