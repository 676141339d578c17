"""docs/python.md's worked example runs and prints what the page says it prints."""

from __future__ import annotations

import contextlib
import io
import re

from conftest import ROOT


def test_worked_example_prints_what_the_page_shows(tmp_path, monkeypatch):
    page = (ROOT / "docs" / "python.md").read_text()
    section = page.split("## A worked example", 1)[1]
    code, shown = re.findall(r"```python\n(.*?)```\n\n```\n(.*?)```", section, re.S)[0]
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "docs/python.md", "exec"), {"__name__": "docs_example"})
    assert out.getvalue() == shown
