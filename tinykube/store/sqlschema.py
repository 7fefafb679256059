"""The SQLite schema and statements of ``SqliteStore``, in the manner of kine.

``kine`` is the log: one row per revision, ``id`` being the global revision.
AUTOINCREMENT matters: ``sqlite_sequence`` remembers the highest id ever used,
so the store revision never goes backwards even when compaction deletes the
newest rows (tombstones). The unique index on ``(name, prev_revision)`` is the
compare-and-swap guard kine relies on: two writes from the same base row can
never both be inserted. ``kine_name_id`` serves "newest row of a key" (every
write) and reads at an older revision.

``kine_current`` maps each live key to its newest row, written in the same
transaction as the log row, so current gets and lists walk a primary key
instead of grouping the whole history. ``kine_meta`` holds the compacted
horizon (kine keeps it in a ``compact_rev_key`` row; a table of its own keeps
the log free of rows that are not revisions).
"""

from __future__ import annotations

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS kine (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        created INTEGER NOT NULL,
        deleted INTEGER NOT NULL,
        create_revision INTEGER NOT NULL,
        prev_revision INTEGER NOT NULL,
        value BLOB NOT NULL
    )""",
    "CREATE UNIQUE INDEX IF NOT EXISTS kine_name_prev_revision ON kine (name, prev_revision)",
    "CREATE INDEX IF NOT EXISTS kine_name_id ON kine (name, id)",
    """CREATE TABLE IF NOT EXISTS kine_current (
        name TEXT PRIMARY KEY, id INTEGER NOT NULL
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS kine_meta (
        key TEXT PRIMARY KEY, value INTEGER NOT NULL
    ) WITHOUT ROWID""",
)

# Connection settings. synchronous=FULL in WAL mode fsyncs the WAL on every
# COMMIT, so a write acknowledged after COMMIT survives power loss.
PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",
    "PRAGMA busy_timeout = 10000",
    "PRAGMA cache_size = -65536",
    "PRAGMA mmap_size = 1073741824",
    "PRAGMA journal_size_limit = 67108864",  # truncate a WAL that a long read let grow
)

REVISION = "SELECT seq FROM sqlite_sequence WHERE name = 'kine'"
HORIZON = "SELECT value FROM kine_meta WHERE key = 'compact_rev'"
SET_HORIZON = "INSERT OR REPLACE INTO kine_meta (key, value) VALUES ('compact_rev', ?)"

# -- writer ----------------------------------------------------------------------

LATEST = (
    "SELECT id, deleted, create_revision, value FROM kine WHERE name = ? ORDER BY id DESC LIMIT 1"
)
INSERT = (
    "INSERT INTO kine (id, name, created, deleted, create_revision, prev_revision, value)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)
CURRENT_INSERT = "INSERT INTO kine_current (name, id) VALUES (?, ?)"
CURRENT_UPDATE = "UPDATE kine_current SET id = ? WHERE name = ?"
CURRENT_DELETE = "DELETE FROM kine_current WHERE name = ?"

# A row is superseded when a newer row names it as prev_revision; once that newer
# row is at or below the horizon nobody can read or replay the old one.
COMPACT_SUPERSEDED = (
    "DELETE FROM kine WHERE id IN (SELECT prev_revision FROM kine"
    " WHERE id > ? AND id <= ? AND prev_revision != 0)"
)
COMPACT_TOMBSTONES = "DELETE FROM kine WHERE id > ? AND id <= ? AND deleted = 1"

# -- readers ---------------------------------------------------------------------

GET_CURRENT = (
    "SELECT k.id, k.create_revision, k.value FROM kine_current c"
    " JOIN kine k ON k.id = c.id WHERE c.name = ?"
)
GET_AT = (
    "SELECT id, create_revision, value, deleted FROM kine"
    " WHERE name = ? AND id <= ? ORDER BY id DESC LIMIT 1"
)


def key_range(column: str, lower_inclusive: bool, has_upper: bool) -> str:
    """``column`` between a lower bound and (optionally) an exclusive upper bound."""
    clause = f"{column} {'>=' if lower_inclusive else '>'} ?"
    return clause + (f" AND {column} < ?" if has_upper else "")


def list_current(where: str) -> str:
    return (
        "SELECT c.name, k.value, k.id, k.create_revision FROM kine_current c"
        f" JOIN kine k ON k.id = c.id WHERE {where} ORDER BY c.name LIMIT ?"
    )


def count_current(where: str) -> str:
    return f"SELECT COUNT(*) FROM kine_current c WHERE {where}"


def list_at(log_where: str) -> str:
    """Keys whose newest row at a revision is not a tombstone, in key order.

    Walks ``kine_name_id`` in key order and keeps a row when no newer row of
    the key exists at or below the revision, so ``LIMIT`` stops the scan early
    (a ``GROUP BY name`` would visit the whole range for every page).
    """
    return (
        "SELECT k.name, k.value, k.id, k.create_revision FROM kine k"
        f" WHERE {log_where} AND k.id <= ? AND k.deleted = 0 AND NOT EXISTS"
        " (SELECT 1 FROM kine n WHERE n.name = k.name AND n.id > k.id AND n.id <= ?)"
        " ORDER BY k.name LIMIT ?"
    )


def count_at(current_where: str, log_where: str) -> str:
    """How many keys in range were live at a revision, counted as "live now and
    untouched since" plus "touched since, but live then", so the cost is one
    index count plus the writes made after that revision."""
    return (
        f"SELECT (SELECT COUNT(*) FROM kine_current c WHERE {current_where} AND c.id <= ?)"
        # NOT INDEXED: walk the revisions after the one asked for (rowid range),
        # never the whole name index.
        " + (SELECT COUNT(*) FROM (SELECT DISTINCT k.name AS name FROM kine k NOT INDEXED"
        f" WHERE k.id > ? AND {log_where}) touched"
        " WHERE (SELECT deleted FROM kine WHERE name = touched.name AND id <= ?"
        " ORDER BY id DESC LIMIT 1) = 0)"
    )


def replay(where: str) -> str:
    """Log rows in a revision window, each with the row it superseded (for Event.prev).

    NOT INDEXED keeps SQLite on the rowid range (a revision window) rather
    than the name index, which would sort a whole resource's history.
    """
    return (
        "SELECT k.id, k.name, k.created, k.deleted, k.create_revision, k.prev_revision,"
        " k.value, p.id, p.create_revision, p.value"
        " FROM kine k NOT INDEXED LEFT JOIN kine p ON p.id = k.prev_revision"
        f" WHERE k.id > ? AND k.id <= ? AND {where}"
        " ORDER BY k.id LIMIT ?"
    )
