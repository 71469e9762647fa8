"""`rgsync settings …`: read and change the per-user settings file (SPEC §1)."""

from __future__ import annotations

import click


@click.group("settings")
def settings_group() -> None:
    """Show and change sync settings (General / Linking / Blocklist)."""
