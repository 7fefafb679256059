"""The whole store conformance suite against MemoryStore."""

import sys
from collections.abc import AsyncIterator

import pytest

if "tinykube.store.conformance" not in sys.modules:  # plain asserts, detailed failures
    pytest.register_assert_rewrite("tinykube.store.conformance")

from tinykube.store.conformance import StoreConformance
from tinykube.store.memory import MemoryStore

pytestmark = pytest.mark.unit


class TestMemoryStore(StoreConformance):
    @pytest.fixture
    async def store(self) -> AsyncIterator[MemoryStore]:
        store = MemoryStore()
        yield store
        await store.close()
