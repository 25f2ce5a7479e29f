"""Run the Faust worker (all registered agents) in this process until SIGTERM/SIGINT."""

from __future__ import annotations

from streams import metrics
from streams.app import create_app
from streams.settings import DeskSettings


def run_worker(settings: DeskSettings, bootstrap: str) -> None:
    import faust

    (settings.data_path / "faust").mkdir(parents=True, exist_ok=True)
    desk = create_app(settings, bootstrap)
    metrics.serve(settings.metrics_port)
    worker = faust.Worker(desk.app, loglevel=settings.log_level, redirect_stdouts=False, quiet=True)
    worker.execute_from_commandline()  # installs its own signal handlers; stops cleanly
