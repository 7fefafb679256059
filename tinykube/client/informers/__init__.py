"""Informers: a list+watch of one collection into an indexed local cache, with handlers.

``reflector`` keeps the cache equal to the server (list, watch, re-watch,
relist on 410); ``indexer`` is the cache; ``informer`` fans events out to
handlers; ``factory`` shares one informer per collection across controllers.
"""

from tinykube.client.informers.factory import InformerFactory
from tinykube.client.informers.indexer import (
    NAMESPACE_INDEX,
    Indexer,
    IndexFunc,
    key_of,
    split_key,
)
from tinykube.client.informers.informer import Handler, SharedInformer
from tinykube.client.informers.reflector import Reflector

__all__ = [
    "NAMESPACE_INDEX",
    "Handler",
    "IndexFunc",
    "Indexer",
    "InformerFactory",
    "Reflector",
    "SharedInformer",
    "key_of",
    "split_key",
]
