"""The desk's dashboard (``desk dashboard``): Streamlit + Plotly on the analytics store and
PostgreSQL. Pages: desk, backtest review, triage, tickets and gates, execution and risk."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

HERE = Path(__file__).parent
PAGES = (
    ("pages/desk.py", "Desk", ":material/monitoring:"),
    ("pages/backtests.py", "Backtest review", ":material/query_stats:"),
    ("pages/triage.py", "Triage", ":material/search:"),
    ("pages/tickets.py", "Tickets and gates", ":material/receipt_long:"),
    ("pages/execution.py", "Execution and risk", ":material/speed:"),
)

st.set_page_config(page_title="deskplane", page_icon=":material/monitoring:", layout="wide")
page = st.navigation([st.Page(str(HERE / p), title=t, icon=i) for p, t, i in PAGES])
page.run()
