"""A small kustomize renderer for the tests (kustomize itself is not on PyPI): the subset
deploy/k8s uses — resources (files and directories), configMapGenerator/secretGenerator
(files, literals, behavior: merge, content-hash name suffix), strategic-merge patches,
images, labels (with includeSelectors), namePrefix, namespace (a Namespace object takes
its name) — and the name references that follow a renamed ConfigMap, Secret or
Deployment (a reference to an object outside the build is left as it is).
tests/unit/test_k8s.py checks its output, object by object, against `kubectl kustomize`
where kubectl is installed."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

ORIGIN = "__origin__"  # the name a resource had where it was declared
Doc = dict[str, Any]
SELECTING_KINDS = {"Service", "Deployment", "PodDisruptionBudget"}


def build(directory: Path) -> list[Doc]:
    docs = _render(directory)
    _add_hash_suffixes(docs)
    _resolve_references(docs)
    for doc in docs:
        doc.pop(ORIGIN, None)
        doc.pop("__generated__", None)
    return docs


def _render(directory: Path) -> list[Doc]:
    spec = yaml.safe_load((directory / "kustomization.yaml").read_text(encoding="utf-8"))
    docs: list[Doc] = []
    for entry in spec.get("resources", []):
        path = (directory / entry).resolve()
        docs.extend(_render(path) if path.is_dir() else _load(path))
    for kind, key in (("ConfigMap", "configMapGenerator"), ("Secret", "secretGenerator")):
        for generator in spec.get(key, []):
            _generate(docs, directory, kind, generator)
    for patch in spec.get("patches", []):
        for doc in _load(directory / patch["path"]):
            _merge(_find(docs, doc["kind"], doc["metadata"]["name"]), doc, top=True)
    _set_images(docs, spec.get("images", []))
    for group in spec.get("labels", []):
        _label(docs, group["pairs"], group.get("includeSelectors", False))
    for doc in docs:
        if doc["kind"] == "Namespace":  # as kustomize: renamed to the namespace, no prefix
            doc["metadata"]["name"] = spec.get("namespace", doc["metadata"]["name"])
            continue
        if spec.get("namePrefix"):
            doc["metadata"]["name"] = spec["namePrefix"] + doc["metadata"]["name"]
        if spec.get("namespace"):
            doc["metadata"]["namespace"] = spec["namespace"]
    return docs


def _load(path: Path) -> list[Doc]:
    docs = [copy.deepcopy(d) for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    for doc in docs:
        doc[ORIGIN] = doc["metadata"]["name"]
    return docs


def _find(docs: list[Doc], kind: str, origin: str) -> Doc:
    found = [d for d in docs if d["kind"] == kind and d[ORIGIN] == origin]
    if len(found) != 1:
        raise ValueError(f"{kind} {origin}: {len(found)} matches")
    return found[0]


def _generate(docs: list[Doc], directory: Path, kind: str, generator: Doc) -> None:
    data: dict[str, str] = {}
    for item in generator.get("files", []):
        key, _, path = item.partition("=") if "=" in item else (Path(item).name, "", item)
        data[key] = (directory / path).read_text(encoding="utf-8")
    for literal in generator.get("literals", []):
        key, _, value = literal.partition("=")
        data[key] = value
    if generator.get("behavior") == "merge":
        existing = _find(docs, kind, generator["name"])
        field = "data"
        if kind == "Secret":
            data = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        existing.setdefault(field, {}).update(data)
        return
    doc: Doc = {"apiVersion": "v1", "kind": kind, "metadata": {"name": generator["name"]},
                ORIGIN: generator["name"], "__generated__": True}
    if kind == "Secret":
        doc["type"] = "Opaque"
        doc["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    else:
        doc["data"] = data
    docs.append(doc)


def _merge(target: Any, patch: Any, top: bool = False) -> Any:
    """Strategic merge as far as these manifests need: maps merge, lists of named items
    merge by name, anything else is replaced."""
    if isinstance(target, dict) and isinstance(patch, dict):
        for key, value in patch.items():
            if top and key in ("apiVersion", "kind", "metadata"):
                continue
            target[key] = _merge(target[key], value) if key in target else copy.deepcopy(value)
        return target
    if (isinstance(target, list) and isinstance(patch, list)
            and all(isinstance(i, dict) and "name" in i for i in target + patch)):
        by_name = {item["name"]: item for item in target}
        for item in patch:
            if item["name"] in by_name:
                _merge(by_name[item["name"]], item)
            else:
                target.append(copy.deepcopy(item))
        return target
    return copy.deepcopy(patch)


def _containers(doc: Doc) -> list[Doc]:
    return doc.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])


def _set_images(docs: list[Doc], images: list[Doc]) -> None:
    for image in images:
        for doc in docs:
            for container in _containers(doc):
                if container["image"].split(":")[0] == image["name"]:
                    container["image"] = f"{image.get('newName', image['name'])}:" \
                                         f"{image.get('newTag', 'latest')}"


def _label(docs: list[Doc], pairs: dict[str, str], selectors: bool) -> None:
    for doc in docs:
        doc["metadata"].setdefault("labels", {}).update(pairs)
        # kustomize extends the selectors of the built-in kinds only (not a ServiceMonitor's)
        if not selectors or doc["kind"] not in SELECTING_KINDS:
            continue
        spec = doc.get("spec", {})
        if doc["kind"] == "Service":
            spec.setdefault("selector", {}).update(pairs)
        elif "selector" in spec:
            spec["selector"].setdefault("matchLabels", {}).update(pairs)
        if "template" in spec:
            spec["template"]["metadata"].setdefault("labels", {}).update(pairs)
            for spread in spec["template"]["spec"].get("topologySpreadConstraints", []):
                spread["labelSelector"].setdefault("matchLabels", {}).update(pairs)


def _add_hash_suffixes(docs: list[Doc]) -> None:
    for doc in docs:
        if doc.get("__generated__"):
            content = json.dumps(doc.get("data", {}), sort_keys=True).encode()
            doc["metadata"]["name"] += "-" + hashlib.sha256(content).hexdigest()[:10]


def _resolve_references(docs: list[Doc]) -> None:
    names = {(d["kind"], d[ORIGIN]): d["metadata"]["name"] for d in docs}

    def rename(kind: str, holder: Doc, key: str) -> None:
        # As kustomize: a reference to an object outside the build (one the operator
        # creates, like the tokens Secret) is left as it is.
        holder[key] = names.get((kind, holder[key]), holder[key])

    for doc in docs:
        if doc["kind"] == "HorizontalPodAutoscaler":
            target = doc["spec"]["scaleTargetRef"]
            rename(target["kind"], target, "name")
        pod = doc.get("spec", {}).get("template", {}).get("spec", {})
        for volume in pod.get("volumes", []):
            if "configMap" in volume:
                rename("ConfigMap", volume["configMap"], "name")
            if "secret" in volume:
                rename("Secret", volume["secret"], "secretName")
        for container in pod.get("containers", []):
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    rename("ConfigMap", source["configMapRef"], "name")
                if "secretRef" in source:
                    rename("Secret", source["secretRef"], "name")
