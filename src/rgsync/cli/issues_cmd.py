"""`rgsync issues …`: the log of sync issues (SPEC §8)."""

from __future__ import annotations

import click


@click.group("issues")
def issues_group() -> None:
    """List, show and resolve sync issues."""
