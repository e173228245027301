"""The docs tell the truth: their links resolve and their runnable commands work.

The runnable blocks (``<!-- doctest -->`` before the fence; see docblocks.py)
of each document run in order against one suite this module starts, with the
default ports in the commands rewritten to the suite's ports and ``var/`` to
its ``VAR_DIR``. Only ``test_doctest_commands_work`` starts that suite:
``-k "not doctest"`` runs every other check here in seconds.

Every citation of the suite's reference in the repository (``docs/spec/<file>.md``,
with the section headings it names; docs/spec/README.md, "Citing a section")
must name a file and headings that exist, and no file may speak in terms only
the suite's authors know: the tutorial it started from, or their own issue
numbers.
"""

from __future__ import annotations

import os
import re
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
    prose_lines,
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
def test_doctest_commands_work(name: str, suite: Suite, tmp_path: Path) -> None:
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


# --- citations of docs/spec/ and private references -------------------------------

SPEC = ROOT / "docs" / "spec"
SCANNED_SUFFIXES = {".py", ".md", ".sh", ".yml", ".yaml"}
SKIPPED_DIRS = {".git", ".venv", "var", "node_modules", "__pycache__"}
SKIPPED_DIRS |= {".pytest_cache", ".mypy_cache", ".ruff_cache"}
# This module spells out the patterns below and examples of what they catch.
THIS_MODULE = Path(__file__).resolve()

# docs/spec/api.md, "Auth" and "Users": the file, then quoted headings joined by "," or "and".
CITATION = re.compile(r'docs/spec/(?P<file>[\w.-]+\.md)(?P<sections>(?:(?:,|\s+and)\s+"[^"\n]+")*)')
# What is left of a line after a citation cut by a line break (its section would go unchecked).
CUT_CITATION = re.compile(r"^(?:,|\s+and)\s*$")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
# The reference is docs/spec/; a bare api.md, events.md or quality.md, or a path
# into shared/, names a contract a reader of the repository cannot open.
OUTSIDE_CONTRACT = re.compile(r"shared/spec\b|(?<![\w/.-])(?:api|events|quality)\.md\b")

# The tutorial the suite started from is no reference a reader can follow.
TUTORIAL = re.compile(r"\bthe\s+seed\b|\bseed's\b|\(seed\)", re.IGNORECASE)
# A bare issue number ("issue 42") points into a tracker the reader cannot see. An upstream issue
# is "#<number>" right after its project's name ("pybreaker issue #55").
ISSUE = re.compile(r"\bissues?\s+(?P<hash>#?)\d+", re.IGNORECASE)
# Words that may stand before "issue" without being a project's name.
NOT_A_PROJECT = re.compile(
    r"a|an|the|this|that|these|our|their|its|see|in|of|on|at|by|for|from|to|per|and|or"
    r"|upstream|internal|open|closed|fixed|same|another|one|later|earlier"
)


def repository_files() -> list[Path]:
    """Every scanned file under ROOT, outside virtualenvs, runtime data and VCS folders."""
    found = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.endswith(".egg-info"))
        found.extend(Path(folder, name) for name in sorted(files))
    return [path for path in found if path.suffix in SCANNED_SUFFIXES]


SCANNED = {path.relative_to(ROOT).as_posix(): path for path in repository_files()}


def lines_of(name: str) -> list[str]:
    return SCANNED[name].read_text("utf-8", errors="replace").splitlines()


def spec_headings(name: str) -> set[str]:
    """The headings of docs/spec/<name>, as written (outside code fences)."""
    return {
        match[1]
        for _, line in prose_lines(SPEC / name)
        if (match := HEADING.match(line)) is not None
    }


def citation_problems(lines: list[str], source: str) -> list[str]:
    """Each citation whose file or section does not exist, or that a line break cuts."""
    problems = []
    for number, line in enumerate(lines, 1):
        for match in CITATION.finditer(line):
            where = f"{source}:{number}: {match[0]}"
            name = match["file"]
            if not (SPEC / name).is_file():
                problems.append(f"{where} (no docs/spec/{name})")
                continue
            headings = spec_headings(name)
            for section in re.findall(r'"([^"]+)"', match["sections"]):
                if section not in headings:
                    problems.append(f"{where} (no heading {section!r} in docs/spec/{name})")
            if CUT_CITATION.match(line[match.end() :]):
                problems.append(f"{where} (keep a citation on one line)")
    return problems


