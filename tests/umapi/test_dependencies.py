"""asyncio-throttle was measured and replaced by the client's own bucket: only the benchmarks use it."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_asyncio_throttle_is_a_benchmark_dependency_only() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not [line for line in project["dependencies"] if line.startswith("asyncio-throttle")]
    assert [line for line in project["optional-dependencies"]["bench"] if line.startswith("asyncio-throttle")]
    importers = []
    for path in (ROOT / "async_usersync").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            importers += [str(path.relative_to(ROOT)) for name in names if name.split(".")[0] == "asyncio_throttle"]
    assert importers == []
