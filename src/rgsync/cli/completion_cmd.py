"""`rgsync completion SHELL` and `rgsync manpage`: what a shell and `man` need to know about rgsync.

Completion scripts come from Click itself (they call back into `rgsync` with `_RGSYNC_COMPLETE`
set, so they always complete the commands of the installed version); the man page comes from
`rgsync.cli.manpage`, which walks the same command tree.
"""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

from rgsync.cli.manpage import render

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_RGSYNC_COMPLETE"


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def completion_command(ctx: click.Context, shell: str) -> None:
    """Print the shell completion script for SHELL (bash, zsh or fish).

    \b
    Install it once; it completes commands, options and choices:
      bash:  rgsync completion bash > ~/.local/share/bash-completion/completions/rgsync
      zsh:   rgsync completion zsh > ~/.zfunc/_rgsync_complete.zsh
             and add `source ~/.zfunc/_rgsync_complete.zsh` to ~/.zshrc
      fish:  rgsync completion fish > ~/.config/fish/completions/rgsync.fish
    Open a new shell afterwards.
    """
    root = ctx.find_root()
    completion = get_completion_class(shell)
    assert completion is not None  # the three shells Click ships
    script = completion(root.command, {}, root.info_name or "rgsync", COMPLETE_VAR).source()
    click.echo(script.rstrip("\n"))


@click.command("manpage")
@click.pass_context
def manpage_command(ctx: click.Context) -> None:
    """Print rgsync's man page (roff), written from every command's help.

    \b
    Install it where `man` looks:
      mkdir -p ~/.local/share/man/man1
      rgsync manpage > ~/.local/share/man/man1/rgsync.1
      man rgsync
    """
    root = ctx.find_root()
    click.echo(render(root.command, root.info_name or "rgsync"), nl=False)
