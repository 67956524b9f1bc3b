"""The comparator on its own: JSON field by field with paths, headers, hashes, normalisers and ignore rules."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strangler_proxy.compare.jsonpath import JsonPathError, format_path, generalise, parse_path
from strangler_proxy.compare.normalise import context_for
from strangler_proxy.compare.redact import Redactor
from strangler_proxy.compare.response_diff import compare_responses
from strangler_proxy.dataplane.model import CompareSettings
from strangler_proxy.dataplane.shadow import CapturedResponse

CTX = context_for([(b"host", b"shop.example")], "http://127.0.0.1:8000", "http://127.0.0.1:8001", request_id="rid-42")


def answer(body: Any, status: int = 200, headers: list[tuple[bytes, bytes]] | None = None) -> CapturedResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return CapturedResponse(status, headers or [(b"content-type", b"application/json")], raw, False, 0.001)


def paths(a: CapturedResponse, b: CapturedResponse, **settings: Any) -> list[str]:
    return [d.path for d in compare_responses(a, b, settings=CompareSettings(**settings), ctx=CTX).diffs]


PAGE = {"count": 2, "results": [{"id": 1, "price": "9.99"}, {"id": 2, "price": "5.00"}]}


def test_identical_answers_have_no_differences() -> None:
    assert paths(answer(PAGE), answer(PAGE)) == []


def test_a_price_formatted_differently_is_reported_on_exactly_that_field() -> None:
    other = {"count": 2, "results": [{"id": 1, "price": "9.99"}, {"id": 2, "price": "5.0"}]}
    (diff,) = compare_responses(answer(PAGE), answer(other), settings=CompareSettings(), ctx=CTX).diffs
    assert (diff.path, diff.field, diff.kind, diff.expected, diff.actual) == (
        "$.results[1].price",
        "$.results[*].price",
        "changed",
        "5.00",
        "5.0",
    )


def test_a_number_never_equals_a_string_but_one_equals_one_point_zero() -> None:
    assert paths(answer({"p": "9.99"}), answer({"p": 9.99})) == ["$.p"]
    assert paths(answer({"n": 1}), answer({"n": 1.0})) == []
    assert paths(answer({"b": True}), answer({"b": 1})) == ["$.b"]


def test_missing_and_extra_fields_and_elements_are_named() -> None:
    diffs = compare_responses(
        answer({"a": 1, "l": [1, 2]}), answer({"b": 1, "l": [1]}), settings=CompareSettings(), ctx=CTX
    ).diffs
    assert [(d.path, d.kind) for d in diffs] == [("$.a", "missing"), ("$.l[1]", "missing"), ("$.b", "extra")]


def test_status_and_chosen_headers_are_compared_but_date_server_and_etag_are_not() -> None:
    a = answer(PAGE, 200, [(b"Content-Type", b"application/json"), (b"Date", b"x"), (b"ETag", b'"1"')])
    b = answer(PAGE, 201, [(b"content-type", b"text/html"), (b"Date", b"y"), (b"ETag", b'"2"'), (b"Server", b"s")])
    assert paths(a, b, headers=("content-type", "date", "etag", "server")) == ["status", "header:content-type"]


def test_absolute_urls_naming_the_hosts_and_the_request_id_are_normalised() -> None:
    a = answer({"next": "http://127.0.0.1:8000/api/catalog/?page=2", "rid": "rid-42"})
    b = answer({"next": "http://127.0.0.1:8001/api/catalog/?page=2", "rid": "rid-42"})
    assert paths(a, b) == []
    c = answer({"next": "http://elsewhere.example/api/catalog/?page=2", "rid": "rid-42"})
    assert paths(a, c) == ["$.next"]
    loc_a = answer(b"", 302, [(b"location", b"http://shop.example/login/")])
    loc_b = answer(b"", 302, [(b"location", b"/login/")])
    assert paths(loc_a, loc_b) == []


def test_csrf_and_session_cookies_and_csrf_form_tokens_are_normalised() -> None:
    a = answer(b'<form><input name="csrfmiddlewaretoken" value="AAA"></form>', 200, [(b"set-cookie", b"csrftoken=1")])
    b = answer(b'<form><input name="csrfmiddlewaretoken" value="BBB"></form>', 200, [(b"set-cookie", b"csrftoken=2")])
    assert paths(a, b, headers=("set-cookie",)) == []
    c = answer(b'<form><input name="other" value="BBB"></form>', 200, [(b"set-cookie", b"csrftoken=2")])
    assert paths(a, c, headers=("set-cookie",)) == ["body"]


def test_ignore_rules_with_wildcards_skip_whole_subtrees() -> None:
    a = {"meta": {"t": 1, "u": 2}, "results": [{"id": 1, "ts": 1}, {"id": 2, "ts": 2}], "deep": {"x": {"etag": 1}}}
    b = {"meta": {"t": 9, "u": 9}, "results": [{"id": 1, "ts": 7}, {"id": 3, "ts": 8}], "deep": {"x": {"etag": 2}}}
    assert paths(answer(a), answer(b), ignore=("$.meta", "$.results[*].ts", "$..etag")) == ["$.results[1].id"]
    assert paths(answer(a), answer(b), ignore=("$.*", "$.results")) == []


def test_non_json_bodies_are_compared_by_hash_and_truncated_ones_not_at_all() -> None:
    assert paths(answer(b"hello"), answer(b"hello!")) == ["body"]
    a = CapturedResponse(200, [], b"x" * 10, True, 0.0)
    b = CapturedResponse(200, [], b"y" * 10, False, 0.0)
    result = compare_responses(a, b, settings=CompareSettings(), ctx=CTX)
    assert result.diffs == [] and result.body_compared == "skipped"


def test_a_json_body_over_the_limit_is_compared_by_hash() -> None:
    big_a, big_b = answer({"a": "x" * 100}), answer({"a": "y" * 100})
    result = compare_responses(big_a, big_b, settings=CompareSettings(), ctx=CTX, json_limit=50)
    assert [d.path for d in result.diffs] == ["body"] and result.body_compared == "hash"


def test_paths_are_written_and_generalised_like_jsonpath() -> None:
    assert format_path(["results", 3, "price"]) == "$.results[3].price"
    assert format_path(["a key", 0]) == '$["a key"][0]'
    assert generalise(["results", 3, "price"]) == "$.results[*].price"


@pytest.mark.parametrize(
    ("rule", "path", "matches"),
    [
        ("$.results[*].price", ["results", 4, "price"], True),
        ("$.results[*].price", ["results", 4, "name"], False),
        ("$..updated_at", ["a", 1, "updated_at"], True),
        ("$..updated_at", ["updated_at"], True),
        ("$.a.*", ["a", "b"], True),
        ("$.a.*", ["a", "b", "c"], False),
        ('$["odd key"]', ["odd key"], True),
        ("$.a[0]", ["a", 1], False),
    ],
)
def test_ignore_rules_match_the_paths_they_name(rule: str, path: list[str | int], matches: bool) -> None:
    assert parse_path(rule).matches(path) is matches


@pytest.mark.parametrize("rule", ["", "a.b", "$.", "$..", "$[x]", "$[1", '$["a]', "$.a b"])
def test_a_malformed_rule_is_refused_with_a_reason(rule: str) -> None:
    with pytest.raises(JsonPathError):
        parse_path(rule)


path_parts = st.lists(st.one_of(st.integers(0, 50), st.text(min_size=1, max_size=8)), max_size=6)


@given(path_parts, path_parts)
def test_a_written_path_read_back_as_a_rule_matches_exactly_that_path(
    path: list[str | int], other: list[str | int]
) -> None:
    rule = parse_path(format_path(path))
    assert rule.matches(path)
    assert rule.matches(other) is (other == path)


def test_secrets_are_redacted_in_headers_cookies_queries_and_bodies() -> None:
    r = Redactor(fields=["ssn"], headers=["x-private"])
    headers = r.header_list(
        [
            (b"Authorization", b"Bearer abc"),
            (b"Cookie", b"sessionid=1; theme=dark"),
            (b"X-Private", b"p"),
            (b"Accept", b"*/*"),
        ]
    )
    assert headers == [
        ["Authorization", "[redacted]"],
        ["Cookie", "sessionid=[redacted]; theme=[redacted]"],
        ["X-Private", "[redacted]"],
        ["Accept", "*/*"],
    ]
    assert r.target("/a?token=t&q=mug") == "/a?token=%5Bredacted%5D&q=mug"
    assert json.loads(r.body(b'{"user": {"password": "p", "ssn": "1"}, "items": [{"refresh": "r"}]}')) == {
        "user": {"password": "[redacted]", "ssn": "[redacted]"},
        "items": [{"refresh": "[redacted]"}],
    }
    assert r.body(b"password=p&name=n", "application/x-www-form-urlencoded") == b"password=%5Bredacted%5D&name=n"
