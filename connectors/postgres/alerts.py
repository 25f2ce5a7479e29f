"""Every alert delivery attempt and its outcome, in PostgreSQL (``alert_deliveries``)."""

from __future__ import annotations

from connectors.postgres.conn import Reconnecting

_RECORD = """
INSERT INTO alert_deliveries
    (alert_id, dedup_key, sink, attempt, outcome, status_code, error, artifact)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (alert_id, sink, attempt) DO NOTHING
"""


class DeliveryLog(Reconnecting):
    """Synchronous (run it in a thread from an agent); one connection, reopened on loss."""

    def __init__(self, dsn: str) -> None:
        super().__init__(dsn, autocommit=True)

    def attempts(self, alert_id: str, sink: str) -> tuple[int, bool]:
        """(attempts recorded, whether one of them delivered): a re-delivered alert resumes
        where it was instead of sending twice."""
        row = self._call(
            lambda c: c.execute(
                "SELECT count(*), bool_or(outcome IN ('sent', 'dry_run', 'deduplicated',"
                " 'throttled')) FROM alert_deliveries WHERE alert_id = %s AND sink = %s",
                (alert_id, sink),
            ).fetchone()
        )
        assert row is not None
        return int(row[0]), bool(row[1])

    def record(
        self,
        alert_id: str,
        dedup_key: str,
        sink: str,
        attempt: int,
        outcome: str,
        status_code: int | None = None,
        error: str | None = None,
        artifact: str | None = None,
    ) -> None:
        self._call(
            lambda c: c.execute(
                _RECORD,
                (alert_id, dedup_key, sink, attempt, outcome, status_code, error, artifact),
            )
        )
