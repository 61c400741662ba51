from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support import LiveServer, live_server

# Files that take a minute or more of mostly waiting (link drops, shaped links, crash and
# restart cycles). They are collected first so that the parallel run (`make test`, whole
# files per process) starts them at once, beside the short files, not alone at the end.
LONG_FILES = (
    "tests/e2e/test_network_recovery.py",
    "tests/e2e/test_uplink.py",
    "tests/e2e/test_guided.py",
    "tests/test_crash.py",
    "tests/test_policy_matrix.py",
    "tests/e2e/test_accessibility.py",
    "tests/test_recorder_crash.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return LONG_FILES.index(path) if path in LONG_FILES else len(LONG_FILES)

    items.sort(key=rank)  # stable: the order within each file is kept


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with live_server(tmp_path / "data") as live:
        yield live


@pytest.fixture
async def api_token(server: LiveServer) -> str:
    return await server.create_user()
