"""The layout holds: no import cycle anywhere, not even through a late import."""

from __future__ import annotations

import grimp
import pytest


def _cycles(graph: grimp.ImportGraph, package: str) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), among `package`."""
    modules = sorted(m for m in graph.modules if m.split(".")[0] == package)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported.split(".")[0] != package:
                continue
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in modules:
        if module not in index:
            visit(module)
    return found


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    # grimp reads every import, those inside functions too: a late import dodging a
    # circle is still a circle here.
    return grimp.build_graph("bot", "rules", "parsers")


@pytest.mark.parametrize("package", ["bot", "rules", "parsers"])
def test_no_import_cycle(graph: grimp.ImportGraph, package: str) -> None:
    assert _cycles(graph, package) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for module in ("pkg", "pkg.a", "pkg.b", "pkg.c"):
        graph.add_module(module)
    graph.add_import(importer="pkg.a", imported="pkg.b")
    graph.add_import(importer="pkg.b", imported="pkg.a")
    graph.add_import(importer="pkg.c", imported="pkg.a")
    assert _cycles(graph, "pkg") == [["pkg.a", "pkg.b"]]


def test_in_the_pipeline_only_the_reading_module_parses_a_message(
    graph: grimp.ImportGraph,
) -> None:
    # Every consumer (ticket, reply, stages, classifier) reads the intake's one parse
    # (bot.pipeline.reading.MessageCache); none may parse a message again itself.
    parsing = {"parsers.email", "parsers.thread"}
    importers = {
        module
        for parser in parsing
        for module in graph.find_modules_that_directly_import(parser)
        if module.startswith(("bot.pipeline", "bot.render", "bot.ops"))
    }
    assert importers == {"bot.pipeline.reading"}
