"""The ground floor stays one: the contracts (schemas/) and the chassis (services/common/)
import nothing from each other; each service's plumbing is the chassis' own."""

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def _imports(folder: str) -> dict[str, set[str]]:
    """Every module each file under ``folder`` imports (absolute imports)."""
    found = {}
    for path in sorted((ROOT / folder).rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[str(path.relative_to(ROOT))] = names
    return found


def _offending(folder: str, forbidden: str, allowed: str = "") -> list[str]:
    return [f"{path} imports {module}" for path, modules in _imports(folder).items()
            for module in sorted(modules)
            if (module == forbidden or module.startswith(forbidden + "."))
            and not (allowed and (module == allowed or module.startswith(allowed + ".")))]


def test_the_contracts_import_nothing_of_the_chassis():
    # The shared domain (services/common/domain) owns the business's terms; the
    # contracts import them, as they import each service's domain.
    assert _offending("schemas", "services.common", allowed="services.common.domain") == []


def test_the_chassis_imports_no_contract():
    assert _offending("services/common", "schemas") == []


def test_the_check_sees_an_import_across_the_floor(tmp_path, monkeypatch):
    """The checker itself can fail: a module of schemas/ that imports the chassis."""
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "bad.py").write_text("from services.common.routes import X\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert _offending("schemas", "services.common") == [
        "schemas/bad.py imports services.common.routes"]


def test_no_service_keeps_its_own_effects_or_finish_plumbing():
    """Relaying and counting are the unit of work's (services/common/unit_of_work.py)."""
    plumbing = re.compile(r"^class Effects\b|^    def _finish\(self, \w+: \w+\)|^ROUTED = ",
                          re.M)
    found = [str(path.relative_to(ROOT)) for path in sorted((ROOT / "services").rglob("*.py"))
             if plumbing.search(path.read_text(encoding="utf-8"))]
    assert found == []


UPDATE_OPERATORS = re.compile(r'"\$(set|inc|push|pull|addToSet|unset|setOnInsert)"')


def test_only_stores_write_update_documents():
    """The application layer speaks the business's words; a store (``*store.py``) turns
    them into updates (the chassis' outbox is the one other place)."""
    allowed = {"services/common/outbox.py"}
    found = [str(path.relative_to(ROOT)) for path in sorted((ROOT / "services").rglob("*.py"))
             if not path.name.endswith("store.py")
             and str(path.relative_to(ROOT)) not in allowed
             and UPDATE_OPERATORS.search(path.read_text(encoding="utf-8"))]
    assert found == []


def test_no_file_of_the_services_is_over_400_lines_nor_a_class_over_300():
    files, classes = [], []
    for path in sorted((ROOT / "services").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        name = str(path.relative_to(ROOT))
        if text.count("\n") > 400:
            files.append(name)
        classes += [f"{name}:{node.name}" for node in ast.walk(ast.parse(text))
                    if isinstance(node, ast.ClassDef)
                    and node.end_lineno - node.lineno + 1 > 300]
    assert (files, classes) == ([], [])
