"""Patches: JSON patch, JSON merge patch, strategic merge patch, kubectl's three-way merge.

Pure functions over decoded JSON, shared by the API server (PATCH requests)
and tinykube's kubectl (client-side apply). Nothing here does I/O.
"""

from tinykube.patch.jsonpatch import apply as apply_json_patch
from tinykube.patch.mergepatch import apply as apply_merge_patch
from tinykube.patch.mergepatch import create as create_merge_patch
from tinykube.patch.mergepatch import create_three_way as create_three_way_merge_patch

__all__ = [
    "apply_json_patch",
    "apply_merge_patch",
    "create_merge_patch",
    "create_three_way_merge_patch",
]
