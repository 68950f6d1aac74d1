"""docker-compose.yml: valid under the Compose specification, and the stack the production profile expects.

No Docker engine runs here, so the file is checked, not started: after the interpolation compose itself does (with
.env.example's values), the Compose specification's parser (compose-spec, the Rust compose_spec library) must
accept it; every image is pinned; every service that keeps running has a health check; and the environment the
Airflow tasks run with is a production configuration (jobs/production.py) whose every URL names a service of the
file, on the port that service listens on.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from jobs import production
from jobs.settings import Settings
from tests.paths import ROOT

COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}; $$ is a literal $ for the container.
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
AIRFLOW_COMPONENTS = {"airflow-apiserver": "api-server", "airflow-scheduler": "scheduler",
                      "airflow-dag-processor": "dag-processor", "airflow-triggerer": "triggerer"}
ONE_SHOT = {"airflow-init", "object-store-init"}


def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def interpolate(text: str, values: dict[str, str]) -> str:
    """What compose does to the file before it reads it; an unset variable without a default is an error here
    (compose would quietly make it empty)."""
    def value(match: re.Match) -> str:
        name, operator, default = match.groups()
        if name in values and (values[name] or operator not in (":-", ":?")):
            return values[name]
        if operator in (":-", "-"):
            return default
        raise AssertionError(f"docker-compose.yml uses ${{{name}}}, which .env.example does not set")

    return VARIABLE.sub(value, text.replace("$$", "\0")).replace("\0", "$$")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(interpolate(COMPOSE.read_text(), env_example()))


def _merged(text: str) -> dict:
    """The document with YAML's anchors and merge keys (`<<: *airflow`) resolved, as compose resolves them before it
    reads the file (the specification's parser reads plain YAML: it takes `<<` for an unknown key)."""
    return yaml.safe_load(text)


def test_the_file_is_valid_under_the_compose_specification():
    from compose_spec import PyCompose

    parsed = PyCompose.from_json(json.dumps(_merged(interpolate(COMPOSE.read_text(), env_example()))))
    assert set(parsed.service_names()) == {
        "postgres", "object-store", "object-store-init", "mlflow", "spark-connect", *AIRFLOW_COMPONENTS,
        "airflow-init", "redis", "kafka"}


def test_the_parser_refuses_what_compose_refuses():
    """The validator is not a mere YAML reader: a misspelt key, a bad port, a bad duration are refused."""
    from compose_spec import PyCompose

    text = interpolate(COMPOSE.read_text(), env_example())
    for good, bad in (("    expose: [\"5000\"]\n", "    expsoe: [\"5000\"]\n"),
                      ("      - \"127.0.0.1:8080:8080\"", "      - \"127.0.0.1:8080:http\""),
                      ("      interval: 10s\n", "      interval: ten-seconds\n")):
        assert good in text
        with pytest.raises(ValueError):
            PyCompose.from_json(json.dumps(_merged(text.replace(good, bad, 1))))


def test_every_variable_it_uses_is_in_env_example_and_every_one_there_is_used():
    used = {m.group(1) for m in VARIABLE.finditer(COMPOSE.read_text())}
    assert used == set(env_example())


def test_every_image_is_pinned_to_a_version(compose):
    version = re.search(r"^version = (\S+)$", (ROOT / "setup.cfg").read_text(), re.M).group(1)
    for name, service in compose["services"].items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and tag and tag != "latest" and re.search(r"\d", tag), f"{name}: {image} is not pinned"
        if "build" in service:  # the project's own image carries the project's version
            assert image == f"marketofone:{version}", name


def test_every_service_that_keeps_running_has_a_health_check_and_dependencies_exist(compose):
    services = compose["services"]
    for name, service in services.items():
        if name not in ONE_SHOT:
            assert "healthcheck" in service, f"{name} has no health check"
        for dependency, condition in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on {dependency}, which the file does not define"
            expected = ("service_completed_successfully" if dependency in ONE_SHOT else "service_healthy")
            assert condition["condition"] == expected, f"{name} -> {dependency}"
        # Named volumes, secrets and configs a service mounts are declared at the top (the parser lets an
        # undeclared one through; compose refuses it at start).
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in compose["volumes"], f"{name} mounts the undeclared volume {source}"
        for secret in service.get("secrets", []):
            assert secret in compose["secrets"], f"{name} reads the undeclared secret {secret}"
        for config in service.get("configs", []):
            assert config["source"] in compose["configs"], f"{name} reads the undeclared config {config['source']}"


def test_the_airflow_components_of_a_production_airflow_are_all_there(compose):
    services = compose["services"]
    for name, component in AIRFLOW_COMPONENTS.items():
        assert services[name]["command"][:2] == ["airflow", component]
        assert services[name]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert services["airflow-init"]["command"] == ["airflow", "db", "migrate"]


def _listening_port(service: dict) -> int:
    (port,) = service["expose"]
    return int(port)


def test_each_service_the_production_profile_expects_is_there_on_its_port(compose):
    services = compose["services"]
    for expected in production.SERVICES:
        assert expected.name in services, f"docker-compose.yml lacks the {expected.name} service"
        assert _listening_port(services[expected.name]) == expected.port, expected.name
    # Where a command names the port, it is the one exposed.
    assert "--port=5000" in services["mlflow"]["command"]
    # MLflow's job runner (for GenAI jobs nothing here submits) is off: idle, it polls at a quarter of a core.
    assert services["mlflow"]["environment"]["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
    assert services["spark-connect"]["command"][-2:] == ["--port", "15002"]
    assert "--address" in services["object-store"]["command"] and ":9000" in services["object-store"]["command"]


def test_the_tasks_environment_is_a_production_configuration_pointing_at_the_files_services(compose, tmp_path,
                                                                                           monkeypatch):
    services = compose["services"]
    environ = {k: str(v) for k, v in services["airflow-scheduler"]["environment"].items()}
    key_file = tmp_path / "tokenization.key"
    key_file.write_text("Zq3v9XbL0pT7wK2mN8sR4yH6cF1dG5jA\n")
    assert environ["MARKETOFONE_TOKENIZATION_KEY_FILE"] == "/run/secrets/tokenization_key"
    assert compose["secrets"]["tokenization_key"]["file"] == "./secrets/tokenization.key"
    for name in list(os.environ):
        if name.startswith(("MARKETOFONE_", "AIRFLOW__", "SPARK_REMOTE")):
            monkeypatch.delenv(name)
    for name, value in {**environ, "MARKETOFONE_TOKENIZATION_KEY_FILE": str(key_file)}.items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_env()
    assert settings.profile == "production" and settings.engine == "remote"
    assert production.configuration_problems(settings, environ) == []
    for service in production.needed_services(settings):
        assert service.endpoint(environ) == (service.name, service.port), service.setting
    assert {s.name for s in production.needed_services(settings)} == {s.name for s in production.SERVICES}
    # The workers reach the api-server's execution API; the object store holds the lakehouse's bucket.
    execution = urlsplit(environ["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert (execution.hostname, execution.port) == ("airflow-apiserver", _listening_port(services["airflow-apiserver"]))
    bucket = urlsplit(settings.storage_uri).hostname
    assert bucket == env_example()["LAKEHOUSE_BUCKET"]
    assert "$$LAKEHOUSE_BUCKET" in services["object-store-init"]["command"][0]
    # Every Airflow component and the Spark Connect server read the same settings and the same home (the tasks
    # write the landing files' paths the server reads).
    for name in (*AIRFLOW_COMPONENTS, "spark-connect"):
        env = services[name]["environment"]
        assert {k: env[k] for k in ("MARKETOFONE_PROFILE", "MARKETOFONE_HOME", "MARKETOFONE_STORAGE_URI")} == \
            {k: environ[k] for k in ("MARKETOFONE_PROFILE", "MARKETOFONE_HOME", "MARKETOFONE_STORAGE_URI")}
        assert "marketofone-home:/srv/marketofone" in services[name]["volumes"]


def test_the_readme_production_section_names_every_published_port(compose):
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Production"):]
    section = section[:section.index("\n## ", 1)] if "\n## " in section[1:] else section
    published = [p.split(":")[1] for s in compose["services"].values() for p in s.get("ports", [])]
    assert sorted(published) == ["15002", "5000", "8080", "9001"]
    for port in published:
        assert f"localhost:{port}" in section, f"README's Production section does not say what is on port {port}"
    assert "docker compose up -d --build" in section and "secrets/tokenization.key" in section


def test_interpolation_fills_defaults_and_refuses_unknown_variables():
    assert interpolate("a=${X} b=${Y:-dflt} c=$$HOME", {"X": "1"}) == "a=1 b=dflt c=$$HOME"
    with pytest.raises(AssertionError, match=r"uses \$\{Z\}"):
        interpolate("${Z}", {})


def test_the_image_installs_the_lock_and_the_project():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11\.\d+-slim-bookworm$", dockerfile, re.M)
    assert "uv pip sync" in dockerfile and "requirements.lock" in dockerfile
    assert "openjdk-17-jre-headless" in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".marketofone", "secrets", ".env"} <= set(ignored)
    assert Path(ROOT / "requirements.lock").read_text().count("psycopg2-binary==") == 1  # Postgres for both


def test_raw_pii_has_its_own_buckets_which_only_the_ingestion_users_policy_opens(compose):
    """Who may see what (jobs/access.py): bronze and quarantine in buckets of their own, a user and a policy per
    role created at init; the tasks run as the ingestion role with its user, never the store's root."""
    services, bucket = compose["services"], env_example()["LAKEHOUSE_BUCKET"]
    env = services["airflow-scheduler"]["environment"]
    settings = Settings(home=Path("/srv/marketofone"), storage=env["MARKETOFONE_STORAGE_URI"],
                        role=env["MARKETOFONE_ROLE"],
                        layer_storage=tuple((layer, env[f"MARKETOFONE_STORAGE_URI_{layer.upper()}"])
                                            for layer in ("bronze", "quarantine")))
    assert settings.role == "ingestion"
    raw = {layer: urlsplit(settings.storage_for(layer)).hostname for layer in ("bronze", "quarantine")}
    assert raw == {"bronze": f"{bucket}-bronze", "quarantine": f"{bucket}-quarantine"}
    assert {urlsplit(settings.storage_for(layer)).hostname for layer in ("silver", "gold", "audit")} == {bucket}
    assert env["AWS_ACCESS_KEY_ID"] == "ingestion"
    assert env["AWS_SECRET_ACCESS_KEY"] != env_example()["OBJECT_STORE_PASSWORD"]
    init = services["object-store-init"]
    assert all(f"store/$$LAKEHOUSE_BUCKET-{layer}" in init["command"][0] for layer in ("bronze", "quarantine"))
    script = compose["configs"]["store-policies"]["content"]
    policies = dict(re.findall(r"^policy (\w+) .* \"(.*)\"$", script, re.M))
    assert set(policies) == {"ingestion", "pipeline", "analyst", "channel"}
    assert [role for role, resources in policies.items() if "raw" in resources] == ["ingestion"]
    assert set(re.findall(r"^user (\w+) ", script, re.M)) == set(policies)
