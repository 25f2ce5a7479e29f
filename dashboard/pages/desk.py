"""Desk: is it safe? Books, positions, limits, curves, checks with their age, alerts, fills."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, data, source, status, ui


def _states(src: ui.Sources) -> tuple[dict[str, str], set[str], dict, str | None]:
    """Trading state per bot and reserved exposure, as risk holds them: its view in the
    desk core's checkpoint; else the states risk recorded in PostgreSQL; else its latest
    decision. Returns (states, killed, reserved by (bot, venue:symbol), checkpoint)."""
    states: dict[str, str] = {}
    killed: set[str] = set()
    reserved: dict[tuple[str, str], dict[str, str]] = {}
    name = None
    if src.store is not None:
        for r in data.latest_states(src.store).itertuples():
            states[str(r.bot_id)] = str(r.trading_state)
    if src.dsn is not None:
        from connectors.postgres.risk_state import trading_states

        for bot, s in trading_states(src.dsn).items():
            states[bot] = s["state"]
            killed |= {bot} if s["killed"] else set()
        name, view = source.risk_view(src.dsn, src.settings.topic_prefix)
        if view is not None:
            for bot, s in view.get("trading_states", {}).items():
                states[bot] = s.get("state", states.get(bot, "ACTIVE"))
                killed |= {bot} if s.get("killed") else set()
            reserved = {(b, k): leg for b, legs in view.get("reserved", {}).items()
                        for k, leg in legs.items()}  # fmt: skip
    return states, killed, reserved, name


def body() -> None:
    src = ui.sources()
    ui.header(src)
    if src.store is None:
        st.warning(
            "No analytics store: nothing to show. Check DESK_CLICKHOUSE_URL or the data dir."
        )
        return
    store = src.store
    books = data.books(store)
    if books.empty:
        st.info(
            "No trading yet in this store. Run `desk demo` (a full replay, offline) or "
            "`desk up` with a feed (`desk feed replay ...`), then come back."
        )
        return
    now = ui.now_ms()
    states, killed, reserved, checkpoint = _states(src)
    legs = data.positions(books)
    uses = status.desk_uses(ui.config(), books.to_dict("records"), legs.to_dict("records"))
    checks = data.statuses(store)
    recent = data.alerts(store, 200)
    hour_ago = now - 3_600_000
    critical = int(((recent["severity"] == "CRITICAL") & (recent["ts_ingest"] >= hour_ago)).sum())
    verdict = status.safety(states, killed, checks.to_dict("records"), uses, critical, now, True)
    colour = {"SAFE": "green", "ATTENTION": "orange", "STOPPED": "red"}.get(verdict.level, "gray")
    st.markdown(f"## :{colour}[{verdict.level}]")
    for r in verdict.reasons:
        st.markdown(f"- {r}")

    total = {k: sum(status.dec(v) or 0 for v in books[k]) for k in ("equity", "daily_pnl", "fees")}
    n = data.counts(store)
    c = st.columns(5)
    c[0].metric("Equity (all bots)", ui.money(total["equity"]))
    c[1].metric("Daily PnL", ui.money(total["daily_pnl"]))
    c[2].metric("Worst drawdown", f"{max(float(x) for x in books['drawdown']) * 100:.2f}%")
    c[3].metric("Fills", f"{n.get('fills', 0):,}")
    c[4].metric("Alerts", f"{n.get('alerts', 0):,}")
    st.caption(f"books as of {ui.when(books['last_ts'].max())} (event time)")

    st.subheader("Bots")
    table = books[
        [
            "bot_id",
            "quote_currency",
            "equity",
            "cash",
            "daily_pnl",
            "realized_pnl",
            "unrealized_pnl",
            "fees",
            "drawdown",
            "trading_day",
        ]
    ].copy()
    table.insert(1, "state", [states.get(b, "ACTIVE") for b in table["bot_id"]])
    table.insert(2, "kill switch", ["KILLED" if b in killed else "off" for b in table["bot_id"]])
    for k in ("equity", "cash", "daily_pnl", "realized_pnl", "unrealized_pnl", "fees"):
        table[k] = [ui.money(v) for v in table[k]]
    table["drawdown"] = [f"{float(v) * 100:.2f}%" for v in table["drawdown"]]
    st.dataframe(table, hide_index=True, width="stretch")

    st.subheader("Positions: filled, reserved and the worst case")
    with ui.section("positions"):
        table = status.exposure(legs.to_dict("records"), reserved)
        if not table:
            st.caption("no open position or order")
        else:
            st.dataframe(
                [{k: v if k in ("bot_id", "symbol") else
                  ui.money(v, 2 if k.endswith(("value", "pnl")) else 6)
                  for k, v in row.items()} for row in table],
                hide_index=True, width="stretch",
            )  # fmt: skip
        st.caption(
            f"Reserved: risk's own view in the desk core's checkpoint `{checkpoint}`"
            if checkpoint
            else "Reserved exposure: no desk-core checkpoint in PostgreSQL yet (filled only)."
        )

    left, right = st.columns([3, 2])
    with left, ui.section("equity curves"):
        lo, hi = data.window(store)
        span = {
            "1 day": 86_400_000,
            "7 days": 7 * 86_400_000,
            "30 days": 30 * 86_400_000,
            "all": None,
        }
        pick = st.radio("window", list(span), index=3, horizontal=True, key="desk_window")
        since = lo if span[pick] is None else max(lo, hi - span[pick])
        curves = data.equity_curves(store, since, hi)
        st.plotly_chart(charts.equity_drawdown(curves), width="stretch")
    with right, ui.section("limits"):
        if uses:
            st.plotly_chart(charts.limits([u.to_json() for u in uses]), width="stretch")
        else:
            st.caption("no limit configured for these bots")
    with ui.section("daily PnL"):
        st.plotly_chart(charts.daily_pnl(data.daily_pnl(store)), width="stretch")

    st.subheader("Checks")
    with ui.section("checks"):
        rows = []
        for r in checks.to_dict("records"):
            fresh = status.freshness(r["last_ingest"], now)
            age = None if not r["last_ingest"] else (now - int(r["last_ingest"])) / 1000
            rows.append(
                {
                    "check": r["check"],
                    "status": r["status"] or "—",
                    "freshness": fresh,
                    "age": status.age_text(age),
                    "reports": r["reports"],
                    "detail": r["detail"],
                }
            )
        st.dataframe(rows, hide_index=True, width="stretch")
    a, f = st.columns(2)
    with a, ui.section("alerts"):
        st.subheader("Recent alerts")
        shown = recent.head(20).copy()
        shown["ts_event"] = [ui.when(x) for x in shown["ts_event"]]
        st.dataframe(shown.drop(columns=["ts_ingest"]), hide_index=True, width="stretch")
    with f, ui.section("fills"):
        st.subheader("Fills")
        blotter = data.fills(store, 50)
        blotter["ts_event"] = [ui.when(x) for x in blotter["ts_event"]]
        st.dataframe(blotter, hide_index=True, width="stretch")
    st.caption(
        'Kill switch: `desk kill --reason "..." [--scope bot:<id>]` (recorded and '
        "audited); `desk resume --confirm ...` lifts it."
    )


def page() -> None:
    with ui.section("desk"):
        body()


every = ui.refresh_seconds()
st.title("Desk")
if every:
    st.fragment(run_every=every)(page)()
else:
    page()
