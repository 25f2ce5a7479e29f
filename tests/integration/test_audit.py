"""The audit trail in PostgreSQL: appended once per event, verified, tampering named."""

from __future__ import annotations

import json

import psycopg
import pytest

from agents.audit.chain import verify
from agents.audit.entries import item_for
from connectors.postgres.audit import AuditLog
from tests.conftest import run_desk

pytestmark = pytest.mark.integration


def command(i: int, kind: str) -> dict:
    return {
        "event_id": f"rc-{i}", "ts_event": 1_678_406_400_000 + i, "ts_ingest": 0,
        "source": "cli.desk", "correlation_id": None, "command": kind, "scope": "desk",
        "issued_by": "ops", "reason": f"drill {i}", "flatten": False,
        "confirmed": kind == "RESUME", "limits": {}, "evidence": {"daily_loss": "0.031"},
    }  # fmt: skip


def test_the_trail_is_appended_once_verified_and_tampering_is_named(pg_dsn: str) -> None:
    log = AuditLog(pg_dsn)
    items = [item_for("risk.commands", command(i, k))
             for i, k in enumerate(("KILL", "RESUME", "HALT", "RESUME"), 1)]  # fmt: skip
    assert [e.seq for e in log.append(items[:3])] == [1, 2, 3]
    assert [e.seq for e in log.append(items)] == [4]  # a re-delivery adds only the new one
    assert verify(log.entries()) == (4, None)
    env = {"DESK_POSTGRES_DSN": pg_dsn}

    ok = run_desk("audit", "verify", "--json", env=env)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == {"ok": True, "entries_checked": 4, "first_break": None}
    shown = json.loads(run_desk("audit", "show", "--json", "--kind", "risk_command.RESUME",
                                env=env).stdout)["entries"]  # fmt: skip
    assert [(e["seq"], e["actor"], e["body"]["reason"]) for e in shown] == [
        (2, "ops", "drill 2"), (4, "ops", "drill 4")]  # fmt: skip

    with psycopg.connect(pg_dsn, autocommit=True) as conn:  # the dashboard's role: read only
        conn.execute("SET ROLE desk_readonly")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE audit_log SET actor = 'x' WHERE seq = 2")
    with psycopg.connect(pg_dsn, autocommit=True) as conn:  # someone with the owner's rights
        conn.execute("""UPDATE audit_log SET body = jsonb_set(body, '{reason}', '"routine"')
                        WHERE seq = 2""")  # fmt: skip
    bad = run_desk("audit", "verify", "--json", env=env)
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["first_break"] == {
        "seq": 2, "reason": "content altered: its hash does not match"}  # fmt: skip
    text = run_desk("audit", "verify", env=env)
    assert text.returncode == 1 and "broken at entry 2" in text.stdout

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM audit_log WHERE seq IN (1, 2)")
    gone = json.loads(run_desk("audit", "verify", "--json", env=env).stdout)["first_break"]
    assert gone == {"seq": 3, "reason": "entries 1..2 removed (sequence jumps to 3)"}
