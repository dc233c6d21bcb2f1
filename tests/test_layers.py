"""The layers point one way (docs/ARCHITECTURE.md): every ``mogrpo`` import, module-level or inside a function,
goes from a layer to a lower one or stays inside its own package. Walked with ``ast``, nothing imported."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mogrpo"

#: rank -> the packages / modules of that layer, highest first. Two units of one rank are peers: neither
#: imports the other (models know no metric, metrics no model).
LAYERS: dict[int, tuple[str, ...]] = {
    9: ("mogrpo.train", "mogrpo.evaluate", "mogrpo.score", "mogrpo.summarize", "mogrpo.soup"),  # entry points
    8: ("mogrpo.stages", "mogrpo.sweeps"),  # wiring: read the config tree, build and run
    7: ("mogrpo.config",),  # the checks that span several config groups
    6: ("mogrpo.modules", "mogrpo.callbacks", "mogrpo.warm_start", "mogrpo.reports"),
    5: ("mogrpo.models", "mogrpo.metrics"),
    4: ("mogrpo.data",),
    3: ("mogrpo.grpo", "mogrpo.ppo", "mogrpo.dpo", "mogrpo.reward"),  # the math: pure tensor functions
    2: ("mogrpo.utils",),
    1: ("mogrpo.configs",),
    0: ("mogrpo.errors",),
}


def _unit(module: str) -> tuple[int, str] | None:
    """The (rank, unit) a dotted module belongs to: its longest prefix in :data:`LAYERS`."""
    best = None
    for rank, units in LAYERS.items():
        for unit in units:
            if (module == unit or module.startswith(unit + ".")) and (best is None or len(unit) > len(best[1])):
                best = (rank, unit)
    return best


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) of every ``mogrpo`` import in a file (relative imports resolved)."""
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "mogrpo"]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            if base.split(".")[0] != "mogrpo":
                continue
            for alias in node.names:  # ``from mogrpo.data import files`` imports the module mogrpo.data.files
                candidate = f"{base}.{alias.name}"
                out.append((node.lineno, candidate if (PACKAGE.parent / candidate.replace(".", "/")).with_suffix(".py").is_file() else base))
    return out


def _edges():
    for path in sorted(PACKAGE.rglob("*.py")):
        source = _module_name(path)
        for line, target in _imports(path):
            yield path, line, source, target


def test_every_module_has_a_layer():
    missing = sorted({src for _, _, src, _ in _edges() if src != "mogrpo" and _unit(src) is None})
    assert not missing, f"modules outside every layer (add them to LAYERS and docs/ARCHITECTURE.md): {missing}"


def test_imports_point_down():
    bad = []
    for path, line, source, target in _edges():
        src, dst = _unit(source), _unit(target)
        if src is None or dst is None or src[1] == dst[1]:
            continue
        if dst[0] >= src[0]:
            kind = "a peer" if dst[0] == src[0] else "a higher layer"
            bad.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {source} ({src[0]}) imports {target}, {kind} ({dst[0]})")
    assert not bad, "imports that point up or sideways:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    ("source", "target", "allowed"),
    [
        ("mogrpo.stages.grpo", "mogrpo.modules.grpo_module", True),
        ("mogrpo.metrics.aspects", "mogrpo.modules.grpo_module", False),  # up
        ("mogrpo.models.policy", "mogrpo.metrics.refusal", False),  # a peer
        ("mogrpo.data.eval_sets", "mogrpo.metrics.refusal", False),  # up
        ("mogrpo.stages.evaluation", "mogrpo.stages.inputs", True),  # inside one package
    ],
)
def test_the_rule_itself(source, target, allowed):
    src, dst = _unit(source), _unit(target)
    assert (src[1] == dst[1] or dst[0] < src[0]) is allowed


# one concept a file: a module past this many lines is doing two things (docs/ARCHITECTURE.md)
MAX_MODULE_LINES = 400


def test_every_module_stays_under_the_size_limit():
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"modules over {MAX_MODULE_LINES} lines (split them by concept): {long}"
