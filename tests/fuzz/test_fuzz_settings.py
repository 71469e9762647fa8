"""Hostile settings and policy files, and `settings set` with hostile values for every key: only
the project's own one-line errors may escape, a refused change leaves the file as it was, and
nothing outside the profile is touched (SPEC §1, §7.11, §8)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import tomlkit
from hypothesis import given
from hypothesis import strategies as st

from rgsync.settings import load_settings, set_value, settings_problems, unset_value
from rgsync.settings.policy import policy_problems
from rgsync.settings.schema import ALL_KEYS, table_paths
from rgsync.settings.template import render_template
from tests.fuzz.fuzz_support import USER_ERRORS, fuzz, nasty_text, profile_world, toml_values, tried

KNOWN_PATHS = [key.path for key in ALL_KEYS] + [path for path in table_paths()]


@st.composite
def settings_documents(draw: st.DrawFn) -> dict[str, Any]:
    """Nested tables mixing real key paths (with hostile values) and unknown ones."""
    doc: dict[str, Any] = {}
    for _ in range(draw(st.integers(0, 6))):
        path = draw(
            st.one_of(
                st.sampled_from(KNOWN_PATHS),
                st.lists(st.text(max_size=10), min_size=1, max_size=3).map(tuple),
            )
        )
        node = doc
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[path[-1]] = draw(toml_values)
    return doc


def _toml(doc: dict[str, Any]) -> str | None:
    try:
        return tomlkit.dumps(doc)
    except Exception:  # a value TOML cannot express: not an input a file can hold
        return None


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


@fuzz(40)
@given(doc=settings_documents())
def test_hostile_settings_files_give_user_errors_only(doc: dict[str, Any]) -> None:
    text = _toml(doc)
    if text is None:
        return
    with profile_world() as profile:
        tried("settings file")
        path = profile / "settings.toml"
        _write(path, text)
        try:
            settings = load_settings(path)
        except USER_ERRORS as exc:
            assert "\n" not in exc.message.strip()
        else:
            for key in ALL_KEYS:
                settings.value(key.name)
        settings_problems(path)


@fuzz(40)
@given(raw=st.one_of(st.binary(max_size=400), nasty_text.map(lambda t: t.encode("utf-8", "replace"))))
def test_arbitrary_bytes_as_settings_file(raw: bytes) -> None:
    with profile_world() as profile:
        tried("settings bytes")
        path = profile / "settings.toml"
        path.write_bytes(raw)
        with contextlib.suppress(USER_ERRORS):
            load_settings(path)


@fuzz(25)
@given(
    defaults=settings_documents(),
    forced=settings_documents(),
    blocklist=st.dictionaries(st.sampled_from(["addresses", "domains", "other"]), toml_values, max_size=3),
    extra=st.dictionaries(st.text(max_size=8), toml_values, max_size=2),
)
def test_hostile_policy_files_give_user_errors_only(
    defaults: dict[str, Any], forced: dict[str, Any], blocklist: dict[str, Any], extra: dict[str, Any]
) -> None:
    text = _toml({**extra, "defaults": defaults, "forced": forced, "blocklist": blocklist})
    if text is None:
        return
    with profile_world() as profile:
        tried("policy file")
        policy = profile / "policy.toml"
        _write(policy, text)
        policy_problems(policy)
        with contextlib.suppress(USER_ERRORS):
            load_settings(profile / "settings.toml", policy)


@fuzz(60)
@given(key=st.sampled_from(ALL_KEYS), raw=nasty_text, start_from_template=st.booleans())
def test_settings_set_every_key_with_hostile_values(key: Any, raw: str, start_from_template: bool) -> None:
    with profile_world() as profile:
        tried("settings set")
        path = profile / "settings.toml"
        if start_from_template:
            _write(path, render_template({}))
        before = path.read_bytes() if path.exists() else None
        try:
            written = set_value(path, key.name, raw)
        except USER_ERRORS as exc:
            assert "\n" not in exc.message.strip()
            assert (path.read_bytes() if path.exists() else None) == before  # never half-written
            return
        # What was accepted reads back as written, and the file stays valid.
        assert load_settings(path).value(key.name) == written
        unset_value(path, key.name)
        load_settings(path)
