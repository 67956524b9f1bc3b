from unittest import mock

from django.db import DatabaseError


def test_healthz_answers_ok_when_the_database_does(anon, db):
    response = anon.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_healthz_is_a_503_when_the_database_does_not_answer(anon, db):
    with mock.patch("strangler_kit.views.connection.cursor", side_effect=DatabaseError("down")):
        response = anon.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "unreachable"}
