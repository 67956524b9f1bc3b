"""The catalog serves the kit's health check (its answers are the kit's tests: extracted/kit/tests/test_healthz.py)."""


def test_the_catalog_serves_the_kits_health_check(anon, db):
    assert anon.get("/healthz").json() == {"status": "ok", "database": "ok"}
