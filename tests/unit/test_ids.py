"""Event ids are UUIDv5 exactly: ids written by earlier desks must match the ones made now."""

from __future__ import annotations

import uuid

import pytest

from streams.ids import DESK_NAMESPACE, event_id


@pytest.mark.parametrize(
    "kind,parts",
    [
        ("bar", ("binanceus", "BTC/USDT", 1677715200000)),
        ("fill", ("mm-btc", "c-1", 3)),
        ("alert", ("é-unicode", None, 1.5)),
        ("empty", ()),
    ],
)
def test_event_id_is_uuid5_of_the_joined_parts(kind: str, parts: tuple[object, ...]) -> None:
    name = "|".join([kind, *map(str, parts)])
    assert event_id(kind, *parts) == str(uuid.uuid5(DESK_NAMESPACE, name))


def test_event_id_is_stable_across_releases() -> None:
    """A literal: the bytes of every event id the desk has ever published depend on it."""
    assert event_id("bar", "binanceus", "BTC/USD", 0) == "9c5ac4b5-d34d-598f-bd4a-eccc55cf0769"
    assert uuid.UUID(event_id("x")).version == 5
