"""Every bench/ script still starts: ``--help`` exits 0, helpers import, and what each file
takes from ``recsys`` (anywhere in it, also inside functions ``--help`` never runs) exists
with the arguments the file passes.

Parametrized over the directory listing, so a new script is covered without editing this file.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import subprocess
import sys
import types

import pytest

from tests.bench.conftest import BENCH, REPO, bench_files, explain, run_bench

FILES = bench_files()
CHECKED_PACKAGES = ("recsys", "tests")


def _is_script(name: str) -> bool:
    return 'if __name__ == "__main__"' in (BENCH / name).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def book_model(tmp_path_factory) -> str:
    """A tiny gensim KeyedVectors file: ``bench/book_app.py`` loads ``$BOOK_MODEL`` on import."""
    import numpy as np
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=4)
    kv.add_vectors(["1", "2", "3"], np.eye(3, 4, dtype=np.float32))
    path = tmp_path_factory.mktemp("book") / "book.kv"
    kv.save(str(path))
    return str(path)


def test_the_listing_holds_scripts_and_helpers():
    assert "ann_bench.py" in FILES and "_yesdata.py" in FILES  # the glob found bench/


@pytest.mark.parametrize("name", FILES)
def test_help_or_import(name, book_model):
    """Scripts: ``--help`` exits 0 with a usage line. Helpers (no ``__main__``): import."""
    if _is_script(name):
        proc = run_bench(name, "--help", timeout=60)
        assert proc.returncode == 0 and "usage:" in proc.stdout, explain(proc)
        return
    code = (f"import sys; sys.path[:0] = [{str(BENCH)!r}, {str(REPO)!r}]; "
            f"import {name[:-3]}")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=60, env={"BOOK_MODEL": book_model,
                                                      "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, explain(proc)


# --- static check of what the files take from recsys --------------------------------------


def _bench_top_level(module: str) -> set[str]:
    """Names bound at the top level of ``bench/<module>.py`` (read, not imported: some
    helpers do work at import)."""
    tree = ast.parse((BENCH / f"{module}.py").read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def _resolve(module: str, name: str):
    """``from module import name``: the object, or raise ``ImportError``."""
    mod = importlib.import_module(module)
    if hasattr(mod, name):
        return getattr(mod, name)
    try:
        return importlib.import_module(f"{module}.{name}")  # a submodule not yet imported
    except ModuleNotFoundError as exc:
        if exc.name != f"{module}.{name}":
            raise  # the submodule exists but imports something missing
        raise ImportError(f"{module} has no {name}") from None


def _call_problem(func, call: ast.Call) -> str | None:
    """Why ``call`` cannot bind to ``func``'s signature (None: it can, or it is unknowable)."""
    if any(isinstance(a, ast.Starred) for a in call.args) or any(
            k.arg is None for k in call.keywords):
        return None  # *args / **kwargs: not checkable statically
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return None
    try:
        sig.bind(*[None] * len(call.args), **{k.arg: None for k in call.keywords})
    except TypeError as exc:
        return str(exc)
    return None


def _embedded_code(tree: ast.Module) -> list[ast.stmt]:
    """Statements of the string constants that are Python code importing recsys (probes a
    script runs in a child process, e.g. ``python -c PROBE``)."""
    out: list[ast.stmt] = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                and "import" in node.value and "recsys" in node.value):
            try:
                out += ast.parse(node.value).body
            except SyntaxError:
                continue  # a docstring or message that mentions them
    return out


def problems_of(name: str) -> list[str]:
    """What ``bench/<name>`` imports from recsys/tests/bench helpers that no longer exists,
    attributes of imported recsys modules that are gone, and calls of imported recsys
    functions whose arguments no longer bind."""
    tree = ast.parse((BENCH / name).read_text(encoding="utf-8"))
    tree.body += _embedded_code(tree)
    helpers = {f[:-3] for f in FILES}
    found: list[str] = []
    bound: dict[str, object] = {}  # local name -> recsys object it was imported as
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in CHECKED_PACKAGES:
                    try:
                        mod = importlib.import_module(alias.name)
                    except ImportError as exc:
                        found.append(f"line {node.lineno}: import {alias.name}: {exc}")
                        continue
                    if alias.asname:
                        bound[alias.asname] = mod
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            module = node.module
            if module.startswith("bench."):
                module = module[len("bench."):]
            if module in helpers:
                missing = {a.name for a in node.names} - _bench_top_level(module)
                found += [f"line {node.lineno}: bench/{module}.py has no {m}" for m in missing]
            elif module.split(".")[0] in CHECKED_PACKAGES:
                for alias in node.names:
                    try:
                        bound[alias.asname or alias.name] = _resolve(module, alias.name)
                    except ImportError as exc:
                        found.append(f"line {node.lineno}: from {module} import {alias.name}: "
                                     f"{exc}")
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and isinstance(bound.get(node.value.id), types.ModuleType)
                and not hasattr(bound[node.value.id], node.attr)):
            found.append(f"line {node.lineno}: {node.value.id}.{node.attr} does not exist")
        if isinstance(node, ast.Call):
            func = None
            if isinstance(node.func, ast.Name):
                func = bound.get(node.func.id)
            elif (isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name)
                    and isinstance(bound.get(node.func.value.id), types.ModuleType)):
                func = getattr(bound[node.func.value.id], node.func.attr, None)
            if callable(func) and not isinstance(func, types.ModuleType):
                problem = _call_problem(func, node)
                if problem:
                    found.append(f"line {node.lineno}: {ast.unparse(node.func)}(): {problem}")
    return found


@pytest.mark.parametrize("name", FILES)
def test_what_the_script_uses_from_recsys_exists(name):
    assert problems_of(name) == []


def test_the_static_check_sees_rot(tmp_path, monkeypatch):
    """A renamed function, a gone module attribute and a changed signature are all reported."""
    script = tmp_path / "rotten.py"
    script.write_text(
        "def main():\n"
        "    from recsys.ml.evaluate import split_train_val_test, no_such_function\n"
        "    import recsys.ingest.sample as sample\n"
        "    sample.no_such_attribute\n"
        "    split_train_val_test([], 0.1, 0.2, 0, 'one too many')\n"
        "    sample.generate_sample(10, no_such_keyword=1)\n")
    monkeypatch.setattr(sys.modules[__name__], "BENCH", tmp_path)
    found = "\n".join(problems_of("rotten.py"))
    assert "no_such_function" in found
    assert "sample.no_such_attribute does not exist" in found
    assert "split_train_val_test()" in found
    assert "no_such_keyword" in found
