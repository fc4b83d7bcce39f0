"""Who may import whom (docs/DESIGN.md §3 Import rules), checked by reading every module's import statements."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("subnet", "miners", "validators", "consensus", "demo")
# Which project packages each package may import (itself always allowed).
ALLOWED = {
    "consensus": set(),
    "subnet": {"consensus"},
    "miners": {"subnet", "consensus"},
    "validators": {"subnet", "consensus"},
    "demo": {"subnet"},
}


def imported_packages(path: Path) -> set[str]:
    """Top-level project packages a module imports (absolute imports; relative ones stay inside the package)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & set(PACKAGES)


def test_import_direction() -> None:
    violations = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for target in imported_packages(path) - ALLOWED[package] - {package}:
                violations.append(f"{path.relative_to(ROOT)} imports {target}")
    assert not violations, "import rules broken (docs/DESIGN.md §3):\n" + "\n".join(violations)


# The public API: what ``subnet`` exports (``subnet.__all__``), plus the generated wire contract.
PUBLIC_SUBNET_MODULES = {"subnet.proto": {"subnet_pb2"}}


def test_demo_uses_only_the_public_subnet_api() -> None:
    import subnet

    outside = []
    for path in sorted((ROOT / "demo").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "subnet" for a in node.names):
                outside.append(f"{path.relative_to(ROOT)}: import {', '.join(a.name for a in node.names)}")
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "subnet":
                allowed = set(subnet.__all__) if node.module == "subnet" else PUBLIC_SUBNET_MODULES.get(node.module, set())
                names = {alias.name for alias in node.names}
                if not names <= allowed:
                    outside.append(f"{path.relative_to(ROOT)}: from {node.module} import {', '.join(sorted(names - allowed))}")
    assert not outside, "demo/ uses subnet names outside its public API (export them in subnet/__init__.py):\n" + "\n".join(
        outside
    )


def test_checker_sees_a_violation(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("import validators.scoring\nfrom miners import engine\nfrom . import sibling\n")
    assert imported_packages(module) == {"validators", "miners"}
