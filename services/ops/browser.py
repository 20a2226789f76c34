"""Headless Chromium for the browser tests: found, or (as root on Debian/Ubuntu)
installed from the OS packages, like the broker; with a CJK font, so the console's
screenshots show Chinese rather than empty boxes."""

from __future__ import annotations

import os
import shutil
import subprocess

from services.ops.infra import InfraError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
CJK_FONT_PACKAGE = "fonts-noto-cjk"


def find_chromium() -> str | None:
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def has_cjk_font() -> bool:
    """fontconfig knows a font for Chinese (unknown without fontconfig: assume so)."""
    if shutil.which("fc-list") is None:
        return True
    found = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, check=False)
    return bool(found.stdout.strip())


def ensure_chromium(say=print) -> str:
    path = find_chromium()
    if path:
        _ensure_cjk_font(say)
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
    _ensure_cjk_font(say)
    return path


def _ensure_cjk_font(say) -> None:
    if has_cjk_font():
        return
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    if not (is_root and shutil.which("apt-get")):
        say(f"No CJK font: screenshots will not show Chinese ('apt-get install "
            f"{CJK_FONT_PACKAGE}')")
        return
    say(f"No CJK font: installing {CJK_FONT_PACKAGE} from the OS packages")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "install", "-y", "-q", CJK_FONT_PACKAGE], check=True, env=env)
