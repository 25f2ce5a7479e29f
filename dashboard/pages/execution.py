"""Execution quality and risk: fill rate, maker ratio, slippage, the fill model's
calibration (parity), exposure against limits, the kill / halt timeline."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, data, ui

st.title("Execution quality and risk")
src = ui.sources()
ui.header(src)
if src.store is None:
    st.stop()
ex = data.execution(src.store)
if ex.empty:
    st.info("No order yet. Run `desk demo`, or `desk up` with a feed and bots.")
    st.stop()
ex = ex.fillna(0)
ex["fill_rate"] = ex["filled_orders"].astype(float) / ex["orders"].astype(float)
ex["maker_ratio"] = [
    float(m) / float(f) if float(f) else None
    for m, f in zip(ex["maker_fills"], ex["fills"], strict=True)
]
cols = st.columns(3)
orders, filled = int(ex["orders"].sum()), int(ex["filled_orders"].sum())
fills_n, maker = int(ex["fills"].sum()), int(ex["maker_fills"].sum())
cols[0].metric("Fill rate (orders filled)", f"{filled / orders:.1%}" if orders else "—")
cols[1].metric("Maker ratio (fills)", f"{maker / fills_n:.1%}" if fills_n else "—")
cols[2].metric("Orders submitted", f"{orders:,}")
st.dataframe(ex, hide_index=True, width="stretch")

st.subheader("Fill model calibration (parity: expected against realized)")
with ui.section("parity"):
    pm = data.parity_metrics(src.store)
    if pm.empty:
        st.caption("no parity window closed yet")
    else:
        st.dataframe(pm, hide_index=True, width="stretch")
    slip = data.slippage(src.store).dropna(subset=["slippage_bps"])
    if len(slip):
        fig = charts.series(slip, "ts_event", "slippage_bps", "Realized slippage (bps)")
        st.plotly_chart(fig, width="stretch")
    else:
        st.caption("no slippage measured yet (maker fills at their limit price have none)")

st.subheader("Exposure against limits")
with ui.section("limits"):
    from dashboard import status

    books = data.books(src.store)
    legs = data.positions(books)
    uses = status.desk_uses(ui.config(), books.to_dict("records"), legs.to_dict("records"))
    if uses:
        st.plotly_chart(charts.limits([u.to_json() for u in uses]), width="stretch")
    else:
        st.caption("no limit configured for these bots")

st.subheader("Kill and halt timeline")
with ui.section("timeline"):
    tl = data.timeline(src.store)
    if tl.empty:
        st.caption("no kill, halt or trading-state change recorded")
    else:
        st.dataframe(pd.DataFrame(tl), hide_index=True, width="stretch")
