"""Imports go one way: the table in docs/architecture.md, read and checked against every import
of the code. A new package must be placed in the table; an edge back up the flow fails."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "docs" / "architecture.md"


def _table() -> tuple[dict[str, int], set[tuple[str, str]]]:
    block = re.search(r"```layers\n(.*?)```", TABLE.read_text(), re.S)
    assert block, "docs/architecture.md has no ```layers block"
    layers: dict[str, int] = {}
    never: set[tuple[str, str]] = set()
    for line in block.group(1).splitlines():
        key, _, value = line.partition(":")
        if key.startswith("layer "):
            layers.update(dict.fromkeys(value.split(), int(key.split()[1])))
        elif key == "never":
            source, _, target = value.partition("->")
            never.add((source.strip(), target.strip()))
    return layers, never


def _unit(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[0] == "bots":
        return "bots"
    if parts == ("worker",):
        return "worker.py"
    return "notifier" if parts[1:] == ("__init__",) else parts[1]


def _imported(node: ast.AST, layers: dict[str, int]) -> list[str]:
    names: list[tuple[str, list[str]]] = []
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        names.append((node.module, [a.name for a in node.names]))
    elif isinstance(node, ast.Import):
        names += [(a.name, []) for a in node.names]
    units = []
    for module, members in names:
        head, *rest = module.split(".")
        if head == "bots":
            units.append("bots")
        elif head == "worker":
            units.append("worker.py")
        elif head == "notifier" and rest:
            units.append(rest[0])
        elif head == "notifier":  # `from notifier import scope, audit`
            units += [m if m in layers else "notifier" for m in members] or ["notifier"]
    return units


def _edges(layers: dict[str, int]) -> list[tuple[Path, str, str]]:
    files = [
        p
        for top in ("notifier", "bots")
        for p in (ROOT / top).rglob("*.py")
        if "migrations" not in p.parts
    ]
    edges = []
    for path in [*files, ROOT / "worker.py"]:
        source = _unit(path)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            edges += [(path, source, target) for target in _imported(node, layers)]
    return edges


def test_imports_follow_the_layers_of_docs_architecture() -> None:
    layers, never = _table()
    wrong = []
    for path, source, target in _edges(layers):
        where = path.relative_to(ROOT)
        if source == target:
            continue
        if source not in layers or target not in layers:
            wrong.append(f"{where}: {source} -> {target}: place it in docs/architecture.md")
        elif layers[target] >= layers[source] or (source, target) in never:
            wrong.append(
                f"{where}: {source} (layer {layers[source]}) imports {target} "
                f"(layer {layers[target]})"
            )
    assert not wrong, "imports against the flow:\n" + "\n".join(sorted(set(wrong)))


def test_the_walk_sees_the_edges_it_should() -> None:
    """The checker itself: it finds known edges, so a green run means something."""
    layers, _ = _table()
    found = {(s, t) for _, s, t in _edges(layers)}
    assert ("delivery", "channels") in found
    assert ("api", "scope") in found
    assert ("cli", "worker") in found or ("worker.py", "worker") in found
