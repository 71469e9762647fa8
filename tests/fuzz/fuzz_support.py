"""What the hostile-input suite shares: its hypothesis settings, the count of inputs tried, the
strategies for hostile values, and the guard that nothing outside a temporary profile changes.

The suite runs in CI with few examples per test (deterministic, well under a minute in all);
`RGSYNC_FUZZ_EXAMPLES=N` runs N examples per test with fresh random inputs for a longer hunt.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from rgsync.errors import RgsyncError

HUNT = int(os.environ.get("RGSYNC_FUZZ_EXAMPLES", "0") or 0)
TRIED: Counter[str] = Counter()
"""Inputs tried per fuzz target in this process (reported at the end of the run)."""

USER_ERRORS: tuple[type[BaseException], ...] = (RgsyncError,)
"""The only exceptions allowed to escape: the project's own, each printed as one line."""


def fuzz(examples: int) -> settings:
    """Hypothesis settings for one fuzz test: `examples` in CI (same inputs every run), more when hunting."""
    return settings(
        max_examples=HUNT or examples,
        deadline=None,
        database=None,  # no .hypothesis folder in the checkout
        derandomize=not HUNT,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )


def tried(target: str) -> None:
    """Count one input tried against `target`."""
    TRIED[target] += 1


# --- hostile values ----------------------------------------------------------------------------

# Characters that break naive code: controls, NUL, bidi overrides, zero-width, BOM, line and
# paragraph separators, combining marks, emoji, quotes, TOML and shell punctuation.
NASTY_CHARS = (
    "\x00\x01\x07\x08\x0b\x0c\x1b\x7f\t\r\n \u0085\u00a0\u200b\u200c\u200d\u200e\u200f\u202a\u202e"
    "\u2028\u2029\u2066\u2069\ufeff\ufffd\ufffe\u0301👋🏽🇩🇪中文Ωé\"'\\`$#[]{}=,.;:@/%*?<>|&!~-_+"
)
text_chars = st.characters(blacklist_categories=("Cs",))  # TOML and UTF-8 files cannot hold lone surrogates
nasty_text = st.one_of(
    st.text(alphabet=st.sampled_from(NASTY_CHARS), max_size=40),
    st.text(alphabet=text_chars, max_size=60),
    st.sampled_from(
        [
            "",
            " ",
            "-1",
            "-0",
            "+5",
            "1e9",
            "0x10",
            "١٢",
            "99999999999999999999999",
            "nan",
            "inf",
            "https://[::1",
            "https://[::1]:99999/",
            "http://",
            "https://a b.com",
            "file:///etc/passwd",
            "../../../etc/passwd",
            "/dev/null",
            "~",
            "a@b",
            "*@evil.com",
            '"q u"@x.com',
            "@",
            "x" * 5000,
            "https://" + "h" * 5000 + ".com",
            "=?utf-8?B?!!!notbase64?=",
            "on",
            "OFF",
            "59.0",
            "Europe/Berlin",
            "../../x",
            "\x00",
        ]
    ),
)
toml_scalars = st.one_of(
    nasty_text,
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.datetimes(),
    st.dates(),
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(alphabet=text_chars, max_size=12), inner, max_size=3),
    ),
    max_leaves=8,
)


# --- the filesystem guard ---------------------------------------------------------------------


def _snapshot(root: Path, skip: Path) -> dict[str, tuple[int, int, int]]:
    found: dict[str, tuple[int, int, int]] = {}
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        if here == skip or skip in here.parents:
            dirs[:] = []
            continue
        for name in [*dirs, *files]:
            path = here / name
            if path == skip:
                continue
            info = os.lstat(path)
            found[str(path.relative_to(root))] = (stat.S_IFMT(info.st_mode), info.st_size, info.st_mtime_ns)
    return found


@contextlib.contextmanager
def profile_world() -> Iterator[Path]:
    """A temporary profile folder, deep inside a temporary arena holding files of its own.

    Home, config and state folders all point inside the profile for the duration. On exit the
    arena (everything around the profile) must be exactly as it was: an input that makes rgsync
    write outside its profile — a `../` in a name, a followed link — fails the test.
    """
    arena = Path(tempfile.mkdtemp(prefix="rgsync-fuzz-"))
    try:
        profile = arena / "a" / "b" / "c" / "profile"
        profile.mkdir(parents=True)
        for depth, folder in enumerate((arena, arena / "a", arena / "a" / "b", arena / "a" / "b" / "c")):
            (folder / f"neighbour-{depth}.toml").write_text("# not rgsync's\n", encoding="utf-8")
        names = ("HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME")
        saved = {name: os.environ.get(name) for name in names}
        for name in names:
            os.environ[name] = str(profile / name.lower())
        os.environ["RGSYNC_KEYRING"] = "file"
        before = _snapshot(arena, profile)
        try:
            yield profile
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        after = _snapshot(arena, profile)
        assert after == before, f"files outside the profile changed: {sorted(set(after) ^ set(before))}"
    finally:
        shutil.rmtree(arena, ignore_errors=True)
