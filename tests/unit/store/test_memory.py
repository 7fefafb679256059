"""The whole store conformance suite against MemoryStore."""

from collections.abc import AsyncIterator

import pytest

pytest.register_assert_rewrite("tinykube.store.conformance")

from tinykube.store.conformance import StoreConformance  # noqa: E402
from tinykube.store.memory import MemoryStore  # noqa: E402

pytestmark = pytest.mark.unit


class TestMemoryStore(StoreConformance):
    @pytest.fixture
    async def store(self) -> AsyncIterator[MemoryStore]:
        store = MemoryStore()
        yield store
        await store.close()
