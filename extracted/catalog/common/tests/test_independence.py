"""The service stands alone: its code comes from its own folder and none of the monolith is reachable."""

import importlib.util
from pathlib import Path

import pytest

SERVICE = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("package", ["catalog", "common", "identity", "config"])
def test_each_package_is_the_services_own(package):
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.origin is not None
    assert Path(spec.origin).resolve().is_relative_to(SERVICE)


@pytest.mark.parametrize("package", ["inventory", "customers", "orders", "reviews"])
def test_the_monoliths_other_apps_are_not_importable(package):
    assert importlib.util.find_spec(package) is None


def test_no_module_mentions_the_monolith_folder():
    offenders = [
        str(path.relative_to(SERVICE))
        for path in SERVICE.rglob("*.py")
        if "tests" not in path.parts and "monolith/" in path.read_text()
    ]
    assert offenders == []
