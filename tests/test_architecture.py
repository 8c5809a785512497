"""The shape of the code (ARCHITECTURE.md, Architecture 2): imports flow one way (no cycle
between the suite's modules), and the harness names no method (the engine asks a run's track)."""
import ast
import re
from pathlib import Path

import methods  # noqa: F401  registers every method of every track
from benchmark.tracks import TRACKS

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("benchmark", "methods", "paper_figures")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph():
    """module -> the suite's modules it imports at module level (imports inside functions are
    deferred on purpose and do not tie the import order)."""
    files = {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    graph = {}
    for name, path in files.items():
        targets = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        graph[name] = {t for t in targets if t in files and t != name}
    return graph


def find_cycle(graph):
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 100  # the whole suite was read
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_harness_imports_no_method_family():
    graph = import_graph()
    harness = [m for m in graph if m.startswith("benchmark")]
    offenders = {m: sorted(t for t in graph[m] if t.startswith("methods")) for m in harness}
    # the perf index discovers method families' benchmarks by name, importing none of them by hand
    offenders.pop("benchmark.perf.all", None)
    assert not {m: t for m, t in offenders.items() if t}, offenders


def test_no_method_name_in_the_harness():
    """No registered method's name as a string in the harness (a dispatch such as
    ``entry["method"] == "edge_based"``), the rule files or the Snakefile."""
    # "seeds" is both SEEDS (a superpixel algorithm) and the matrix's list of random seeds
    names = sorted({k for t in TRACKS for k in TRACKS.get(t).registry} - {"seeds"})
    pattern = re.compile(r"""["'](""" + "|".join(map(re.escape, names)) + r""")["']""")
    # benchmark/ops owns its ops (the soft label sampling op and its benchmark carry its name)
    places = [p for p in (ROOT / "benchmark").rglob("*.py") if "ops" not in p.relative_to(ROOT).parts
              and p.relative_to(ROOT) != Path("benchmark/perf/soft_labels.py")]
    places += sorted((ROOT / "workflows").glob("*.smk")) + [ROOT / "Snakefile"]
    found = [f"{p.relative_to(ROOT)}:{i}: {line.strip()}" for p in places
             for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert not found, "\n".join(found)
