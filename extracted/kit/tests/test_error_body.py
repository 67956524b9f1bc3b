"""Every refusal leaves a kit service in the one error body, whatever raised it."""

import pytest

from strangler_kit.testing import assert_error


@pytest.mark.parametrize(
    ("number", "status", "code"), [(1, 400, "invalid"), (2, 404, "not_found"), (3, 409, "conflict")]
)
def test_a_domain_error_gets_its_status_and_code(anon, number, status, code):
    error = assert_error(anon.get(f"/api/numbers/{number}/"), status, code)

    assert error["message"] == "Refused."


def test_a_domain_error_names_its_fields(anon):
    assert assert_error(anon.get("/api/numbers/1/"), 400)["fields"] == {"number": ["Not this one."]}


def test_a_body_that_does_not_validate_names_each_field(as_user):
    error = assert_error(as_user(3, "charlie", staff=True).post("/api/numbers/", {"count": 0}), 400, "invalid")

    assert error["message"] == "Invalid input: count."
    assert error["fields"] == {"count": ["Ensure this value is greater than or equal to 1."]}


def test_a_path_id_outside_the_integer_rule_is_the_apis_404(anon):
    assert_error(anon.get("/api/numbers/1e3/"), 404, "not_found")
    assert_error(anon.get(f"/api/numbers/{2**63}/"), 404, "not_found")


def test_an_unknown_api_path_answers_in_the_error_body(anon):
    error = assert_error(anon.get("/api/nothing/here/"), 404, "not_found")

    assert error["message"] == "No API endpoint at /api/nothing/here/."


def test_a_method_the_endpoint_does_not_have_is_a_405_in_the_error_body(as_user):
    assert_error(as_user(3, "charlie", staff=True).delete("/api/numbers/"), 405, "method_not_allowed")
