"""Headless Chromium for the wallboard test: found, or (as root on Debian/Ubuntu)
installed from the OS packages, like the broker."""

from __future__ import annotations

import os
import shutil
import subprocess

from services.ops.infra import InfraError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str | None:
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def ensure_chromium(say=print) -> str:
    path = find_chromium()
    if path:
        return path
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    if not (is_root and shutil.which("apt-get")):
        raise InfraError("Chromium is not installed: 'sudo apt-get install chromium'")
    say("Chromium is missing: installing it from the OS packages (apt-get install chromium)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], check=True, env=env)
    path = find_chromium()
    if path is None:
        raise InfraError("Chromium was installed but is not on PATH")
    return path
