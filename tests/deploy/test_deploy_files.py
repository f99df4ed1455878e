"""The deployment files parse, and agree with what the worker reads: env names, ports, images, config."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

from pydantic import BaseModel

from stream.settings import Settings
from tests.deploy.deploy_files import DASHBOARD, DEPLOY, ROOT, RULES, load_yaml_documents, rule_expressions

K8S_BASE = DEPLOY / "k8s" / "base"
K8S_OVERLAY = DEPLOY / "k8s" / "overlays" / "example"
COMPOSE = DEPLOY / "docker" / "docker-compose.yml"
DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
WEB_PORT = Settings.model_fields["web_port"].default
ALERTS = {"MulewatchWorkerDown", "MulewatchConsumerLagGrowing", "MulewatchDeadLetterRateHigh",
          "MulewatchNoEventsReceived", "MulewatchAlertRateUnusual", "MulewatchRuleConfirmedShareDropped"}


def settings_env_names() -> set[str]:
    """Every MULEWATCH_* variable the worker's Settings reads (nested models with ``__``)."""
    names = set()
    for name, info in Settings.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names |= {f"MULEWATCH_{name}__{sub}".upper() for sub in annotation.model_fields}
        else:
            names.add(f"MULEWATCH_{name}".upper())
    return names


def k8s_docs() -> dict[str, dict]:
    docs = {}
    for path in K8S_BASE.glob("*.yaml"):
        for doc in load_yaml_documents(path):
            if "kind" in doc and doc["kind"] != "Kustomization":
                docs[doc["kind"]] = doc
    return docs


def worker_container() -> dict:
    (container,) = k8s_docs()["StatefulSet"]["spec"]["template"]["spec"]["containers"]
    return container


def test_every_yaml_and_json_deployment_file_parses():
    yaml_files = sorted([*DEPLOY.rglob("*.yml"), *DEPLOY.rglob("*.yaml")])
    assert len(yaml_files) >= 12
    for path in yaml_files:
        assert load_yaml_documents(path), path
    json_files = sorted(DEPLOY.rglob("*.json"))
    assert DASHBOARD in json_files
    for path in json_files:
        json.loads(path.read_text(encoding="utf-8"))


