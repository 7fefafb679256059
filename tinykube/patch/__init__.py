"""Patches: JSON patch, JSON merge patch, strategic merge patch, kubectl's three-way merge.

Pure functions over decoded JSON, shared by the API server (PATCH requests)
and tinykube's kubectl (client-side apply). Nothing here does I/O.

    content type                              server side                 client side
    application/json-patch+json               apply_json_patch            -
    application/merge-patch+json              apply_merge_patch           create_merge_patch,
                                                                          create_three_way_merge_patch
    application/strategic-merge-patch+json    apply_strategic_patch       create_strategic_patch,
                                                                          create_three_way_patch

Errors are the API errors of ``tinykube.api.errors`` with kube-apiserver's
codes and messages, so the server can return them as they are.
"""

from tinykube.patch.jsonpatch import apply as apply_json_patch
from tinykube.patch.mergepatch import apply as apply_merge_patch
from tinykube.patch.mergepatch import create as create_merge_patch
from tinykube.patch.mergepatch import create_three_way as create_three_way_merge_patch
from tinykube.patch.strategic import apply as apply_strategic_patch
from tinykube.patch.strategic import create_two_way as create_strategic_patch
from tinykube.patch.threeway import ApplyConflict
from tinykube.patch.threeway import create_three_way as create_three_way_patch

__all__ = [
    "ApplyConflict",
    "apply_json_patch",
    "apply_merge_patch",
    "apply_strategic_patch",
    "create_merge_patch",
    "create_strategic_patch",
    "create_three_way_merge_patch",
    "create_three_way_patch",
]
