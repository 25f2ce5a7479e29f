"""What every page shares: the sources (opened once per dashboard process), the wall
clock, and sections that fail alone (an error is said in its place, the page goes on)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator

import streamlit as st

from dashboard.source import Sources, open_sources
from streams.config import DeskConfig, load_config
from streams.settings import load_settings


@st.cache_resource(show_spinner="opening the desk's stores...")
def _sources(data_dir: str, config: str) -> Sources:
    return open_sources(load_settings())


def sources() -> Sources:
    """The stores of ``DESK_DATA_DIR`` (the key: a different data dir, other stores)."""
    s = load_settings()
    return _sources(str(s.data_path), str(s.config_file or ""))


@st.cache_resource
def _config(path: str) -> DeskConfig:
    return load_config(load_settings().config_file)


def config() -> DeskConfig:
    return _config(str(load_settings().config_file or ""))


def now_ms() -> int:
    return int(time.time() * 1000)


def refresh_seconds() -> int:
    """Auto-refresh period (``DESK_DASHBOARD_REFRESH_S``; 0: off)."""
    try:
        return max(0, int(os.environ.get("DESK_DASHBOARD_REFRESH_S", "15")))
    except ValueError:
        return 15


def header(src: Sources) -> None:
    st.caption(f"reading {src.mode}: `{src.settings.data_path}`")
    for p in src.problems:
        st.error(p)
    if src.mode == "the data dir (no desk running)":
        st.info(
            "No desk is running: the dashboard holds this data dir's stores. "
            "`desk up` waits until the dashboard stops; start the desk first for a live view."
        )


@contextlib.contextmanager
def section(what: str) -> Iterator[None]:
    """A part of a page: its failure is one line in its place, not a broken page."""
    try:
        yield
    except Exception as exc:
        from streams.redact import error_text

        st.error(f"{what}: {error_text(exc, 300)}")


def money(x: object, places: int = 2) -> str:
    from dashboard.status import dec

    d = dec(x)
    return "—" if d is None else f"{d:,.{places}f}"


def when(ms: object) -> str:
    if ms is None or ms == 0:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(int(ms) / 1000)) + " UTC"
