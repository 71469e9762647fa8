"""The state database's schema as numbered migrations.

`MIGRATIONS[n - 1]` brings a database from schema version n - 1 to n. A migration is applied once,
inside one transaction together with the version bump, so a crash half-way through leaves the
database at the previous version. Never edit a migration that has been released: add a new one.

The scripts are SQLite's. PostgreSQL runs the same scripts, except where its dialect must differ:
`POSTGRESQL_MIGRATIONS[n]` replaces migration n there (same tables, columns and constraints).
Times stay ISO-8601 text and JSON stays text in both, so every row reads back the same way.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema.
    """
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL                      -- JSON
    );

    -- A pair of items kept in step. `fields` is the common base of the three-way comparison
    -- (SPEC §4.4), as JSON. An item is linked at most once per stream on each side.
    CREATE TABLE links (
        stream        TEXT NOT NULL,
        mailbox_id    TEXT NOT NULL,
        salesforce_id TEXT NOT NULL,
        origin        TEXT NOT NULL,
        fields        TEXT NOT NULL DEFAULT '{}',
        natural_key   TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (stream, mailbox_id),
        UNIQUE (stream, salesforce_id)
    );
    CREATE INDEX links_natural_key ON links (stream, natural_key);

    CREATE TABLE cursors (
        stream     TEXT NOT NULL,
        side       TEXT NOT NULL,
        token      TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (stream, side)
    );

    -- Intents recorded before each create (SPEC §7.1); a row left here after a crash is what
    -- recovery looks for by natural key.
    CREATE TABLE journal (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        stream      TEXT NOT NULL,
        side        TEXT NOT NULL,
        kind        TEXT NOT NULL,
        natural_key TEXT NOT NULL,
        payload     TEXT NOT NULL DEFAULT '{}',
        created_at  TEXT NOT NULL
    );
    CREATE INDEX journal_stream ON journal (stream);

    -- Threads whose later emails are saved too (SPEC §3.6).
    CREATE TABLE threads (
        thread_id TEXT PRIMARY KEY,
        who_ids   TEXT NOT NULL DEFAULT '[]',
        what_id   TEXT
    );

    CREATE TABLE sessions (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at TEXT NOT NULL,
        ended_at   TEXT,
        status     TEXT NOT NULL DEFAULT 'running',
        dry_run    INTEGER NOT NULL DEFAULT 0,
        summary    TEXT NOT NULL DEFAULT '{}'
    );

    -- Issues (SPEC §8): one row per problem and item, however many sessions meet it.
    CREATE TABLE issues (
        id                 INTEGER PRIMARY KEY AUTOINCREMENT,
        dedupe_key         TEXT NOT NULL UNIQUE,
        code               TEXT NOT NULL,
        severity           TEXT NOT NULL,
        source             TEXT NOT NULL,
        stream             TEXT,
        item_kind          TEXT NOT NULL DEFAULT '',
        item_subject       TEXT NOT NULL DEFAULT '',
        item_mailbox_id    TEXT NOT NULL DEFAULT '',
        item_salesforce_id TEXT NOT NULL DEFAULT '',
        message            TEXT NOT NULL,
        advice             TEXT NOT NULL DEFAULT '',
        first_seen         TEXT NOT NULL,
        last_seen          TEXT NOT NULL,
        count              INTEGER NOT NULL DEFAULT 1,
        resolved_at        TEXT
    );
    CREATE INDEX issues_open ON issues (resolved_at, last_seen);
    CREATE INDEX issues_mailbox_item ON issues (item_mailbox_id);
    CREATE INDEX issues_salesforce_item ON issues (item_salesforce_id);
    """,
    # Adds `unlinked_items` (mailbox items that must not be saved again: their Salesforce record was
    # deleted there, or left the user's scope, and the mailbox item stays unlinked, SPEC §4.5) and
    # `issues.retry_requested_at` (`rgsync issues retry`: the items are queued for the next
    # session; cleared once a session has taken them up).
    """
    CREATE TABLE unlinked_items (
        stream        TEXT NOT NULL,
        mailbox_id    TEXT NOT NULL,
        salesforce_id TEXT NOT NULL DEFAULT '',
        reason        TEXT NOT NULL,
        unlinked_at   TEXT NOT NULL,
        PRIMARY KEY (stream, mailbox_id)
    );
    ALTER TABLE issues ADD COLUMN retry_requested_at TEXT;
    """,
    # Adds `held_back` (SPEC §7.7): mailbox items Salesforce refused for good (a validation rule, a
    # required field, a duplicate rule), not sent again before `next_attempt` unless the item's
    # `fingerprint` changes; `attempts` counts the refusals in a row (the back-off schedule).
    """
    CREATE TABLE held_back (
        stream       TEXT NOT NULL,
        mailbox_id   TEXT NOT NULL,
        code         TEXT NOT NULL DEFAULT '',
        attempts     INTEGER NOT NULL,
        next_attempt TEXT NOT NULL,
        fingerprint  TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (stream, mailbox_id)
    );
    CREATE INDEX held_back_due ON held_back (stream, next_attempt);
    """,
)

# PostgreSQL's spelling where SQLite's does not run there: an auto-incrementing key is an identity
# column. Everything else of migration 1 is the same text.
POSTGRESQL_MIGRATIONS: dict[int, str] = {
    1: MIGRATIONS[0].replace(
        "INTEGER PRIMARY KEY AUTOINCREMENT", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
    ),
}

SCHEMA_VERSION = len(MIGRATIONS)
"""The schema version this rgsync writes."""