def private_references(lines: list[str], source: str) -> list[str]:
    """Mentions of the tutorial, or of the authors' own issue numbers."""
    problems = []
    for number, line in enumerate(lines, 1):
        where = f"{source}:{number}"
        problems.extend(f"{where}: {match[0]!r}" for match in TUTORIAL.finditer(line))
        for match in ISSUE.finditer(line):
            before = re.search(r"([\w.-]+)\s+$", line[: match.start()])
            project = before[1].lower() if before else ""
            if not match["hash"] or not project or NOT_A_PROJECT.fullmatch(project):
                problems.append(f"{where}: {line[: match.end()][-60:]!r}")
    return problems


def test_the_scan_sees_the_code_the_tests_and_the_docs() -> None:
    assert {"docs/spec/api.md", "gateway_project/gateway/proxy.py", "manage-all.sh"} <= set(SCANNED)
    assert {"tests/test_docs.py", "compose/docker-compose.yml"} <= set(SCANNED)
    assert not any(name.startswith((".venv/", "var/", ".git/")) for name in SCANNED)


def test_every_cited_spec_file_and_section_exists() -> None:
    problems = [problem for name in SCANNED for problem in citation_problems(lines_of(name), name)]
    assert problems == []


def test_the_code_cites_the_spec() -> None:
    # given the files that cite docs/spec/ (so that the test above has work to do)
    citing = {name for name in SCANNED if any(CITATION.search(line) for line in lines_of(name))}
    # then the code that follows a rule of the reference says so
    assert {
        "gateway_project/gateway/proxy.py",
        "shared/src/servicekit/pagination.py",
        "shared/src/servicekit/testing/contract.py",
        "user_project/accounts/deletion.py",
    } <= citing


def test_the_citation_check_finds_what_it_should() -> None:
    spec = "docs/" + "spec"  # spelled apart, so that this module's own scan skips them
    lines = [
        f'fine: {spec}/api.md, "Auth" and "Users"; {spec}/events.md, "Envelope"',
        f'{spec}/api.md, "No such section"',
        f"{spec}/nothing.md",
        f'cut: {spec}/api.md, "Auth",',
        f"{spec}/targets.md",
    ]
    problems = citation_problems(lines, "probe")
    assert [problem.split(": ", 1)[0] for problem in problems] == ["probe:2", "probe:3", "probe:4"]


def test_no_file_cites_a_contract_outside_the_repository() -> None:
    problems = [
        f"{name}:{number}: {match[0]}"
        for name, path in SCANNED.items()
        if not path.is_relative_to(SPEC) and path.resolve() != THIS_MODULE
        for number, line in enumerate(lines_of(name), 1)
        for match in OUTSIDE_CONTRACT.finditer(line)
    ]
    assert problems == []


def test_nothing_speaks_of_the_tutorial_or_of_private_issue_numbers() -> None:
    problems = [
        problem
        for name, path in SCANNED.items()
        if path.resolve() != THIS_MODULE
        for problem in private_references(lines_of(name), name)
    ]
    assert problems == []


@pytest.mark.parametrize(
    ("line", "flagged"),
    [
        ("the seed's example", True),
        ("**Question (seed):**", True),
        ("as The Seed shows", True),
        ("measured (issue 42).", True),
        ("see issue 43", True),
        ("before issue 44's work", True),
        ("issues 41 and 42", True),
        ("upstream issue #55", True),
        ("issue #12 says", True),
        ("pybreaker issue #55", False),
        ("(Celery issues #8030, #8091)", False),
        ("celery #8030", False),
        ("SEED = 'rows for the benchmark'", False),
        ("a seeded random fault", False),
    ],
)
def test_the_private_reference_check_is_precise(line: str, flagged: bool) -> None:
    assert bool(private_references([line], "probe")) is flagged
