"""Dead letters: what an agent could not decode, validate or process, kept with the reason.

Pure: builds the ``DeadLetter`` event; the Faust side (``streams.app``) sends it. The
reason is redacted (``streams.redact``): an exception's text may carry a secret (a
URL's password, a DSN), and a dead letter lands on a topic, in ClickHouse and in the
worker log. The raw key and value are kept as they came (they are the evidence).
"""

from __future__ import annotations

import hashlib
from typing import Any

from streams.envelope import envelope
from streams.ids import event_id
from streams.redact import one_line as redacted_line

MAX_ERROR_CHARS = 500


def one_line(error: BaseException | str) -> str:
    """The error as one bounded, redacted line (type name kept unless a ValueError)."""
    if isinstance(error, BaseException):
        text = str(error).strip() or type(error).__name__
        if not isinstance(error, ValueError):
            text = f"{type(error).__name__}: {text}"
    else:
        text = error
    return redacted_line(text, MAX_ERROR_CHARS)


def dead_letter_record(
    *,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    raw: bytes | None,
    error: BaseException | str,
    kind: str,
    agent: str,
    ts_ms: int,
    incarnation: str = "",
) -> dict[str, Any]:
    """A ``DeadLetter`` event; ``ts_ms`` is the bad message's own timestamp.

    The id names the message by where it was (topic, partition, offset) *in which life of
    the broker* and by its content: a broker that restarted empty reuses offsets, and the
    same message re-delivered must keep its id."""
    digest = hashlib.sha256(raw or b"").hexdigest()[:16]
    where = (incarnation, topic, partition, offset)
    return {
        **envelope(event_id("deadletter", *where, agent, kind, digest), ts_ms, f"agent.{agent}"),
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "key": key,
        "raw": raw,
        "error_kind": kind,
        "error": one_line(error),
        "agent": agent,
    }
