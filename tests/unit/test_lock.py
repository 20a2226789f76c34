"""The lock files: requirements.lock, the image's dependencies (deploy/Dockerfile installs
from it with --require-hashes), and requirements-dev.lock, with the dev and embedded
extras (for CI). Every dependency of pyproject.toml pinned at a version its specifier
allows, every file hashed, no path of the machine that wrote it, and nothing of the
embedded store in the image's. Regenerate after changing the dependencies: `make lock`.
"""

from __future__ import annotations

import re
import socket
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from services.ops.infra import EmbeddedMongo, InfraError

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"
DEV_LOCK = ROOT / "requirements-dev.lock"


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _locked(text: str) -> dict[str, tuple[Version, list[str]]]:
    """name -> (pinned version, hashes), from pip-compile's `name==version \\` blocks."""
    pins: dict[str, tuple[Version, list[str]]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        match = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\]+)", block)
        if match:
            pins[canonicalize_name(match.group(1))] = (
                Version(match.group(2)), re.findall(r"--hash=sha256:([0-9a-f]{64})", block))
    return pins


def _missing_or_outside(requirements: list[str], pins: dict) -> list[str]:
    wrong = []
    for line in requirements:
        requirement = Requirement(line)
        pin = pins.get(canonicalize_name(requirement.name))
        if pin is None or not requirement.specifier.contains(pin[0], prereleases=True):
            wrong.append(line)
    return wrong


def test_the_lock_pins_every_runtime_dependency_within_its_specifier():
    pins = _locked(LOCK.read_text(encoding="utf-8"))
    assert _missing_or_outside(_project()["dependencies"], pins) == []


def test_the_dev_lock_pins_every_dependency_of_every_extra_too():
    project = _project()
    pins = _locked(DEV_LOCK.read_text(encoding="utf-8"))
    own = canonicalize_name(project["name"])
    everything = [*project["dependencies"],
                  *(r for extra in project["optional-dependencies"].values() for r in extra
                    if canonicalize_name(Requirement(r).name) != own)]
    assert _missing_or_outside(everything, pins) == []
    # the same version wherever both locks pin a package: the image runs what CI tested
    image = _locked(LOCK.read_text(encoding="utf-8"))
    assert {n: v for n, (v, _) in image.items()} == \
        {n: pins[n][0] for n in image if n in pins}


def test_every_locked_package_is_pinned_with_a_hash():
    for lock in (LOCK, DEV_LOCK):
        text = lock.read_text(encoding="utf-8")
        pins = _locked(text)
        assert len(pins) >= len(_project()["dependencies"])
        assert all(hashes for _, hashes in pins.values()), \
            [n for n, (_, h) in pins.items() if not h]
        # every requirement line an exact pin (pip --require-hashes refuses anything else)
        lines = [line for line in text.splitlines() if re.match(r"[A-Za-z0-9]", line)]
        assert lines and all("==" in line for line in lines), lock.name
        assert "file:" not in text and " @ " not in text, lock.name


def test_the_check_sees_a_dependency_the_lock_lacks_or_pins_outside_its_range():
    pins = _locked(LOCK.read_text(encoding="utf-8"))
    assert _missing_or_outside(["left-pad>=1"], pins) == ["left-pad>=1"]
    assert _missing_or_outside(["pymongo<1"], pins) == ["pymongo<1"]


def test_the_embedded_store_is_an_extra_for_development_not_in_the_image():
    project = _project()
    names = {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}
    assert "secantusdb" not in names
    extras = project["optional-dependencies"]
    assert [canonicalize_name(Requirement(r).name) for r in extras["embedded"]] == ["secantusdb"]
    # `make run` and `make test` install .[dev], which brings the embedded store along
    assert any(Requirement(r).name == project["name"] and "embedded" in Requirement(r).extras
               for r in extras["dev"])
    assert "secantusdb" not in _locked(LOCK.read_text(encoding="utf-8"))


def test_the_image_installs_the_lock_with_hashes_and_the_project_without_dependencies():
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    runs = [" ".join(step.split()) for step in
            re.findall(r"^RUN (.*?)(?<!\\)$", dockerfile, re.M | re.S)]
    assert any("pip install --require-hashes" in r and "requirements.lock" in r for r in runs)
    installs = [r for r in runs if "pip install" in r and "requirements.lock" not in r]
    assert installs and all("--no-deps" in r for r in installs)
    assert "COPY requirements.lock" in dockerfile


def test_without_the_embedded_extra_the_store_names_it(tmp_path, monkeypatch):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    with pytest.raises(InfraError, match=r"\[embedded\]"):
        EmbeddedMongo(tmp_path / "db", port=port).start()
