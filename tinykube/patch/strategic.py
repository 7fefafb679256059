"""Strategic merge patch: ``application/strategic-merge-patch+json`` bodies.

JSON merge patch cannot change one container of a pod: lists are replaced
whole. Kubernetes' answer is a merge patch that reads the schema. Each list
field declares a patch strategy (``x-kubernetes-patch-strategy``) and, for
lists of objects, a merge key (``x-kubernetes-patch-merge-key``):

* maps merge key by key, and ``null`` deletes a key;
* a ``merge`` list of objects merges item by item on the merge key
  (containers on ``name``, ports on ``containerPort``), appending new items;
* a ``merge`` list of primitives (finalizers) is a union;
* any other list, and every list of untyped data, is replaced whole;
* a ``replace`` map is replaced whole.

The patch can also carry directives: ``$patch: replace|delete|merge`` in a
map or a list item, ``$deleteFromPrimitiveList/<field>``,
``$setElementOrder/<field>`` (the final order of a merged list) and
``$retainKeys`` (the keys a map keeps; the others are cleared, which is how
switching a Deployment's strategy to Recreate drops ``rollingUpdate``).

``apply`` is the server side; ``create_two_way`` writes the patch that turns
one document into another, as kubectl does. The engines live in
``_smpmerge`` and ``_smpdiff``; errors are the API errors kube-apiserver
answers with (400 for a malformed patch, 422 for lists of lists).

One deliberate difference: Kubernetes rejects ``$patch: merge`` (and answers
500 for most malformed directives). We accept ``merge`` as the explicit
default and answer 400 BadRequest, with Kubernetes' message, for every
malformed patch.
"""

from __future__ import annotations

from typing import Any

from tinykube.api.schema import SchemaNode
from tinykube.patch import _smpdiff, _smpmerge
from tinykube.patch._smp import ERR_BAD_JSON_DOC, bad_patch
from tinykube.patch._values import JSONMap, deep_copy


def apply(doc: JSONMap, patch: JSONMap, schema: SchemaNode | None) -> JSONMap:
    """Apply a strategic merge ``patch`` to ``doc`` and return the new document.

    ``schema`` describes ``doc``'s kind (None: untyped, maps merge and lists
    are replaced). Neither input is modified. Raises BadRequest (400) for a
    malformed patch and Invalid (422) for lists of lists.
    """
    _check_object(doc)
    _check_object(patch)
    return _smpmerge.merge_map(deep_copy(doc), deep_copy(patch), schema, combine=False)


def create_two_way(original: JSONMap, modified: JSONMap, schema: SchemaNode | None) -> JSONMap:
    """The strategic merge patch that turns ``original`` into ``modified``.

    ``apply(original, create_two_way(original, modified, s), s) == modified``
    for documents that follow ``s`` (merge keys present and unique). Includes
    ``$setElementOrder`` for every merge list whose content or order changed.
    """
    _check_object(original)
    _check_object(modified)
    return _smpdiff.diff_maps(original, modified, schema, _smpdiff.DiffOptions())


def _check_object(value: Any) -> None:
    if not isinstance(value, dict):
        raise bad_patch(ERR_BAD_JSON_DOC)
