"""The heartbeat file and the health check that reads it (``python -m servicekit.heartbeat``)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from servicekit.heartbeat import Heartbeat, main


def test_a_beat_makes_a_fresh_file_that_the_check_accepts(tmp_path: Path) -> None:
    alive = tmp_path / "relay.alive"

    Heartbeat(alive).beat()

    assert main([str(alive), "--max-age", "5"]) == 0


def test_a_file_older_than_max_age_fails_the_check_and_says_how_old(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    alive = tmp_path / "relay.alive"
    Heartbeat(alive).beat()
    two_minutes_ago = time.time() - 120
    os.utime(alive, (two_minutes_ago, two_minutes_ago))

    assert main([str(alive), "--max-age", "60"]) == 1
    assert "is 120s old (> 60s)" in capsys.readouterr().err


def test_a_missing_file_fails_the_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "never-started")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_without_a_file_a_beat_writes_nothing(tmp_path: Path) -> None:
    Heartbeat(None).beat()

    assert list(tmp_path.iterdir()) == []
