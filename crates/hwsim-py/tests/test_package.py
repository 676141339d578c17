"""The installed package as a user gets it: typed (py.typed and the extension's stubs), every
public name documented."""

from __future__ import annotations

import ast
import inspect
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
