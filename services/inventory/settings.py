"""Where the parts catalogue and the inventory settings come from (paths in the
service settings, defaults in deploy/config)."""

from __future__ import annotations

from services.common.config import read_yaml
from services.inventory.domain.catalogue import Catalogue

DEFAULT_CATALOGUE = "deploy/config/parts_catalogue.yaml"
DEFAULT_SETTINGS = "deploy/config/inventory.yaml"


def load_catalogue(config: dict) -> Catalogue:
    parts = read_yaml(config.get("parts_catalogue") or DEFAULT_CATALOGUE)["parts"]
    return Catalogue(parts, read_yaml(config.get("inventory_settings") or DEFAULT_SETTINGS))