def test_promtool_accepts_the_rules_and_the_scrape_config():
    promtool = shutil.which("promtool")
    assert promtool, "promtool is not installed: run deploy/prometheus/ensure-prometheus.sh (make test does)"
    for args in (["check", "rules", str(RULES)], ["check", "config", str(DEPLOY / "prometheus" / "prometheus.yml")]):
        done = subprocess.run([promtool, *args], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


def test_rules_cover_the_issue_and_explain_themselves():
    groups = load_yaml_documents(RULES)[0]["groups"]
    rules = {r["alert"]: r for g in groups for r in g["rules"]}
    assert set(rules) == ALERTS
    for name, rule in rules.items():
        assert rule["annotations"]["summary"] and len(rule["annotations"]["description"]) > 40, name
        assert rule["labels"]["severity"] in {"warning", "critical"}, name


def test_prometheus_rule_resource_carries_the_same_rules():
    assert k8s_docs()["PrometheusRule"]["spec"] == load_yaml_documents(RULES)[0]


def test_detector_config_copy_for_the_config_map_equals_the_default():
    assert (K8S_BASE / "detectors.toml").read_bytes() == (ROOT / "detectors" / "default.toml").read_bytes()


def test_kustomization_lists_existing_files_and_every_required_kind():
    base = load_yaml_documents(K8S_BASE / "kustomization.yaml")[0]
    for resource in base["resources"]:
        assert (K8S_BASE / resource).is_file(), resource
    (generator,) = base["configMapGenerator"]
    assert generator["files"] == ["detectors.toml"]
    assert set(k8s_docs()) == {"StatefulSet", "Service", "Secret", "PodMonitor", "PrometheusRule"}
    overlay = load_yaml_documents(K8S_OVERLAY / "kustomization.yaml")[0]
    assert overlay["resources"] == ["../../base"]
    for patch in overlay["patches"]:
        assert (K8S_OVERLAY / patch["path"]).is_file()
    for generator in overlay.get("secretGenerator", []):
        assert all((K8S_OVERLAY / env).is_file() for env in generator["envs"])
    assert {i["name"] for i in overlay["images"]} == {i["name"] for i in base["images"]} == {worker_container()["image"]}


def test_statefulset_matches_what_the_worker_reads():
    docs = k8s_docs()
    container = worker_container()
    env = {e["name"]: e for e in container["env"]}
    assert set(env) <= settings_env_names(), set(env) - settings_env_names()
    assert int(env["MULEWATCH_WEB_PORT"]["value"]) == WEB_PORT
    assert env["MULEWATCH_WEB_BIND"]["value"] == "0.0.0.0"  # probes and scrapes come from outside the pod
    (port,) = container["ports"]
    assert port == {"name": "web", "containerPort": WEB_PORT, "protocol": "TCP"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "web"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "web"}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    spec = docs["StatefulSet"]["spec"]
    assert mounts["data"] == env["MULEWATCH_DATA_DIR"]["value"]
    assert [t["metadata"]["name"] for t in spec["volumeClaimTemplates"]] == ["data"]
    assert env["MULEWATCH_CONFIG"]["value"] == f"{mounts['detectors']}/detectors.toml"
    volumes = {v["name"]: v for v in spec["template"]["spec"]["volumes"]}
    assert volumes["detectors"]["configMap"]["name"] == "mulewatch-detectors"
    secret = docs["Secret"]
    for item in env.values():
        if "valueFrom" in item:
            ref = item["valueFrom"]["secretKeyRef"]
            assert ref["name"] == secret["metadata"]["name"] and ref["key"] in secret["stringData"]
            assert item["name"].startswith("MULEWATCH_SECURITY__")
    assert spec["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    assert docs["Service"]["spec"]["selector"].items() <= labels.items()
    assert spec["serviceName"] == docs["Service"]["metadata"]["name"]
    assert docs["Service"]["spec"]["ports"][0]["port"] == WEB_PORT
    monitor = docs["PodMonitor"]["spec"]
    assert monitor["selector"]["matchLabels"].items() <= labels.items()
    assert monitor["podMetricsEndpoints"] == [{"port": "web", "path": "/metrics", "interval": "30s"}]
    assert labels[monitor["jobLabel"]] == "mulewatch"  # the job the rules select


def test_overlay_patch_sets_only_settings_env_names():
    (patch,) = load_yaml_documents(K8S_OVERLAY / "worker-env.yaml")
    (container,) = patch["spec"]["template"]["spec"]["containers"]
    assert {e["name"] for e in container["env"]} <= settings_env_names()
    Settings(broker=container["env"][0]["value"])  # the broker list is one the worker accepts


def test_kustomize_renders_base_and_example_overlay():
    # A prerequisite like Java (README): fail, not skip, so CI never passes without rendering them.
    assert shutil.which("kubectl"), "kubectl (1.27 or later, for its built-in kustomize v5) is not on PATH"
    for folder in (K8S_BASE, K8S_OVERLAY):
        done = subprocess.run(["kubectl", "kustomize", str(folder)], capture_output=True, text=True)
        assert done.returncode == 0, f"kubectl kustomize {folder}: {done.stderr}"
        kinds = {doc["kind"] for doc in load_yaml_from_text(done.stdout)}
        assert kinds == {"ConfigMap", "Secret", "Service", "StatefulSet", "PodMonitor", "PrometheusRule"}


def load_yaml_from_text(text: str) -> list:
    import yaml

    return [doc for doc in yaml.safe_load_all(text) if doc]


def test_compose_services_match_what_the_worker_reads():
    compose = load_yaml_documents(COMPOSE)[0]
    services = compose["services"]
    assert set(services) == {"kafka", "worker", "prometheus", "grafana"}
    kafka = services["kafka"]
    assert re.fullmatch(r"apache/kafka:\d+\.\d+\.\d+", kafka["image"])
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper
    for name in ("prometheus", "grafana"):
        assert re.fullmatch(r"[a-z/]+:v?\d+\.\d+\.\d+", services[name]["image"]), name
    worker = services["worker"]
    env = worker["environment"]
    assert set(env) <= settings_env_names(), set(env) - settings_env_names()
    assert int(env["MULEWATCH_WEB_PORT"]) == WEB_PORT and env["MULEWATCH_WEB_BIND"] == "0.0.0.0"
    assert env["MULEWATCH_BROKER"] == "kafka://kafka:9092"
    assert "PLAINTEXT://kafka:9092" in kafka["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert worker["ports"] == [f"{WEB_PORT}:{WEB_PORT}"]
    assert f"worker-data:{env['MULEWATCH_DATA_DIR']}" in worker["volumes"]
    assert (COMPOSE.parent / worker["build"]["context"] / worker["build"]["dockerfile"]).resolve() == DOCKERFILE
    Settings(**{k.removeprefix("MULEWATCH_").lower(): v for k, v in env.items() if "__" not in k})
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (COMPOSE.parent / source).exists(), source
    scrape = load_yaml_documents(DEPLOY / "prometheus" / "prometheus.yml")[0]
    (job,) = scrape["scrape_configs"]
    assert job["job_name"] == "mulewatch" and job["static_configs"] == [{"targets": [f"worker:{WEB_PORT}"]}]
    assert 'job="mulewatch"' in dict(rule_expressions())["MulewatchWorkerDown"]
    datasource = load_yaml_documents(DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml")[0]
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"


def test_dockerfile_is_pinned_non_root_and_installs_only_the_runtime_set():
    text = DOCKERFILE.read_text(encoding="utf-8")
    bases = re.findall(r"^FROM (\S+)", text, re.M)
    assert bases and all(re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?", b) for b in bases), bases
    assert re.search(r"^USER 10001", text, re.M)
    assert "pip install -c constraints.txt ." in text and "[test]" not in text
    assert f"EXPOSE {WEB_PORT}" in text and "/livez" in text.split("HEALTHCHECK", 1)[1]
    assert 'ENTRYPOINT ["mulewatch", "worker"]' in text
    env = dict(re.findall(r"(MULEWATCH_\w+)=(\S+)", text))
    assert set(env) <= settings_env_names() and int(env["MULEWATCH_WEB_PORT"]) == WEB_PORT
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", text, re.M):
        for path in source.split():
            assert (ROOT / path).exists(), path
