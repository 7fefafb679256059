"""The public surface of tinykube.patch: what the API server and kubectl import."""

from __future__ import annotations

import tinykube.patch

EXPECTED = {
    "ApplyConflict",
    "apply_json_patch",
    "apply_merge_patch",
    "apply_strategic_patch",
    "create_merge_patch",
    "create_strategic_patch",
    "create_three_way_merge_patch",
    "create_three_way_patch",
}


def test_public_functions_are_exported() -> None:
    assert set(tinykube.patch.__all__) >= EXPECTED
    for name in tinykube.patch.__all__:
        assert getattr(tinykube.patch, name) is not None


def test_private_modules_are_not_exported() -> None:
    assert not [name for name in tinykube.patch.__all__ if name.startswith("_")]
