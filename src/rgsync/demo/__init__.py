"""The room above the session where the emulators meet the product: `rgsync demo`,
`rgsync sandbox serve` and the sandbox profile they write.

The emulators (`rgsync.sandbox`) know nothing of rgsync but its model; this package starts them,
writes a settings file, tokens and endpoints.json that point rgsync at them (`sandbox`), and tells
the demo's story: a first session through the same code path as `rgsync run` (real adapters,
real HTTP), changes on both sides through the services' own APIs, a second session that carries
only the changes (`story`, `edits`, `snapshots`, `render`). Built-in scenarios and reading a
scenario for a command are in `scenarios`.

Everything that differs between mailbox kinds is one row of the table in `kinds`, and one module
per kind (`gmail`, `exchange`, `microsoft365`) holding that kind's side: how its emulator starts,
the profile that points the adapter at it, and how the demo reads and changes the mailbox. Only
the CLI imports this package.
"""
