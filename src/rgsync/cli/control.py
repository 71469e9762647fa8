"""`rgsync pause`, `rgsync resume`, `rgsync status`."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
