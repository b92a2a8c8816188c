"""The code's types, checked: mypy over chalicelib (pyproject.toml [tool.mypy]) and the
tests' in-memory object graph (tests/memory_graph.py), and the
object graph handed to every function as `svc` typed by what its layer may use
(chalicelib/dependencies.py, registry/, management/ and tokens/dependencies.py), never
untyped and never the whole `Services` below the front."""
from __future__ import annotations

import ast
from pathlib import Path

from mypy import api as mypy_api

ROOT = Path(__file__).resolve().parents[2]
CHALICELIB = ROOT / "chalicelib"
# the front layer builds the graph and may hand it on whole
FRONT = {"front.py", "bootstrap.py", "uploadhost.py", "services.py", "replicator"}
BY_PACKAGE = {
    "registry": "RegistryDependencies",
    "management": "ManagementDependencies",
    "console": "ManagementDependencies",
    "tokens": "TokenDependencies",
}


def _svc_parameters():
    for path in sorted(CHALICELIB.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                args = node.args
                for arg in args.posonlyargs + args.args + args.kwonlyargs:
                    if arg.arg == "svc":
                        yield path.relative_to(CHALICELIB), node.name, arg.annotation


def test_mypy_finds_no_error():
    # and the tests' in-memory graph: that it is a DomainDependencies (its `_provides`)
    # mypy's own incremental cache (git-ignored): a run after a change checks what the change
    # touches, under a second where a whole check costs about five
    out, err, status = mypy_api.run(["--config-file", str(ROOT / "pyproject.toml"), "--cache-dir", str(ROOT / ".mypy_cache"),
                                     str(CHALICELIB), str(ROOT / "tests" / "memory_graph.py")])
    assert status == 0, out[-6000:] + err[-2000:]


def test_every_svc_is_typed_by_what_its_layer_may_use():
    wrong = []
    seen = 0
    for path, function, annotation in _svc_parameters():
        seen += 1
        if path.parts[0] in FRONT:
            expected = "Services"
        else:
            expected = BY_PACKAGE.get(path.parts[0], "DomainDependencies")
        name = annotation.id if isinstance(annotation, ast.Name) else ast.unparse(annotation) if annotation else None
        if name != expected:
            wrong.append(f"{path}: {function}(svc: {name}), expected {expected}")
    assert seen > 200  # the walk found the functions
    assert not wrong, "\n".join(wrong)
