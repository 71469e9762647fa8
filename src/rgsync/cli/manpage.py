"""The `rgsync(1)` man page, written from the Click command tree.

Every command and option is described by its own `--help` text, so the man page can never list a
command that does not exist or miss one that does. The output is plain man(7) roff, which `man`,
groff and mandoc all read.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import click

from rgsync import __version__


def escape(text: str) -> str:
    """Text as roff prints it: backslashes and hyphens escaped, no line read as a request."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    # Non-ASCII as roff's Unicode escapes, which every formatter reads whatever its input encoding.
    text = "".join(c if ord(c) < 128 else f"\\[u{ord(c):04X}]" for c in text)
    lines = [("\\&" + line) if line.startswith((".", "'")) else line for line in text.splitlines()]
    return "\n".join(lines)


def _paragraphs(help_text: str | None) -> list[str]:
    """The paragraphs of a Click help text (`\\b` keeps a block's line breaks, as in `--help`)."""
    text = inspect.cleandoc(help_text or "").split("\f", 1)[0]
    out = []
    for block in text.split("\n\n"):
        block = block.strip("\n")
        if not block.strip():
            continue
        if block.startswith("\b"):
            out.append(".nf\n" + escape(block[1:].strip("\n")) + "\n.fi")
        else:
            out.append(escape(" ".join(line.strip() for line in block.splitlines())))
    return out


def walk(
    command: click.Command, ctx: click.Context, *, include_hidden: bool = False
) -> Iterator[tuple[click.Command, click.Context]]:
    """Every command below `command` (itself first), each with a context naming its full path."""
    yield command, ctx
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is None or (sub.hidden and not include_hidden):
                continue
            yield from walk(
                sub, click.Context(sub, info_name=name, parent=ctx), include_hidden=include_hidden
            )


def _options(command: click.Command, ctx: click.Context) -> list[str]:
    lines = []
    for param in command.get_params(ctx):
        # Arguments are shown in the usage line; hidden options have no help record.
        record = param.get_help_record(ctx) if isinstance(param, click.Option) else None
        if record is None:
            continue
        names, help_text = record
        lines += [".TP", f"\\fB{escape(names)}\\fR", escape(" ".join(help_text.split())) or "\\&"]
    return lines


def render(root: click.Command, prog: str = "rgsync") -> str:
    """The whole man page for `root` (the `rgsync` group) as roff source."""
    root_ctx = click.Context(root, info_name=prog)
    summary = root.get_short_help_str(limit=80) if root.help else prog
    out = [
        f'.TH {prog.upper()} 1 "" "{prog} {__version__}" "User Commands"',
        ".SH NAME",
        f"{prog} \\- {escape(summary.rstrip('.'))}",
        ".SH SYNOPSIS",
        f"\\fB{prog}\\fR [\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]...",
        ".SH DESCRIPTION",
    ]
    for paragraph in _paragraphs(root.help):
        out += [".PP", paragraph]
    out += [".SH OPTIONS", *_options(root, root_ctx), ".SH COMMANDS"]
    for command, ctx in walk(root, root_ctx):
        if command is root:
            continue
        path = ctx.command_path
        usage = " ".join(command.collect_usage_pieces(ctx))
        out += [".SS " + escape(path), f"\\fB{escape(path)}\\fR {escape(usage)}".rstrip()]
        for paragraph in _paragraphs(command.help) or [escape(command.get_short_help_str())]:
            out += [".PP", paragraph]
        if isinstance(command, click.Group):
            names = [
                n
                for n in command.list_commands(ctx)
                if not getattr(command.get_command(ctx, n), "hidden", True)
            ]
            out += [".PP", "Commands: " + ", ".join(f"\\fB{escape(n)}\\fR" for n in names) + "."]
        out += _options(command, ctx)
    out += [
        ".SH EXIT STATUS",
        "0 the session completed (item issues may exist); 1 a stream or the session failed;",
        "2 usage or settings error; 75 another run holds the lock.",
        ".SH SEE ALSO",
        f"\\fB{prog} completion\\fR for shell completion; the README for settings and examples.",
    ]
    return "\n".join(out) + "\n"
