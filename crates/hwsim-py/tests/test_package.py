"""The installed package as a user gets it: typed (py.typed and the extension's stubs), every
public name documented."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import hwsim
from hwsim import _native


def test_the_extension_stubs_declare_exactly_its_functions():
    package = Path(hwsim.__file__).parent
    assert (package / "py.typed").exists()
    stub = ast.parse((package / "_native.pyi").read_text())
    declared = {n.name for n in stub.body if isinstance(n, ast.FunctionDef)}
    exported = {n for n, f in vars(_native).items() if callable(f) and not n.startswith("_")}
    assert declared == exported


def test_every_public_function_and_class_has_a_docstring():
    for name in hwsim.__all__:
        obj = getattr(hwsim, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            assert inspect.getdoc(obj), name


def test_every_native_entry_point_runs_inside_guarded():
    """Each #[pyfunction]'s body is one `guarded(...)` call (src/lib.rs), so no Rust panic can
    reach Python as pyo3's PanicException (a BaseException)."""
    src = Path(__file__).resolve().parents[1] / "src"
    found = 0
    for rs in sorted(src.glob("*.rs")):
        for chunk in re.split(r"(?m)^#\[pyfunction\]", rs.read_text())[1:]:
            name = re.search(r"\bfn (\w+)", chunk).group(1)
            body = chunk[chunk.index("{", chunk.index(") -> ")) + 1:]
            assert body.lstrip().startswith("guarded("), f"{rs.name}: {name} is not guarded"
            found += 1
    exported = {n for n, f in vars(_native).items() if callable(f)}
    assert found == len(exported), (found, sorted(exported))
