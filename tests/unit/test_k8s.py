"""The Kubernetes manifests: each overlay (the branches' and the HQ gateway's) renders
(tests/unit/kustomize.py) into objects valid for a pinned Kubernetes version, runs every
process with the supervisor's command, probes the process's port (liveness /health/live,
readiness /health/ready), meets the `restricted` Pod Security level its namespace
enforces, leaves replicas to the HPAs, spreads across nodes, is scraped by a
ServiceMonitor with the labels the rules select, and serves exactly its own branch."""

from __future__ import annotations

import base64
import copy
import re
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from gateway.hq import parse_table
from services.cli import _service_class
from services.common.config import load_settings, read_yaml
from services.ops.supervisor import PROCESSES, serve_command
from tests.unit.kustomize import build

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.31.0"  # the oldest version the manifests must run on
BRANCHES = ("SH", "SZ")
OVERLAYS = (*BRANCHES, "HQ")  # HQ: the call centre's gateway alone


@pytest.fixture(scope="module", params=BRANCHES)
def rendered(request) -> tuple[str, list[dict]]:
    return request.param, build(K8S / "overlays" / request.param.lower())


@pytest.fixture(scope="module", params=OVERLAYS)
def every_overlay(request) -> tuple[str, list[dict]]:
    return request.param, build(K8S / "overlays" / request.param.lower())


def _pods(docs: list[dict]) -> dict[str, dict]:
    return {name: d["spec"]["template"] for name, d in _of(docs, "Deployment").items()}


def _process(deployment_name: str) -> str:
    return deployment_name.split("-", 1)[1]


