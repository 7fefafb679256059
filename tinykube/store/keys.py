"""Key-range helpers shared by the drivers.

A list or watch "under a prefix" means exactly ``key.startswith(prefix)``; callers
pass prefixes with a trailing slash so ``/registry/pods/a/`` never matches
``/registry/pods/ab/x``. SQL wants the same set as a half-open range
``prefix <= key < prefix_end(prefix)`` so that it can walk an index; SQLite
compares TEXT as UTF-8 bytes, which orders exactly like Python compares code
points, so the upper bound can be computed on ``str``.
"""

from __future__ import annotations

_MAX_CODE_POINT = 0x10FFFF
_SURROGATES = range(0xD800, 0xE000)


def prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string that starts with ``prefix``.

    None when there is no such bound (empty prefix, or only U+10FFFF characters).
    """
    stem = prefix
    while stem:
        last = ord(stem[-1])
        if last < _MAX_CODE_POINT:
            following = last + 1
            if following in _SURROGATES:  # not encodable; nothing sorts inside them
                following = _SURROGATES.stop
            return stem[:-1] + chr(following)
        stem = stem[:-1]
    return None


def in_prefix(key: str, prefix: str) -> bool:
    return key.startswith(prefix)
