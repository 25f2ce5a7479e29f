"""Tickets and gates: the latest daily tickets with lines and confirmed fills, the latest
gate runs with each gate's status and evidence."""

from __future__ import annotations

import json

import streamlit as st

from dashboard import ui
from dashboard.source import pg_rows

st.title("Tickets and gates")
src = ui.sources()
ui.header(src)
if src.dsn is None:
    st.warning("No PostgreSQL: tickets and gate runs live there.")
    st.stop()

st.subheader("Daily tickets")
with ui.section("tickets"):
    from connectors.postgres.daily import confirmed, last_tickets

    tickets = last_tickets(src.dsn, 20)
    if not tickets:
        st.info("No ticket yet: `desk daily ticket --as-of DAY --data FILES` makes one.")
    for t in tickets:
        body = pg_rows(src.dsn, "SELECT body FROM tickets WHERE ticket_id = %s", (t["ticket_id"],))[
            0
        ]["body"]
        colour = "green" if t["decision"] == "TRADE" else "orange"
        with st.expander(
            f"{t['as_of']} · {t['ticket_id']} · :{colour}[{t['decision']}] · "
            f"{t['lines']} line(s) · {t['fills']} fill(s)"
        ):
            for r in body.get("reasons", []):
                st.markdown(f"- {r}")
            lines = (body.get("plan") or {}).get("lines", [])
            if lines:
                st.dataframe(lines, hide_index=True, width="stretch")
            fills, _files = confirmed(src.dsn, t["ticket_id"])
            if fills:
                st.markdown("**Confirmed fills**")
                st.dataframe(fills, hide_index=True, width="stretch")

st.subheader("Gate runs")
with ui.section("gates"):
    runs = pg_rows(
        src.dsn,
        "SELECT run_id, result, validation_level, reasons, finished_at FROM gate_runs "
        "WHERE gate = 'promotion' ORDER BY finished_at DESC LIMIT 10",
    )
    if not runs:
        st.info("No gate run yet: `desk gates run` judges the promotion gates.")
    for i, r in enumerate(runs):
        colour = "green" if r["result"] == "PASS" else "red"
        with st.expander(
            f"{r['finished_at']:%Y-%m-%d %H:%M} · {r['run_id']} · "
            f":{colour}[{r['result']}] · level {r['validation_level']}",
            expanded=i == 0,
        ):
            gates = pg_rows(
                src.dsn,
                "SELECT gate, result, reasons, evidence FROM gate_runs "
                "WHERE promotion_run = %s AND gate != 'promotion' ORDER BY gate",
                (r["run_id"],),
            )
            st.dataframe(
                [
                    {
                        "gate": g["gate"],
                        "status": g["result"],
                        "reasons": "; ".join(g["reasons"]) if g["reasons"] else "",
                        "evidence": json.dumps(g["evidence"])[:400],
                    }
                    for g in gates
                ],
                hide_index=True,
                width="stretch",
            )
