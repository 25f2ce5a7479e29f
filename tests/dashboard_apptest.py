"""Every dashboard page through Streamlit's ``AppTest``, in a process of its own (chDB
allows one data path per process; the test session holds its own): prints, as JSON, per
page what it showed — exceptions, errors, metrics, charts, tables, info lines.

    DESK_DATA_DIR=... python -m tests.dashboard_apptest
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
PAGES = ("pages/desk.py", "pages/backtests.py", "pages/triage.py", "pages/tickets.py",
         "pages/execution.py")  # fmt: skip


def main() -> None:
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    shown = {}
    for page in PAGES:
        t0 = time.perf_counter()
        at.switch_page(page).run()
        shown[page] = {
            "seconds": round(time.perf_counter() - t0, 3),
            "exceptions": [e.value for e in at.exception],
            "errors": [e.value for e in at.error],
            "warnings": [w.value for w in at.warning],
            "info": [i.value for i in at.info],
            "metrics": {m.label: m.value for m in at.metric},
            "charts": len(at.get("plotly_chart")),
            "tables": len(at.dataframe),
            "markdown": [m.value for m in at.markdown],
        }
    print(json.dumps(shown))


if __name__ == "__main__":
    main()
