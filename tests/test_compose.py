"""compose.yaml cannot run here (no Docker engine), so it is validated: it is what tools/compose.py renders from
the services list, docker-compose's own parser accepts it, then the wiring a real deployment depends on."""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import compose
import pytest
import service_list
import yaml

SERVICES = service_list.load()
SECRETS = {name: name[0].lower() * 50 for name in compose.secret_variables(SERVICES)}
APP_DATABASES = {"monolith": "monolith-db", **{s.name: f"{s.name}-db" for s in SERVICES}}
DJANGO_APPS = ["monolith", *(s.name for s in SERVICES if s.kind == "django")]


def test_it_is_what_the_services_list_renders(root: Path) -> None:
    assert (root / "compose.yaml").read_text() == compose.render(SERVICES), "run .venv/bin/python tools/compose.py"


def compose_config(root: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    if shutil.which("docker-compose") is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is not installed (Debian package docker-compose; .ci/run installs it)")
        pytest.skip("docker-compose is not installed: apt-get install docker-compose to run this check")
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS}
    return subprocess.run(
        ["docker-compose", "-f", str(root / "compose.yaml"), "config"],
        capture_output=True,
        text=True,
        env={**clean, **env},
        cwd=root,
        timeout=60,
    )


@pytest.fixture
def config(root: Path) -> dict:
    result = compose_config(root, SECRETS)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_it_is_accepted_by_docker_compose(config: dict) -> None:
    listed = {name for s in SERVICES for name in (s.name, f"{s.name}-db", *([f"{s.name}-sync"] if s.sync else []))}
    assert {"monolith", "proxy", "monolith-db", "control-db", *listed} == set(config["services"])


@pytest.mark.parametrize("secret", sorted(SECRETS))
def test_it_refuses_to_start_without_each_secret(root: Path, secret: str) -> None:
    result = compose_config(root, {k: v for k, v in SECRETS.items() if k != secret})
    assert result.returncode != 0
    assert secret in result.stderr


def test_each_service_has_its_own_database_server(config: dict) -> None:
    for service, db in APP_DATABASES.items():
        url = config["services"][service]["environment"]["DATABASE_URL"]
        assert f"@{db}:5432/" in url, (service, url)
        assert config["services"][service]["depends_on"][db]["condition"] == "service_healthy"
    assert len(set(APP_DATABASES.values())) == len(APP_DATABASES)


def test_every_service_has_a_health_check(config: dict) -> None:
    missing = [name for name, svc in config["services"].items() if "healthcheck" not in svc]
    assert missing == []


def published_port(entry: dict | str) -> tuple[str, int]:
    """(host address, container port) from either form docker-compose prints."""
    if isinstance(entry, dict):
        return entry.get("host_ip", "0.0.0.0"), int(entry["target"])
    parts = entry.split("/")[0].split(":")
    return (parts[0] if len(parts) == 3 else "0.0.0.0"), int(parts[-1])


def test_the_proxy_fronts_the_monolith_and_keeps_its_admin_api_private(config: dict) -> None:
    proxy = config["services"]["proxy"]
    assert proxy["environment"]["STRANGLER_MONOLITH_URL"] == "http://monolith:8000"
    assert "@control-db:5432/" in proxy["environment"]["STRANGLER_ROUTE_STORE"]
    published = {published_port(p) for p in proxy["ports"]}
    assert ("127.0.0.1", 8081) in published
    assert not any(target == 8081 and host != "127.0.0.1" for host, target in published)


@pytest.mark.parametrize("service", [s for s in SERVICES if s.sync], ids=lambda s: s.name)
def test_each_sync_worker_reads_both_databases_follows_its_spec_and_reaches_the_admin_api(
    config: dict, root: Path, service: service_list.Service
) -> None:
    worker = config["services"][f"{service.name}-sync"]
    sync = worker["environment"]
    assert sync["MONOLITH_DATABASE_URL"] == config["services"]["monolith"]["environment"]["DATABASE_URL"]
    assert sync[f"{service.variable}_DATABASE_URL"] == config["services"][service.name]["environment"]["DATABASE_URL"]
    assert sync["STRANGLER_ADMIN_URL"] == "http://proxy:8081"
    assert sync["STRANGLER_ADMIN_TOKEN"] == config["services"]["proxy"]["environment"]["STRANGLER_ADMIN_TOKEN"]
    spec = worker["command"][-1]
    assert (root / "migration-playbook" / spec).resolve() == service.spec_path.resolve()


