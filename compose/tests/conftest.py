"""Built once per run: the compose file and every kustomize overlay."""

from __future__ import annotations

import pytest
from facts import OVERLAYS, Manifest, build_overlay


@pytest.fixture(scope="session")
def overlays(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Manifest]]:
    return {name: build_overlay(name, tmp_path_factory.mktemp(name)) for name in OVERLAYS}
