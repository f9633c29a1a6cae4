"""CI's two stages (.ci/run) between them run every test, and the ones that do the same
work on either database only once: the permission matrix's cells in turn on SQLite and on
PostgreSQL, the route fuzz's roles the same way, the demo's words on SQLite (ci_sqlite),
a test that needs no database on PostgreSQL. Checked with pytest's own selection, on the marker expressions
.ci/run passes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES = (
    "tests/test_permission_matrix.py",
    "tests/test_route_fuzz.py",
    "tests/test_interface_language.py",
    "tests/browser/test_browser_chat.py",
)


def stage_marks() -> tuple[str, str]:
    script = (ROOT / ".ci/run").read_text()
    found = dict(re.findall(r'^(STAGE[12]_MARKS)="([^"]+)"$', script, re.MULTILINE))
    return found["STAGE1_MARKS"], found["STAGE2_MARKS"]


def collected(marks: str | None) -> set[str]:
    """The test ids pytest selects from FILES with `-m marks` (None: all)."""
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
    command += [*FILES, *(["-m", marks] if marks else [])]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    return {line for line in run.stdout.splitlines() if "::" in line}


def test_every_test_runs_in_a_stage_and_the_database_free_ones_in_one_only():
    everything = collected(None)
    first, second = (collected(marks) for marks in stage_marks())

    assert first | second == everything
    matrix = {t for t in everything if "test_role_against_action[" in t}
    assert len(matrix) > 400
    assert not matrix & first & second  # each cell once
    for stage in (first, second):  # and each action and each role on both databases
        cells = [re.search(r"\[(.+)-(\w+)\]$", t).groups() for t in matrix & stage]
        assert {action for action, _ in cells} == {
            re.search(r"\[(.+)-\w+\]$", t).group(1) for t in matrix
        }
        assert {role for _, role in cells} == {re.search(r"-(\w+)\]$", t).group(1) for t in matrix}
    fuzz = {t for t in everything if "test_bad_input_never_crashes_a_route[" in t}
    assert fuzz & first and fuzz & second and not fuzz & first & second  # each role once
    assert fuzz <= first | second
    words = {t for t in everything if "test_every_demo_page_speaks_one_language[" in t}
    assert words and words <= first and not words & second
    browser = {t for t in everything if t.startswith("tests/browser/")}
    assert browser and browser <= first and not browser & second
    # the rest runs on PostgreSQL, and on SQLite too when it uses the suite's database
    rest = everything - matrix - fuzz - words - browser
    assert rest <= second
    on_both = {t for t in rest if "test_the_login_prompt_speaks_the_visitors_language[" in t}
    assert on_both and on_both <= first
    own = "tests/test_permission_matrix.py::test_the_table_covers_every_role_and_every_policy_rule"
    assert own in rest - first  # needs no database (own_database)


def test_a_test_marked_for_neither_stage_stops_the_run():
    import pytest
    from support import check_ci_stages  # (not conftest: tests/browser has one too)

    class Item:
        def __init__(self, *marks: str) -> None:
            self.nodeid, self.marks = "tests/test_x.py::test_x", marks

        def get_closest_marker(self, name: str):
            return name if name in self.marks else None

    for fine in [(), ("ci_sqlite",), ("ci_postgresql", "own_database"), ("browser", "ci_sqlite")]:
        check_ci_stages([Item(*fine)])
    for neither in [("ci_sqlite", "own_database"), ("ci_sqlite", "ci_postgresql")]:
        with pytest.raises(pytest.UsageError, match="neither"):
            check_ci_stages([Item(*neither)])
