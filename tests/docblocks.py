"""Runnable shell blocks in the Markdown docs, and the links between the docs.

A block is runnable when the line right before its fence is the marker
``<!-- doctest -->``:

- in a ```` ```console ```` block, a line starting with ``$ `` is a command (a
  line ending in ``\\`` continues it); the lines after it, up to the next
  command, are its expected output;
- in a ```` ```bash ```` block, every line that is not blank or a comment is a
  command, with no expected output.

Every runnable block of one document runs in order in one bash process (so
``TOKEN=...`` in one command is there for the next), from the repository root.
A command fails when it exits non-zero, or when a line of expected output does
not appear in what it printed (in any order; each printed line counts once).
Values that differ from run to run are compared loosely: timestamps, UUIDs,
JWTs, 32-hex ids, numeric ``..._id`` and ``id`` fields, ``duration_ms``,
``lag_seconds`` and pids; runs of spaces count as one; ``…`` in an expected line matches anything.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

MARKER = "<!-- doctest -->"
RUNNABLE_FENCES = ("console", "bash")
# The ports the docs show (manage-all.sh's defaults) and the names of their variables.
DEFAULT_PORTS = {
    "8080": "GATEWAY_PORT",
    "8081": "TODO_PORT",
    "8082": "USER_PORT",
    "8083": "NOTIFICATION_PORT",
    "5555": "FLOWER_PORT",
}

_VOLATILE = [
    (re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?"), "<time>"),
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]+"), "<jwt>"),
    (re.compile(r"\b[0-9a-f]{32}\b"), "<hex>"),
    (re.compile(r'("(?:\w+_)?id"\s*:\s*)\d+'), r"\1<n>"),
    (re.compile(r'("(?:duration_ms|lag_seconds)"\s*:\s*)[\d.]+'), r"\1<n>"),
    (re.compile(r"\bpid \d+"), "pid <n>"),
    (re.compile(r"\s+"), " "),  # column alignment
]


@dataclass
class Command:
    text: str
    source: str  # "docs/api-tour.md:42"
    expected: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    command: Command
    returncode: int
    output: str

    def problem(self) -> str | None:
        """Why this command counts as failed, or None."""
        if self.returncode != 0:
            return f"exit status {self.returncode}"
        missing = unmatched_line(self.command.expected, self.output.splitlines())
        if missing is not None:
            return f"expected output line not printed: {missing!r}"
        return None


def normalize(line: str) -> str:
    line = line.strip()
    for pattern, replacement in _VOLATILE:
        line = pattern.sub(replacement, line)
    return line


def line_matches(expected: str, actual: str) -> bool:
    parts = [re.escape(part) for part in normalize(expected).split("…")]
    return re.fullmatch(".*".join(parts), normalize(actual)) is not None


def unmatched_line(expected: list[str], actual: list[str]) -> str | None:
    """The first expected line with no printed line left to match it, or None.

    Order is not checked (a listing of things that happened in the same second
    comes out in either order); each printed line matches one expected line.
    """
    unused = list(actual)
    for wanted in expected:
        if not wanted.strip():
            continue
        for index, line in enumerate(unused):
            if line_matches(wanted, line):
                del unused[index]
                break
        else:
            return wanted
    return None


class MarkerError(ValueError):
    pass


def runnable_commands(path: Path, root: Path) -> list[Command]:
    """The commands of every runnable block of one Markdown file, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    name = path.relative_to(root).as_posix()
    commands: list[Command] = []
    index = 0
    while index < len(lines):
        if lines[index].strip() != MARKER:
            index += 1
            continue
        fence = lines[index + 1].strip() if index + 1 < len(lines) else ""
        language = fence.removeprefix("```")
        if not fence.startswith("```") or language not in RUNNABLE_FENCES:
            raise MarkerError(
                f"{name}:{index + 1}: {MARKER} must be followed by a ```console or ```bash fence"
            )
        index += 2
        start = index
        while index < len(lines) and lines[index].strip() != "```":
            index += 1
        commands.extend(_parse_block(lines[start:index], language, name, start + 1))
    return commands


def _parse_block(block: list[str], language: str, name: str, first_line: int) -> Iterator[Command]:
    current: Command | None = None
    continued = False
    for offset, line in enumerate(block):
        source = f"{name}:{first_line + offset}"
        if continued and current is not None:
            current.text += "\n" + line
            continued = line.endswith("\\")
            continue
        if language == "console":
            if line.startswith("$ "):
                if current is not None:
                    yield current
                current = Command(text=line[2:], source=source)
                continued = line.endswith("\\")
            elif current is not None:
                current.expected.append(line)
        elif line.strip() and not line.lstrip().startswith("#"):
            if current is not None:
                yield current
            current = Command(text=line, source=source)
            continued = line.endswith("\\")
    if current is not None:
        yield current


def localize(text: str, ports: Mapping[str, str], var_dir: Path) -> str:
    """Point a command (or an expected line) at a suite on other ports and VAR_DIR."""
    text = re.sub(r"(?<=:)(8080|8081|8082|8083|5555)\b", lambda m: ports[DEFAULT_PORTS[m[1]]], text)
    return re.sub(r"(?<![\w/.-])var/", f"{var_dir}/", text)


def run_commands(
    commands: list[Command],
    *,
    cwd: Path,
    env: Mapping[str, str],
    work_dir: Path,
    timeout: float,
) -> list[Outcome]:
    """Run the commands in one bash process, stopping at the first non-zero exit status."""
    work_dir.mkdir(parents=True, exist_ok=True)
    script = ["set -o pipefail"]
    for number, command in enumerate(commands):
        out, rc = work_dir / f"{number}.out", work_dir / f"{number}.rc"
        # A brace group runs in this shell: variables it sets stay for the next command.
        script += [
            "{",
            command.text,
            f"}} >'{out}' 2>&1 </dev/null",
            f"__rc=$?; echo $__rc >'{rc}'; [ $__rc = 0 ] || exit 0",
        ]
    subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=cwd,
        env=dict(env),
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    outcomes = []
    for number, command in enumerate(commands):
        rc = work_dir / f"{number}.rc"
        if not rc.exists():
            break
        output = (work_dir / f"{number}.out").read_text(errors="replace")
        outcomes.append(Outcome(command, int(rc.read_text()), output))
    return outcomes


# --- links ----------------------------------------------------------------------

_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_FENCE = re.compile(r"^\s*(```|~~~)")


def prose_lines(path: Path) -> Iterator[tuple[int, str]]:
    """The lines outside code fences."""
    in_fence = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if not in_fence:
            yield number, line


def relative_links(path: Path) -> Iterator[tuple[int, str]]:
    for number, line in prose_lines(path):
        for match in _LINK.finditer(re.sub(r"`[^`]*`", "", line)):
            target = match[1]
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            yield number, target


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"`", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    counts: dict[str, int] = {}
    for _, line in prose_lines(path):
        match = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if match:
            base = slug(match[2])
            count = counts.get(base, 0)
            found.add(base if count == 0 else f"{base}-{count}")
            counts[base] = count + 1
    return found


def broken_links(path: Path, root: Path) -> list[str]:
    problems = []
    for number, target in relative_links(path):
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        where = f"{path.relative_to(root).as_posix()}:{number}: {target}"
        if not resolved.exists():
            problems.append(f"{where} (no such file)")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            problems.append(f"{where} (no heading #{anchor} in {resolved.name})")
    return problems
