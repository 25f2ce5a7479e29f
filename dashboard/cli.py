"""``desk dashboard``: serve the Streamlit app (dashboard/app.py) on the desk's stores."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

APP = Path(__file__).with_name("app.py")


def dashboard(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to serve on.")] = 8501,
    address: Annotated[
        str, typer.Option(help="Address to bind (0.0.0.0 to serve beyond this machine).")
    ] = "127.0.0.1",
    refresh: Annotated[
        int, typer.Option(min=0, help="Desk page auto-refresh, seconds (0: off).")
    ] = 15,
) -> None:
    """Serve the dashboard: desk view, backtest review, triage, tickets and gates,
    execution and risk (Streamlit + Plotly), until Ctrl-C.

    It reads the running desk's stores (`desk up`) or, with no desk running, the data
    dir's own (then `desk up` waits for it to stop), or the ClickHouse server and
    PostgreSQL the settings name.

    Examples:

      $ desk dashboard --port 8501  # needs: a browser
    """
    env = {**os.environ, "DESK_DASHBOARD_REFRESH_S": str(refresh)}
    args = [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", address,
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
        "--global.developmentMode", "false",
        "--client.toolbarMode", "viewer",
    ]  # fmt: skip
    os.execve(sys.executable, args, env)


def register_dashboard(app: typer.Typer) -> None:
    app.command("dashboard")(dashboard)