def _of(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def _container_env(docs: list[dict], container: dict) -> dict[str, str]:
    """The environment a container gets from its envFrom ConfigMaps and Secrets."""
    env: dict[str, str] = {}
    for source in container["envFrom"]:
        if "configMapRef" in source:
            env.update(_of(docs, "ConfigMap")[source["configMapRef"]["name"]]["data"])
        else:
            data = _of(docs, "Secret")[source["secretRef"]["name"]]["data"]
            env.update({k: base64.b64decode(v).decode() for k, v in data.items()})
    return env


def test_every_object_is_valid_kubernetes(every_overlay):
    _, docs = every_overlay
    assert docs
    for doc in docs:
        if doc["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # a custom resource: test_service_monitor_* checks it
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_namespace_enforces_restricted_and_holds_every_object(every_overlay):
    code, docs = every_overlay
    [namespace] = _of(docs, "Namespace").values()
    assert namespace["metadata"]["name"] == f"aftersales-{code.lower()}"
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"} == \
        {namespace["metadata"]["name"]}


def test_every_pod_meets_the_restricted_pod_security_level(every_overlay):
    _, docs = every_overlay
    pods = _pods(docs)
    assert pods
    for name, template in pods.items():
        pod = template["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"].get("runAsUser", 1) != 0, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert not {"hostNetwork", "hostPID", "hostIPC"} & set(pod), name
        assert all(set(v) & {"configMap", "secret", "emptyDir"} for v in pod["volumes"]), name
        empty = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        for container in pod["containers"] + pod.get("initContainers", []):
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context.get("privileged", False) is False, name
            # Python and the libraries it loads write temporary files only under /tmp
            assert {m["name"] for m in container["volumeMounts"]
                    if m["mountPath"] == "/tmp"} <= empty, name
            assert any(m["mountPath"] == "/tmp" for m in container["volumeMounts"]), name


def test_each_probe_asks_a_path_its_process_serves_on_its_port(every_overlay):
    _, docs = every_overlay
    ports = load_settings(environ={})["metrics_ports"]
    for name, template in _pods(docs).items():
        process = _process(name)
        served = _http_paths(_service_class(process))
        [container] = template["spec"]["containers"]
        live, ready = container["livenessProbe"], container["readinessProbe"]
        # Liveness: the process only; readiness: its store. A store outage takes pods out
        # of the rotation and never restarts them all.
        assert live["httpGet"] == {"path": "/health/live", "port": ports[process]}, name
        assert ready["httpGet"] == {"path": "/health/ready", "port": ports[process]}, name
        assert {"/health/live", "/health/ready"} <= served, name
        # liveness gives up later than readiness: a slow pod leaves the rotation first
        assert live["periodSeconds"] * live["failureThreshold"] > \
            ready["periodSeconds"] * ready["failureThreshold"], name


def _http_paths(cls) -> set[str]:
    paths = set()
    for attribute in dir(cls):
        for entrypoint in getattr(getattr(cls, attribute), "nameko_entrypoints", ()):
            url = getattr(entrypoint, "url", None)
            if url:
                paths.add(url)
    return paths


def test_replicas_are_left_to_the_autoscaler_and_pods_spread_across_nodes(every_overlay):
    _, docs = every_overlay
    scaled = {hpa["spec"]["scaleTargetRef"]["name"]
              for hpa in _of(docs, "HorizontalPodAutoscaler").values()}
    for name, deployment in _of(docs, "Deployment").items():
        # a replicas: field would be set back on every apply, fighting the HPA
        assert ("replicas" in deployment["spec"]) is (name not in scaled), name
        template = deployment["spec"]["template"]
        [spread] = [c for c in template["spec"]["topologySpreadConstraints"]
                    if c["topologyKey"] == "kubernetes.io/hostname"]
        assert spread["maxSkew"] == 1, name
        # the selector counts this Deployment's own pods, no other's
        selector = spread["labelSelector"]["matchLabels"]
        assert selector.items() <= template["metadata"]["labels"].items(), name
        for other, pod in _pods(docs).items():
            if other != name:
                assert not selector.items() <= pod["metadata"]["labels"].items(), name


def test_the_hq_overlay_runs_the_gateway_with_the_routing_table():
    docs = build(K8S / "overlays" / "hq")
    assert set(_of(docs, "Deployment")) == {"hq-gateway"}
    assert not _of(docs, "HorizontalPodAutoscaler")
    pod = _pods(docs)["hq-gateway"]["spec"]
    [container] = pod["containers"]
    assert container["command"][1:] == serve_command("gateway")[1:]
    env = _container_env(docs, container)
    env["AFTERSALES_CONFIG"] = str(ROOT / "deploy" / "config" / "services.yaml")
    assert load_settings(environ=env)["branches"] == ["HQ"]
    # HQ_ROUTING_FILE names the file of the mounted routing ConfigMap: the repository's table
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    directory, _, file = env["HQ_ROUTING_FILE"].rpartition("/")
    volume = next(v for v in pod["volumes"] if v["name"] == mounts[directory])
    routing = _of(docs, "ConfigMap")[volume["configMap"]["name"]]
    shared = ROOT / "deploy" / "config" / "hq_routing.yaml"
    assert routing["data"] == {file: shared.read_text(encoding="utf-8")}
    # and, with the branches' broker URIs from the connections Secret, the table loads
    environ = {k: v for k, v in env.items() if k.startswith("HQ_")}
    table = parse_table(read_yaml(shared, environ=environ))
    assert set(table.branches) == set(BRANCHES)
    for branch, uri in table.branches.items():
        assert uri == env[f"HQ_{branch}_AMQP_URI"] and uri.endswith(f"/{branch.lower()}")


def test_deployments_run_the_supervisor_command_with_probes_and_requests(rendered):
    branch, docs = rendered
    ports = load_settings(environ={})["metrics_ports"]
    deployments = _of(docs, "Deployment")
    assert set(deployments) == {f"{branch.lower()}-{name}" for name in PROCESSES}
    for name in PROCESSES:
        deployment = deployments[f"{branch.lower()}-{name}"]
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        assert container["command"][1:] == serve_command(name)[1:], name
        for probe, path in (("readinessProbe", "/health/ready"),
                            ("livenessProbe", "/health/live")):
            assert container[probe]["httpGet"] == {"path": path, "port": ports[name]}, name
        assert container["ports"][0]["containerPort"] == ports[name]
        assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name


def test_a_branch_deployment_serves_its_branch_on_its_vhost_and_databases(rendered):
    branch, docs = rendered
    code = branch.lower()
    namespaces = {d["metadata"].get("namespace", d["metadata"]["name"]) for d in docs}
    assert namespaces == {f"aftersales-{code}"}
    for deployment in _of(docs, "Deployment").values():
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        env = _container_env(docs, container)
        assert env["AMQP_URI"].endswith(f"/{code}")
        # the settings file the container mounts is deploy/config/services.yaml
        env["AFTERSALES_CONFIG"] = str(ROOT / "deploy" / "config" / "services.yaml")
        settings = load_settings(environ=env)
        assert settings["branches"] == [branch]
        assert settings["db_prefix"] == f"aftersales_{code}"


def test_reference_data_is_the_shared_file_mounted_where_the_settings_point(rendered):
    _, docs = rendered
    reference = next(d for name, d in _of(docs, "ConfigMap").items()
                     if name.split("-")[1] == "reference")
    shared = (ROOT / "deploy" / "config" / "reference.yaml").read_text(encoding="utf-8")
    assert reference["data"] == {"reference.yaml": shared}
    for deployment in _of(docs, "Deployment").values():
        pod = deployment["spec"]["template"]["spec"]
        env = _container_env(docs, pod["containers"][0])
        mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
        volume = next(v for v in pod["volumes"] if v.get("configMap", {}).get("name")
                      == reference["metadata"]["name"])
        assert env["REFERENCE_DATA"] == f"{mounts[volume['name']]}/reference.yaml"


def test_intake_and_dispatch_autoscale_and_every_process_has_a_disruption_budget(rendered):
    branch, docs = rendered
    deployments = _of(docs, "Deployment")
    scaled = {hpa["spec"]["scaleTargetRef"]["name"]
              for hpa in _of(docs, "HorizontalPodAutoscaler").values()}
    assert scaled == {f"{branch.lower()}-intake", f"{branch.lower()}-dispatch"}
    covered = set()
    for budget in _of(docs, "PodDisruptionBudget").values():
        selector = budget["spec"]["selector"]["matchLabels"]
        matches = [name for name, d in deployments.items()
                   if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()]
        assert len(matches) == 1, budget["metadata"]["name"]
        covered.update(matches)
    assert covered == set(deployments)


def test_overlays_differ_only_where_a_branch_differs():
    sh, sz = (_of(build(K8S / "overlays" / code), "HorizontalPodAutoscaler")
              for code in ("sh", "sz"))
    assert sh["sh-intake"]["spec"]["maxReplicas"] == 10  # the SH patch applied
    assert sz["sz-intake"]["spec"]["maxReplicas"] == 6   # the base value


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("folder", [f"overlays/{code.lower()}" for code in OVERLAYS]
                         + ["monitoring"])
def test_plain_kubectl_kustomize_builds_each_folder_as_the_test_renderer_does(folder):
    # No --load-restrictor: GitOps tools build with kustomize's default restrictions.
    # The whole objects are compared, so what the other tests check of the test
    # renderer's output is what kubectl applies.
    out = subprocess.run(["kubectl", "kustomize", str(K8S / folder)], capture_output=True,
                         text=True, check=True).stdout
    real = _comparable([d for d in yaml.safe_load_all(out) if d])
    assert real == _comparable(build(K8S / folder))
    assert real


def _comparable(docs: list[dict]) -> list:
    """The objects without what legitimately differs: the generated names' hash suffix
    (kustomize hashes differently), the base64 line wrapping, the order of named items."""
    docs = copy.deepcopy(docs)
    hashed = {d["metadata"]["name"]: d["metadata"]["name"].rsplit("-", 1)[0]
              for d in docs if d["kind"] in ("ConfigMap", "Secret")}
    for doc in docs:
        if doc["kind"] == "Secret":
            doc["data"] = {k: base64.b64decode(v).decode() for k, v in doc["data"].items()}

    def tidy(value):
        if isinstance(value, dict):
            return {k: tidy(v) for k, v in value.items()}
        if isinstance(value, list):
            items = [tidy(v) for v in value]
            if all(isinstance(i, dict) and "name" in i for i in items):
                items.sort(key=lambda i: i["name"])
            return items
        return hashed.get(value, value) if isinstance(value, str) else value

    return sorted((tidy(d) for d in docs), key=lambda d: (d["kind"], d["metadata"]["name"]))


def test_the_api_tokens_are_the_operators_secret_not_the_repositorys(rendered):
    _, docs = rendered
    assert not [d for d in docs if d["kind"] == "Secret" and "tokens" in d["metadata"]["name"]]
    for deployment in _of(docs, "Deployment").values():
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        if "tokens" in volumes:
            assert volumes["tokens"]["secret"]["secretName"] == "tokens"


def _relabel(rules: list[dict], meta: dict[str, str]) -> dict[str, str]:
    """Prometheus relabelling as far as the ServiceMonitor uses it (replace, uppercase)."""
    labels = dict(meta)
    for rule in rules:
        value = ";".join(labels.get(s, "") for s in rule.get("sourceLabels", []))
        action = rule.get("action", "replace")
        if action == "replace":
            labels[rule["targetLabel"]] = rule.get("replacement", "$1").replace("$1", value)
        elif action == "uppercase":
            labels[rule["targetLabel"]] = value.upper()
        else:
            raise AssertionError(f"relabel action {action} not modelled here")
    return {k: v for k, v in labels.items() if not k.startswith("__")}


def _meta_label(name: str) -> str:
    return "__meta_kubernetes_service_label_" + "".join(
        c if c.isalnum() else "_" for c in name)


def test_the_service_monitor_scrapes_every_process_with_the_labels_the_rules_select(
        every_overlay):
    code, docs = every_overlay
    [monitor] = _of(docs, "ServiceMonitor").values()
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    [endpoint] = monitor["spec"]["endpoints"]
    selector = monitor["spec"]["selector"]["matchLabels"]
    selected = [s for s in _of(docs, "Service").values()
                if selector.items() <= s["metadata"]["labels"].items()]
    pods = _pods(docs)
    scraped = {}
    for service in selected:
        [port] = [p for p in service["spec"]["ports"] if p["name"] == endpoint["port"]]
        [target] = [name for name, pod in pods.items()
                    if service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()]
        container = pods[target]["spec"]["containers"][0]
        assert port["targetPort"] in {p["containerPort"] for p in container["ports"]}
        meta = {_meta_label(k): v for k, v in service["metadata"]["labels"].items()}
        scraped[target] = _relabel(endpoint["relabelings"], meta)
    # every process exactly once, labelled as the compose scrape config labels it
    assert set(scraped) == set(pods)
    for name, labels in scraped.items():
        assert labels == {"job": "aftersales", "branch": code, "service": _process(name)}
    assert endpoint["honorLabels"] is True and endpoint["path"] == "/metrics"


def _rules() -> list[dict]:
    return [rule for path in sorted((ROOT / "deploy" / "prometheus" / "rules").glob("*.yml"))
            for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
            for rule in group["rules"]]


def test_the_rules_select_only_labels_the_service_monitor_sets():
    text = " ".join(rule["expr"] for rule in _rules())
    assert set(re.findall(r'\bjob="([^"]*)"', text)) == {"aftersales"}
    assert set(re.findall(r'\bservice="([^"]*)"', text)) <= set(PROCESSES)


def test_the_prometheus_rule_is_the_rules_compose_loads():
    from deploy.k8s.monitoring.generate_rules import render

    committed = (K8S / "monitoring" / "prometheus-rule.yaml").read_text(encoding="utf-8")
    # regenerate with `python deploy/k8s/monitoring/generate_rules.py`
    assert committed == render()
    [rule] = build(K8S / "monitoring")
    assert rule["kind"] == "PrometheusRule"
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert [r for g in rule["spec"]["groups"] for r in g["rules"]] == _rules()
    assert all(r.get("alert") or r.get("record") for r in _rules())
