"""The service stands alone: its code comes from its own folder or the extraction kit, and none of the monolith is
reachable."""

import importlib.util
from pathlib import Path

import pytest

SERVICE = Path(__file__).resolve().parents[1]
KIT = SERVICE.parent / "kit"


@pytest.mark.parametrize("package", ["catalog", "config"])
def test_each_package_is_the_services_own(package):
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.origin is not None
    assert Path(spec.origin).resolve().is_relative_to(SERVICE)


def test_the_shared_plumbing_is_the_kits_not_a_copy():
    spec = importlib.util.find_spec("strangler_kit")
    assert spec is not None and spec.origin is not None
    assert Path(spec.origin).resolve().is_relative_to(KIT)
    assert importlib.util.find_spec("common") is None
    assert importlib.util.find_spec("identity") is None


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
