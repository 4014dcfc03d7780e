"""The code's shape: apps import one way, no module imports itself round a cycle, and the
processes that need no OpenCV do not load it."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

# Lower layers first; an app may import only from the apps before it.
LAYERS = [
    "accounts", "cameras", "recordings", "events", "objects", "dashboard", "notifications", "api",
    "capture", "surveillance",
]  # fmt: skip


def product_modules() -> dict[str, Path]:
    modules = {}
    for app in LAYERS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """The product modules a file imports, at any depth (an import inside a function too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        found |= {name for name in names if name in modules}
    return found


def graph() -> dict[str, set[str]]:
    modules = product_modules()
    return {name: imports_of(path, modules) - {name} for name, path in modules.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in edges.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while (member := stack.pop()) != node:
                component.append(member)
            component.append(node)
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_itself_round_a_cycle() -> None:
    edges = graph()
    assert len(edges) > 40  # the walk found the product
    assert cycles(edges) == []


def test_apps_import_only_from_the_layers_below_them() -> None:
    wrong = []
    for module, imported in graph().items():
        layer = LAYERS.index(module.split(".")[0])
        for other in imported:
            if LAYERS.index(other.split(".")[0]) > layer:
                wrong.append(f"{module} imports {other}")
    assert wrong == []


def test_nothing_imports_the_processes_app() -> None:
    importers = {
        module
        for module, imported in graph().items()
        if not module.startswith("capture") and any(i.startswith("capture") for i in imported)
    }
    assert importers == set()


def loaded_after(*modules: str) -> set[str]:
    code = (
        "import sys, django; django.setup(); "
        + "".join(f"import {module}; " for module in modules)
        + "print(' '.join(sorted(sys.modules)))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "surveillance.settings"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return set(done.stdout.split())


def test_the_supervisor_the_admin_and_the_pages_do_not_load_opencv() -> None:
    loaded = loaded_after(
        "capture.supervisor",
        "cameras.admin",
        "events.admin",
        "dashboard.views",
        "surveillance.urls",
    )
    assert "capture.supervisor" in loaded
    assert "cv2" not in loaded
    assert "av" not in loaded  # PyAV comes in only when a page exports video


def test_the_source_parser_and_the_camera_model_do_not_load_opencv() -> None:
    loaded = loaded_after("cameras.sources", "cameras.models")
    assert "cameras.sources.parse" in loaded
    assert "cv2" not in loaded
