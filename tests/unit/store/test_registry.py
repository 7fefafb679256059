"""Storage URLs to drivers (the sqlite scheme is exercised in the integration tier)."""

import pytest

from tinykube.store.memory import MemoryStore
from tinykube.store.registry import DRIVERS, open_store

pytestmark = pytest.mark.unit


async def test_memory_url_opens_a_memory_store() -> None:
    store = await open_store("memory://")
    assert isinstance(store, MemoryStore)
    await store.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        pytest.param("state.db", "has no scheme", id="no-scheme"),
        pytest.param("postgres://db/x", "unknown storage scheme 'postgres'", id="unknown"),
        pytest.param("sqlite://", "needs a path", id="sqlite-without-path"),
        pytest.param("sqlite:///x.db?_journal=WAL", "takes no options", id="sqlite-options"),
        pytest.param("memory://x", "takes no location", id="memory-with-location"),
    ],
)
async def test_bad_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        await open_store(url)


def test_the_table_names_every_scheme() -> None:
    assert sorted(DRIVERS) == ["etcd", "memory", "sqlite"]
