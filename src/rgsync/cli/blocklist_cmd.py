"""`rgsync blocklist …`: the user's blocklist of addresses and domains (SPEC §3.2)."""

from __future__ import annotations

import click


@click.group("blocklist")
def blocklist_group() -> None:
    """Addresses and domains that are never saved, linked or auto-resolved."""
