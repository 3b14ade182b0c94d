"""The server's packages are layers: each imports only the ones above it (README, Layout)."""

from __future__ import annotations

import ast
from pathlib import Path

import jobop

LAYERS = ["domain", "batch", "repository", "operator", "service", "web", "app"]
ROOT = Path(jobop.__file__).resolve().parent


def imported_layers(path: Path) -> set[str]:
    """The jobop layers a module imports, type-checking imports included."""
    package = path.relative_to(ROOT).parts[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                modules = [node.module or ""]
            else:
                base = ["jobop", *package[: len(package) - node.level + 1]]
                modules = [".".join([*base, *([node.module] if node.module else [])])]
        for module in modules:
            parts = module.split(".")
            if parts[0] == "jobop" and len(parts) > 1 and parts[1] in LAYERS:
                found.add(parts[1])
    return found


def test_no_layer_imports_a_layer_below_it() -> None:
    wrong = []
    checked = 0
    for layer in LAYERS:
        for path in sorted((ROOT / layer).rglob("*.py")):
            checked += 1
            for imported in imported_layers(path):
                if LAYERS.index(imported) > LAYERS.index(layer):
                    wrong.append(f"{path.relative_to(ROOT)} imports jobop.{imported}")
    assert checked > 50, "found no modules: has the package moved?"
    assert not wrong, "\n".join(wrong)


def test_the_check_sees_relative_and_absolute_imports() -> None:
    module = ROOT / "batch" / "sql.py"
    assert "batch" in imported_layers(module)  # its `from .readers import …`
    assert "domain" in imported_layers(ROOT / "batch" / "job.py")
