"""The docs tell the truth: their links resolve and their runnable commands work.

The runnable blocks (``<!-- doctest -->`` before the fence; see docblocks.py)
of each document run in order against one suite this module starts, with the
default ports in the commands rewritten to the suite's ports and ``var/`` to
its ``VAR_DIR``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from docblocks import (
    DEFAULT_PORTS,
    MARKER,
    Command,
    Outcome,
    broken_links,
    localize,
    run_commands,
    runnable_commands,
    unmatched_line,
)
from support import ROOT, Suite

pytestmark = pytest.mark.e2e

DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
# Run in this order, one shell each: the README's walkthrough expects a fresh suite.
RUNNABLE = ["README.md", "docs/api-tour.md", "docs/runbook.md"]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(doc: Path) -> None:
    assert broken_links(doc, ROOT) == []


def test_runnable_blocks_are_where_the_test_runs_them() -> None:
    # given every document with a runnable block
    marked = {
        doc.relative_to(ROOT).as_posix()
        for doc in DOCS
        if any(line.strip() == MARKER for line in doc.read_text("utf-8").splitlines())
    }
    # then the test below runs each of them (and each of those has commands)
    assert marked == set(RUNNABLE)
    for name in RUNNABLE:
        assert runnable_commands(ROOT / name, ROOT), f"{name} has no runnable commands"


def test_output_matching_is_strict_where_it_should_be() -> None:
    shown = ['{"id":1,"title":"buy milk","completed":true,"created_at":"2026-11-26T05:06:11Z"}']
    printed = '{"id":7,"title":"buy milk","completed":true,"created_at":"2027-01-02T03:04:05.6Z"}'
    assert unmatched_line(shown, ["something else", printed]) is None
    assert unmatched_line(shown, [printed.replace("true", "false")]) == shown[0]
    assert unmatched_line(["a…c", "abc"], ["abc", "d"]) == "abc"  # each printed line once
    failed = Outcome(Command("false", "x.md:1"), 1, "")
    assert failed.problem() == "exit status 1"


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    suite = Suite(var_dir=tmp_path_factory.mktemp("docs"))
    suite.up()
    yield suite
    suite.down()


@pytest.mark.parametrize("name", RUNNABLE)
def test_runnable_commands_work(name: str, suite: Suite, tmp_path: Path) -> None:
    # given the document's commands, pointed at this suite
    ports = {variable: suite.env[variable] for variable in DEFAULT_PORTS.values()}
    commands = [
        Command(
            text=localize(command.text, ports, suite.var_dir),
            source=command.source,
            expected=[localize(line, ports, suite.var_dir) for line in command.expected],
        )
        for command in runnable_commands(ROOT / name, ROOT)
    ]
    # when they run in one shell, in order
    outcomes = run_commands(commands, cwd=ROOT, env=suite.env, work_dir=tmp_path, timeout=90)
    # then every one ran and did what the document shows
    for outcome in outcomes:
        problem = outcome.problem()
        assert problem is None, (
            f"{outcome.command.source}: {problem}\n$ {outcome.command.text}\n"
            f"--- printed:\n{outcome.output}"
        )
    assert len(outcomes) == len(commands), f"only {len(outcomes)} of {len(commands)} commands ran"
