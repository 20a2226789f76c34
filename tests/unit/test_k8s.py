"""The Kubernetes manifests: each branch overlay renders (tests/unit/kustomize.py) into
objects valid for a pinned Kubernetes version, runs every process with the supervisor's
command, probes the process's port (liveness /health/live, readiness /health/ready), and
serves exactly its own branch."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from services.common.config import load_settings
from services.ops.supervisor import PROCESSES, serve_command
from tests.unit.kustomize import build

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.31.0"  # the oldest version the manifests must run on
BRANCHES = ("SH", "SZ")


@pytest.fixture(scope="module", params=BRANCHES)
def rendered(request) -> tuple[str, list[dict]]:
    return request.param, build(K8S / "overlays" / request.param.lower())


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


def test_every_object_is_valid_kubernetes(rendered):
    _, docs = rendered
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


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
    namespaces = {d["metadata"]["namespace"] for d in docs}
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
@pytest.mark.parametrize("branch", BRANCHES)
def test_plain_kubectl_kustomize_builds_each_overlay_as_the_test_renderer_does(branch):
    # No --load-restrictor: GitOps tools build with kustomize's default restrictions.
    overlay = K8S / "overlays" / branch.lower()
    out = subprocess.run(["kubectl", "kustomize", str(overlay)], capture_output=True,
                         text=True, check=True).stdout
    real = {(d["kind"], d["metadata"]["name"].rsplit("-", 1)[0]
             if d["kind"] in ("ConfigMap", "Secret") else d["metadata"]["name"])
            for d in yaml.safe_load_all(out) if d}
    ours = {(d["kind"], d["metadata"]["name"].rsplit("-", 1)[0]
             if d["kind"] in ("ConfigMap", "Secret") else d["metadata"]["name"])
            for d in build(overlay)}
    assert real == ours and ("Deployment", f"{branch.lower()}-dispatch") in real


def test_the_api_tokens_are_the_operators_secret_not_the_repositorys(rendered):
    _, docs = rendered
    assert not [d for d in docs if d["kind"] == "Secret" and "tokens" in d["metadata"]["name"]]
    for deployment in _of(docs, "Deployment").values():
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        if "tokens" in volumes:
            assert volumes["tokens"]["secret"]["secretName"] == "tokens"
