"""The command line's numeric and path options with hostile values: one line and exit 2 (or a
normal exit), never a traceback or a hang, and nothing written outside the profile (SPEC §8, §7.11)."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import click
from hypothesis import given
from hypothesis import strategies as st

from rgsync.cli import main
from tests.fuzz.fuzz_support import fuzz, nasty_text, profile_world, tried

numbers = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    nasty_text,
)


def _rgsync(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with redirect_stdout(out), redirect_stderr(err):
        try:
            main(list(argv))
        except SystemExit as exited:
            code = exited.code if isinstance(exited.code, int) else 1
    return code, err.getvalue()


def _assert_clean(code: int, err: str) -> None:
    assert "Traceback" not in err and "unexpected error" not in err, err
    assert code in (0, 1, 2), (code, err)
    if err.startswith("rgsync: "):
        assert err.strip().count("\n") == 0, err  # the project's own errors are one line


def _refuse_prompts(*_args: object, **_kwargs: object) -> str:
    raise click.exceptions.Abort()


@fuzz(40)
@given(
    command=st.sampled_from(
        [
            ("issues", "list", "--since"),
            ("connect", "salesforce", "--port"),
            ("connect", "salesforce", "--timeout"),
            ("connect", "salesforce", "--api-version"),
            ("settings", "set", "history-days"),
            ("settings", "set", "calendar-past-days"),
            ("settings", "set", "max-deletes"),
            ("settings", "set", "min-api-remaining"),
            ("issues", "show"),
            ("issues", "resolve"),
        ]
    ),
    value=numbers,
)
def test_numeric_options(command: tuple[str, ...], value: str) -> None:
    original, click.prompt = click.prompt, _refuse_prompts  # a prompt would wait for a person
    try:
        with profile_world() as profile:
            tried("cli numbers")
            config = str(profile / "settings.toml")
            _assert_clean(*_rgsync("--config", config, *command, value))
    finally:
        click.prompt = original


names = st.one_of(
    nasty_text.filter(lambda n: "\x00" not in n),
    st.sampled_from(["..", ".", "../..", "a/../../..", "fifo", "folder", "loop", "file/inside", "/", ""]),
)


@fuzz(40)
@given(
    option=st.sampled_from(["--config", "--org-policy", "--profile"]),
    name=names,
    command=st.sampled_from(
        [
            ("status",),
            ("settings", "list"),
            ("settings", "set", "history-days", "3"),
            ("issues", "list"),
            ("state", "check"),
            ("run",),
        ]
    ),
)
def test_path_options(option: str, name: str, command: tuple[str, ...]) -> None:
    import os

    with profile_world() as profile:
        tried("cli paths")
        os.mkfifo(profile / "fifo")
        (profile / "folder").mkdir()
        (profile / "file").write_text("", encoding="utf-8")
        (profile / "loop").symlink_to(profile / "loop2")
        (profile / "loop2").symlink_to(profile / "loop")
        value = name if option == "--profile" else str(profile / name) if name else ""
        config = str(profile / "settings.toml") if option != "--config" else value
        argv = ["--config", config] if option != "--config" else []
        if option != "--config":
            argv += [option, value]
        else:
            argv = [option, value]
        if option == "--config" and (".." in Path(name).parts or name.startswith("/")):
            return  # a user's own choice of file outside the profile; not what this test checks
        _assert_clean(*_rgsync(*argv, *command))
