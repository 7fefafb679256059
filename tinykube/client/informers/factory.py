"""One informer per watched collection, shared by every controller in a process.

The controller manager runs a dozen controllers and several of them watch
Pods; without sharing, each would hold its own watch and its own copy of
every Pod. ``InformerFactory.get`` returns the same ``SharedInformer`` for the
same (resource, namespace, selectors), so there is one watch and one cache per
collection however many controllers ask (client-go's
``SharedInformerFactory``).

Controllers ask for their informers while they are being built, then the
manager runs the factory. Informers requested after ``run`` began (a
controller started late, the garbage collector discovering a kind) are
started as soon as they are created. ``wait_synced`` waits until every
informer created so far has delivered its first complete list.
"""

from __future__ import annotations

import asyncio
import logging

from tinykube.client.clock import REAL_CLOCK, Clock
from tinykube.client.informers.informer import SharedInformer
from tinykube.client.informers.reflector import ListWatchClient
from tinykube.client.rest import resolve

log = logging.getLogger(__name__)

InformerKey = tuple[str, str, str, str, str]


class InformerFactory:
    """Hands out shared informers and runs them (``run``) in one TaskGroup."""

    def __init__(
        self,
        client: ListWatchClient,
        *,
        resync_period: float = 0.0,
        use_watch_list: bool = False,
        clock: Clock = REAL_CLOCK,
    ) -> None:
        self.client = client
        self.resync_period = resync_period
        self.use_watch_list = use_watch_list
        self.clock = clock
        self._informers: dict[InformerKey, SharedInformer] = {}
        # Informers created but not yet started; run() starts them as they come.
        self._unstarted: asyncio.Queue[SharedInformer] = asyncio.Queue()

    def get(
        self,
        api_version: str,
        resource: str,
        namespace: str = "",
        label_selector: str = "",
        field_selector: str = "",
    ) -> SharedInformer:
        """The shared informer for this collection, created on first request."""
        res = resolve(api_version, resource)
        key = (res.api_version, res.plural, namespace, label_selector, field_selector)
        informer = self._informers.get(key)
        if informer is None:
            informer = SharedInformer(
                self.client,
                res.api_version,
                res.plural,
                namespace=namespace,
                label_selector=label_selector,
                field_selector=field_selector,
                resync_period=self.resync_period,
                use_watch_list=self.use_watch_list,
                clock=self.clock,
            )
            self._informers[key] = informer
            self._unstarted.put_nowait(informer)
        return informer

    def informers(self) -> list[SharedInformer]:
        return list(self._informers.values())

    @property
    def has_synced(self) -> bool:
        return all(i.has_synced for i in self._informers.values())

    async def wait_synced(self) -> None:
        """Wait until every informer created so far has synced."""
        for informer in list(self._informers.values()):
            await informer.wait_synced()

    def start(self, tg: asyncio.TaskGroup) -> asyncio.Task[None]:
        """Run the factory as a task of ``tg`` (it stops when the group is cancelled)."""
        return tg.create_task(self.run())

    async def run(self) -> None:
        """Run every informer, including ones created later, until cancelled."""
        async with asyncio.TaskGroup() as tg:
            while True:
                informer = await self._unstarted.get()
                tg.create_task(informer.run(), name=f"informer {informer.reflector.name}")
