"""The checked-in golden corpus, re-derived by the Python reference alone.

Every case folder under golden/ (recursively) is one test: its manifest.json says what the case
is, rederive.py recomputes every file from that (generated cases from their seed and params,
inputs included; directed cases from their own input dumps), and every dump must equal the
checked-in file byte for byte and every flag count the manifest's.  Files a manifest lists but
the folder does not hold (golden/rope keeps only the hashes of its tables, which test_reference
cross-checks) are reported: the case is skipped with the reason when it holds none of them,
else each is named in a warning.

Run: .venv/bin/python -m pytest scripts/test_golden.py  (GOLDEN=DIR walks another corpus)
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

import rederive

GOLDEN = Path(os.environ.get("GOLDEN", Path(__file__).resolve().parent.parent / "golden"))
CASES = rederive.case_folders(GOLDEN)


def test_the_corpus_is_there():
    assert CASES, f"no case folder (with a manifest.json) under {GOLDEN}"


@pytest.mark.parametrize("case", CASES, ids=[str(c.relative_to(GOLDEN)) for c in CASES])
def test_case_is_rederived_byte_for_byte(case):
    report = rederive.check_case(case)
    assert not report.mismatches, "\n".join([str(case)] + report.mismatches)
    if not report.compared:
        pytest.skip("; ".join(report.skipped))
    for reason in report.skipped:
        warnings.warn(f"{case}: {reason}")
