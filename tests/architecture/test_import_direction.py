"""Imports go api → snp → solver, never back (DESIGN.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# For each package, the first-party packages it must never import.
FORBIDDEN = {"solver": {"snp", "api"}, "snp": {"api"}, "api": set[str]()}


def imported_top_levels(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def violations(package: str) -> list[str]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = imported_top_levels(path.read_text(encoding="utf-8")) & FORBIDDEN[package]
        found += [f"{path.relative_to(ROOT)} imports {name}" for name in sorted(bad)]
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_downwards(package: str) -> None:
    assert violations(package) == []


def test_the_check_catches_a_backward_import() -> None:
    source = "import numpy\nfrom snp.orm import Base\nfrom . import sibling\n"
    assert imported_top_levels(source) & FORBIDDEN["solver"] == {"snp"}
