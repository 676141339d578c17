"""docs/python.md's worked examples run and print what the page says they print."""

from __future__ import annotations

import contextlib
import io
import re

import pytest

from conftest import ROOT

PAGE = (ROOT / "docs" / "python.md").read_text()
SECTIONS = PAGE.split("## A worked example")[1:]


def test_the_page_has_both_worked_examples():
    assert len(SECTIONS) == 2
    assert SECTIONS[1].startswith(" with the MX formats")


@pytest.mark.parametrize("section", range(len(SECTIONS)))
def test_worked_example_prints_what_the_page_shows(tmp_path, monkeypatch, section):
    code, shown = re.findall(r"```python\n(.*?)```\n\n```\n(.*?)```", SECTIONS[section], re.S)[0]
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "docs/python.md", "exec"), {"__name__": "docs_example"})
    assert out.getvalue() == shown
