"""Per-route comparison settings travel with the route: plain data, TOML, validation, the audit diff."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import REQUIRED_SETTINGS as REQUIRED
from strangler_proxy.control.routes_toml import dump_routes_toml, read_routes_text
from strangler_proxy.control.settings import Settings
from strangler_proxy.control.table_codec import table_from_dict, table_to_dict
from strangler_proxy.control.table_diff import diff_tables
from strangler_proxy.dataplane.model import DEFAULT_COMPARE, CompareSettings
from strangler_proxy.errors import SettingsInvalid, TableInvalid


def table(**compare: Any) -> dict[str, Any]:
    route: dict[str, Any] = {"path": "/api/catalog", "service": "catalog", "stage": "shadow"}
    if compare:
        route["compare"] = compare
    return {
        "upstreams": {"monolith": {"url": "http://127.0.0.1:8000"}, "catalog": {"url": "http://127.0.0.1:8001"}},
        "routes": [route],
    }


def test_a_route_without_compare_settings_gets_the_defaults() -> None:
    (route,) = table_from_dict(table()).routes
    assert route.compare == DEFAULT_COMPARE


def test_compare_settings_round_trip_through_plain_data_and_toml() -> None:
    parsed = table_from_dict(
        table(ignore=["$.results[*].updated_at", "$..etag"], headers=["Content-Type"], noise_sample=1, gate=False)
    )
    (route,) = parsed.routes
    assert route.compare == CompareSettings(
        ignore=("$.results[*].updated_at", "$..etag"), headers=("content-type",), noise_sample=1.0, gate=False
    )
    assert table_from_dict(table_to_dict(parsed)) == parsed
    text = dump_routes_toml(parsed)
    assert "[routes.compare]" in text and "gate_min_samples" not in text  # defaults are left out
    assert table_from_dict(read_routes_text(text)) == parsed


def test_a_route_with_default_settings_exports_no_compare_table() -> None:
    assert "compare" not in dump_routes_toml(table_from_dict(table()))


@pytest.mark.parametrize(
    ("compare", "field", "words"),
    [
        ({"ignore": ["results.price"]}, "routes[0].compare.ignore[0]", "must start with $"),
        ({"ignore": ["$.a["]}, "routes[0].compare.ignore[0]", "unclosed ["),
        ({"ignore": "$.a"}, "routes[0].compare.ignore", "list of strings"),
        ({"headers": ["content type"]}, "routes[0].compare.headers[0]", "not a header name"),
        ({"noise_sample": 1.5}, "routes[0].compare.noise_sample", "between 0 and 1"),
        ({"gate_min_samples": 0}, "routes[0].compare.gate_min_samples", "whole number"),
        ({"gate_min_samples": 50, "gate_window": 10}, "routes[0].compare.gate_window", "at least gate_min_samples"),
        ({"gate_max_p99_ratio": -1}, "routes[0].compare.gate_max_p99_ratio", ">= 0"),
        ({"shadow_monolith": "yes"}, "routes[0].compare.shadow_monolith", "true or false"),
        ({"ignroe": []}, "routes[0].compare.ignroe", "unknown field"),
    ],
)
def test_each_bad_compare_setting_is_refused_naming_its_field(compare: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(TableInvalid) as caught:
        table_from_dict(table(**compare))
    assert [(p.field, words in p.message) for p in caught.value.problems] == [(field, True)]


def test_a_compare_setting_change_reads_as_one_line_per_setting_in_the_audit_diff() -> None:
    before = table_from_dict(table())
    after = table_from_dict(table(noise_sample=1.0, ignore=["$.ts"]))
    assert diff_tables(before, after) == [
        "~ route /api/catalog: compare.ignore  -> $.ts, compare.noise_sample 0.1 -> 1.0"
    ]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("STRANGLER_COMPARE", "maybe"),
        ("STRANGLER_COMPARE_QUEUE", "0"),
        ("STRANGLER_COMPARE_MAX_PER_SECOND", "-5"),
        ("STRANGLER_MISMATCH_SAMPLE", "2"),
        ("STRANGLER_MISMATCH_MAX_ROWS", "many"),
        ("STRANGLER_MISMATCH_MAX_AGE", "0"),
        ("STRANGLER_CAPTURE_SAMPLE", "1.5"),
    ],
)
def test_a_malformed_comparison_variable_is_refused_naming_it(variable: str, value: str) -> None:
    with pytest.raises(SettingsInvalid, match=f"^{variable}={value!r} is invalid"):
        Settings.load(REQUIRED | {variable: value})


def test_comparison_variables_are_read_from_the_environment() -> None:
    variables = {"STRANGLER_COMPARE": "0", "STRANGLER_REDACT_FIELDS": "ssn, card", "STRANGLER_MISMATCH_MAX_ROWS": "5"}
    config = Settings.load(REQUIRED | variables).compare
    assert (config.enabled, config.redact_fields, config.mismatch_max_rows) == (False, ("ssn", "card"), 5)