def test_services_that_check_identities_share_the_proxys_key(config: dict) -> None:
    key = config["services"]["proxy"]["environment"]["STRANGLER_IDENTITY_KEY"]
    for service in SERVICES:
        assert config["services"][service.name]["environment"]["STRANGLER_IDENTITY_KEY"] == key, service.name


def test_the_monolith_reaches_each_seam_service_where_its_container_listens(config: dict) -> None:
    monolith = config["services"]["monolith"]["environment"]
    for service in SERVICES:
        assert monolith.get(f"{service.variable}_SERVICE_URL") == (
            f"http://{service.name}:8000" if service.seam else None
        )


def test_every_build_context_has_a_dockerfile_whose_entry_point_exists(config: dict, root: Path) -> None:
    for name, svc in config["services"].items():
        if "build" not in svc:
            continue
        context = Path(svc["build"]["context"])
        path = context / svc["build"].get("dockerfile", "Dockerfile")
        app = path.parent  # the part's folder, which the image's WORKDIR holds
        dockerfile = path.read_text()
        # what is copied from the context (a `COPY --from=<stage>` takes a build stage's output, e.g. the proxy's)
        copied = [
            line.split()[1] for line in dockerfile.splitlines() if line.startswith("COPY ") and "--from=" not in line
        ]
        assert all((context / source).exists() for source in copied), (name, copied)
        cmd = next(line for line in dockerfile.splitlines() if line.startswith("CMD"))
        if "config.wsgi:application" in cmd:
            assert (app / "config" / "wsgi.py").exists(), name
            assert (app / "manage.py").exists(), name
        elif "inventory_service" in cmd:
            assert (app / "inventory_service" / "__main__.py").exists(), name
        elif "strangler_playbook" in cmd:
            spec = cmd.split('"follow", "')[1].split('"')[0]
            assert (app / spec).exists(), (name, spec)
            assert (app / "src" / "strangler_playbook" / "__main__.py").exists()
        elif "strangler" in cmd:
            assert 'strangler = "strangler_proxy.cli.main:main"' in (app / "pyproject.toml").read_text()
        else:
            pytest.fail(f"{name}: unrecognised CMD {cmd!r}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("service", DJANGO_APPS)
def test_the_health_check_passes_against_the_production_settings_compose_gives(
    config: dict, root: Path, tmp_path: Path, service: str
) -> None:
    """The service's own production settings with compose's environment (only the database is a local file),
    served by granian as the Dockerfile does, asked by the very command compose's health check runs."""
    svc = config["services"][service]
    build = svc["build"]
    app = (Path(build["context"]) / build.get("dockerfile", "Dockerfile")).parent  # what the image's WORKDIR holds
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "STRANGLER_")) and k != "DATABASE_URL"}
    env.update({k: str(v) for k, v in svc["environment"].items()})
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", PYTHONPATH=str(app))
    assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
    granian = [sys.executable, "-m", "granian", "--interface", "wsgi", "--workers", "1"]
    server = subprocess.Popen(
        [*granian, "--host", "127.0.0.1", "--port", str(port), "config.wsgi:application"],
        cwd=app,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
            assert time.monotonic() < deadline, f"{service} did not listen on {port}"
            time.sleep(0.1)
        test = svc["healthcheck"]["test"]
        assert test[:2] == ["CMD", "python"], test
        command = [sys.executable, *(arg.replace("127.0.0.1:8000", f"127.0.0.1:{port}") for arg in test[2:])]
        checked = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
        assert checked.returncode == 0, checked.stderr
    finally:
        server.terminate()
        server.wait(15)
