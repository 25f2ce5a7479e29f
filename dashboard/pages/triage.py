"""Triage: the canned incident queries and a read-only SQL box over every event."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics.triage import load_all
from dashboard import charts, ui

ROW_CAP = 10_000  # rows a result shows (the SQL may ask for fewer)

st.title("Triage")
src = ui.sources()
ui.header(src)
if src.store is None:
    st.stop()
queries = load_all()
names = ["(my own SQL)", *queries]
pick = st.selectbox(
    "canned query",
    names,
    key="tr_query",
    format_func=lambda n: n if n not in queries else f"{n}: {queries[n].title}",
)
if pick in queries:
    q = queries[pick]
    st.caption(q.why)
    values = {}
    for p in q.params:
        v = st.text_input(
            f"{p.name} ({p.type})",
            value="",
            placeholder=f"default: {p.default}",
            key=f"tr_{pick}_{p.name}",
        )
        if v.strip():
            values[p.name] = v.strip()
    sql = q.render(values)
    with st.expander("SQL"):
        st.code(sql, language="sql")
else:
    sql = st.text_area(
        "read-only SQL (one SELECT / WITH / SHOW statement)",
        value="SELECT bot_id, count() AS fills FROM fills FINAL GROUP BY bot_id",
        key="tr_sql",
        height=120,
    )

with ui.section("query"):
    res = src.store.query(f"SELECT * FROM ({sql.strip().rstrip(';')}) LIMIT {ROW_CAP}")
    df = pd.DataFrame(res.rows, columns=res.columns)
    st.caption(f"{len(df):,} row(s)" + (f" (capped at {ROW_CAP:,})" if len(df) == ROW_CAP else ""))
    st.dataframe(df, hide_index=True, width="stretch")
    st.download_button(
        "CSV",
        df.to_csv(index=False).encode(),
        file_name=f"{pick}.csv" if pick in queries else "query.csv",
        mime="text/csv",
    )
    times = [c for c in df.columns if c.startswith(("ts", "at", "day", "trading_day", "window"))]
    numeric = [
        c
        for c in df.columns
        if pd.to_numeric(df[c], errors="coerce").notna().any() and c not in times
    ]
    if times and numeric and len(df):
        c1, c2 = st.columns(2)
        x = c1.selectbox("time column", times, key="tr_x")
        y = c2.selectbox("chart this column", numeric, key="tr_y")
        st.plotly_chart(charts.series(df.sort_values(x), x, y, f"{y} over {x}"), width="stretch")
