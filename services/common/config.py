"""Settings: YAML with ${VAR:default} substitution, validated on start.

A bad value fails fast with the key named, e.g. ``config key 'max_workers': Not a valid
integer.`` so an operator sees what to fix instead of a traceback from deep inside.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SETTINGS = PROJECT_ROOT / "deploy" / "config" / "services.yaml"
SERVICE_NAMES = ("intake", "dispatch", "inventory", "billing", "callbacks", "complaints")

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}")


class ConfigError(Exception):
    """Raised when configuration cannot be loaded or does not validate."""


def substitute_env(value: Any, environ: dict[str, str] | None = None) -> Any:
    """Replace ``${VAR:default}`` in every string of a YAML tree."""
    env = os.environ if environ is None else environ
    if isinstance(value, dict):
        return {k: substitute_env(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute_env(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is None:
            raise ConfigError(f"environment variable {name} is not set and has no default")
        return default

    return _ENV_REF.sub(replace, value)


def read_yaml(path: str | Path, environ: dict[str, str] | None = None) -> dict[str, Any]:
    try:
        with open(resolve_path(path), encoding="utf-8") as handle:
            raw = yaml.safe_load(handle) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    return substitute_env(raw, environ)


def resolve_path(path: str | Path) -> Path:
    """Relative paths are relative to the project root, whatever the working directory."""
    candidate = Path(path)
    return candidate if candidate.is_absolute() else PROJECT_ROOT / candidate


class _BranchList(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs):
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            raise ValidationError("Give one or more branch codes, e.g. SH,SZ.")
        codes = [str(item).strip().upper() for item in items if str(item).strip()]
        if not codes or not all(re.fullmatch(r"[A-Z]{2,8}", code) for code in codes):
            raise ValidationError("Branch codes are 2-8 letters, e.g. SH,SZ.")
        return codes


class _OutboxSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    lease_seconds = fields.Float(required=True, validate=validate.Range(min=1))


class _DispatchSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    offer_timeout_seconds = fields.Float(required=True, validate=validate.Range(min=1))
    emergency_offer_timeout_seconds = fields.Float(load_default=180.0,
                                                   validate=validate.Range(min=1))
    at_risk_share = fields.Float(required=True, validate=validate.Range(min=0.1, max=0.99))
    reconcile_seconds = fields.Float(load_default=60.0, validate=validate.Range(min=1))


class _HttpSchema(Schema):
    host = fields.String(required=True)
    gateway_port = fields.Integer(required=True, validate=validate.Range(min=1, max=65535))
    max_body_bytes = fields.Integer(required=True, validate=validate.Range(min=1024))


class SettingsSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    AMQP_URI = fields.String(required=True, validate=validate.Regexp(r"^amqps?://"))
    MONGO_URI = fields.String(required=True, validate=validate.Regexp(r"^mongodb(\+srv)?://"))
    db_prefix = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_]{1,40}$"))
    branches = _BranchList(required=True)
    # A branch deployment serves exactly one branch: BRANCH=<code> narrows `branches`.
    branch = fields.String(load_default="", validate=validate.Regexp(r"^([A-Za-z]{2,8})?$",
                           error="A branch code is 2-8 letters, e.g. SH."))
    reference_data = fields.String(required=True)
    tokens_file = fields.String(required=True)
    max_workers = fields.Integer(required=True, validate=validate.Range(min=1, max=200))
    HEARTBEAT = fields.Integer(load_default=60, validate=validate.Range(min=1, max=600))
    rpc_timeout_seconds = fields.Float(required=True, validate=validate.Range(min=0.1))
    delivery_attempts = fields.Integer(required=True, validate=validate.Range(min=1, max=50))
    outbox = fields.Nested(_OutboxSchema, required=True)
    dispatch = fields.Nested(_DispatchSchema, required=True)
    http = fields.Nested(_HttpSchema, required=True)
    metrics_ports = fields.Dict(
        keys=fields.String(), values=fields.Integer(validate=validate.Range(min=1, max=65535)),
        required=True,
    )


def _first_error(messages: dict, prefix: str = "") -> str:
    key, value = next(iter(messages.items()))
    path = f"{prefix}.{key}" if prefix else str(key)
    if isinstance(value, dict):
        return _first_error(value, path)
    text = value[0] if isinstance(value, list) else value
    return f"config key '{path}': {text}"


def validate_settings(raw: dict[str, Any]) -> dict[str, Any]:
    try:
        settings = SettingsSchema().load(raw)
    except ValidationError as exc:
        raise ConfigError(_first_error(exc.messages)) from exc
    raw = dict(raw)
    raw.update(settings)
    if settings["branch"]:  # one branch per deployment wins over the local-run list
        raw["branch"] = settings["branch"].upper()
        raw["branches"] = [raw["branch"]]
    return raw


def load_settings(path: str | Path | None = None,
                  environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The nameko config dict for one service process, validated."""
    env = os.environ if environ is None else environ
    chosen = path or env.get("AFTERSALES_CONFIG") or DEFAULT_SETTINGS
    return validate_settings(read_yaml(chosen, env))


def database_name(settings: dict[str, Any], service: str) -> str:
    return f"{settings['db_prefix']}_{service}"
