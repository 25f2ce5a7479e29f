"""The daily ticket through the CLI, kept in a real PostgreSQL: the ticket and its prices
stored once however often the day is re-run, a good fills file confirmed round trip, and
each kind of bad one refused with nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from tests.conftest import SHARED_DATA, run_desk

ETF = SHARED_DATA / "etf_daily"
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not ETF.exists(), reason="../shared/data not present"),
]
HEAD = "symbol,side,units,price,currency,fee,executed_at\n"


def count(dsn: str, sql: str) -> int:
    with psycopg.connect(dsn) as conn:
        return int(conn.execute(sql).fetchone()[0])  # type: ignore[index]


def test_a_ticket_is_kept_once_and_its_fills_confirmed_or_refused(
    pg_dsn: str, tmp_path: Path
) -> None:
    env = {"DESK_POSTGRES_DSN": pg_dsn, "DESK_DATA_DIR": str(tmp_path / "desk")}
    args = ("daily", "ticket", "--as-of", "2021-06-04", "--data", str(ETF), "--json")
    first = run_desk(*args, "--dry-run-trades", env=env)
    assert first.returncode == 0, first.stderr[-2000:]
    tk = json.loads(first.stdout)
    assert tk["decision"] == "TRADE" and tk["stored"]["ticket_new"] is True
    prices = count(pg_dsn, "SELECT count(*) FROM market_prices_eod")
    assert prices == tk["stored"]["prices_new"] > 1000
    again = json.loads(run_desk(*args, "--dry-run-trades", env=env).stdout)  # a re-run
    assert again["stored"] == {**tk["stored"], "prices_new": 0, "ticket_new": False}
    assert count(pg_dsn, "SELECT count(*) FROM market_prices_eod") == prices
    lines = {ln["symbol"]: ln for ln in tk["plan"]["lines"]}
    assert count(pg_dsn, "SELECT count(*) FROM ledger_trades_intended") == len(lines)
    no_trade = json.loads(run_desk(*args, env=env).stdout)  # the default: another ticket
    assert no_trade["decision"] == "NO_TRADE" and no_trade["ticket_id"] != tk["ticket_id"]

    def confirm(body: str, ticket: str = tk["ticket_id"]):
        path = tmp_path / f"fills-{abs(hash(body))}.csv"
        path.write_text(body)
        return run_desk("ticket", "confirm", "--ticket", ticket, "--fills", str(path),
                        "--json", env=env)  # fmt: skip

    spy = lines["SPY"]
    at = "2021-06-04T14:31:00+00:00"
    bad = {
        "unknown ticket": (HEAD + f"SPY,BUY,1,1,USD,0,{at}\n", "tk-2021-06-04-ffffffffff"),
        "no trade": (HEAD + f"SPY,BUY,1,1,USD,0,{at}\n", no_trade["ticket_id"]),
        "symbol": (HEAD + f"XLK,BUY,1,1,USD,0,{at}\n", tk["ticket_id"]),
        "number": (HEAD + f"SPY,BUY,1,-3,USD,0,{at}\n", tk["ticket_id"]),
        "too many": (HEAD + f"SPY,BUY,{int(spy['units']) + 1},1,USD,0,{at}\n", tk["ticket_id"]),
    }
    for what, (body, ticket) in bad.items():
        res = confirm(body, ticket)
        assert res.returncode != 0, what
        said = res.stdout + res.stderr
        assert ("no ticket" in said) if what == "unknown ticket" else "refused" in said, what
    assert count(pg_dsn, "SELECT count(*) FROM ledger_trades_fills") == 0  # nothing written

    good = HEAD + "".join(f"{s},{ln['side']},{ln['units']},{ln['price']},USD,1,{at}\n"
                          for s, ln in sorted(lines.items()))  # fmt: skip
    ok = confirm(good)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    got = json.loads(ok.stdout)
    assert got["confirmed"] == len(lines) and len(got["fills"]) == len(lines)
    assert count(pg_dsn, "SELECT count(*) FROM ledger_trades_fills") == len(lines)
    assert count(pg_dsn, "SELECT count(*) FROM confirmations WHERE subject_kind = 'ticket'") == 1
    twice = confirm(good)
    assert twice.returncode == 1 and "already confirmed" in twice.stdout
    assert count(pg_dsn, "SELECT count(*) FROM ledger_trades_fills") == len(lines)
    where = Path(got["artifacts"])
    md = (where / "ticket.md").read_text()
    assert md.count("## Confirmed fills") == 1 and "| BUY | SPY |" in md
    assert len(list((where / "confirmations").glob("*.json"))) == 1
    last = json.loads(run_desk("tickets", "last", "--json", env=env).stdout)
    mine = next(r for r in last if r["ticket_id"] == tk["ticket_id"])
    assert mine["fills"] == len(lines) and mine["decision"] == "TRADE"


def test_a_daily_run_is_recorded_and_a_failed_one_says_where_and_alerts(
    pg_dsn: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "desk"
    env = {"DESK_POSTGRES_DSN": pg_dsn, "DESK_DATA_DIR": str(data_dir)}
    ok = run_desk("daily", "run", "--job", "morning", "--as-of", "2021-06-04", "--data", str(ETF),
                  "--json", env=env)  # fmt: skip
    assert ok.returncode == 0, ok.stdout + ok.stderr
    run = json.loads(ok.stdout)
    assert run["steps_done"] == ["ingest", "data_quality", "status", "gates", "report"]
    assert run["artifacts"]["data_quality_status"] == "PASS" and run["artifacts"]["rows_new"] > 0

    def in_analytics() -> list[list[object]]:
        sql = "SELECT symbol, count(), max(day) FROM market_prices_eod FINAL GROUP BY 1 ORDER BY 1"
        res = run_desk("sql", sql, "--format", "csv", env=env)
        assert res.returncode == 0, res.stderr[-2000:]
        return [ln.split(",") for ln in res.stdout.strip().splitlines()[1:]]  # after the header

    stored = in_analytics()  # the same rows in the analytics store, only the needed symbols
    assert [r[0].strip('"') for r in stored] == ["GLD", "QQQ", "SPY", "TLT"]
    assert sum(int(r[1]) for r in stored) == run["artifacts"]["rows_analytics"]
    rerun = run_desk("daily", "run", "--job", "morning", "--as-of", "2021-06-04", "--data",
                     str(ETF), "--json", env=env)  # fmt: skip
    assert json.loads(rerun.stdout)["artifacts"]["rows_new"] == 0  # idempotent: nothing new
    assert in_analytics() == stored
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = run_desk("daily", "run", "--job", "ticket", "--as-of", "2021-06-04", "--data",
                   str(empty), "--json", env=env)  # fmt: skip
    assert bad.returncode == 1
    failed = json.loads(bad.stdout)
    assert failed["failed_step"] == "ticket" and "no end-of-day CSV files" in failed["error"]
    runs = json.loads(run_desk("runs", "last", "--json", env=env).stdout)
    assert [(r["job"], r["status"], r["failed_step"]) for r in runs[:3]] == [
        ("ticket", "FAILED", "ticket"), ("morning", "OK", None), ("morning", "OK", None),
    ]  # fmt: skip
    alerts = (data_dir / "alerts.jsonl").read_text()
    assert "Daily ticket run failed at ticket" in alerts and "CRITICAL" in alerts
    smoke = run_desk("daily", "run", "--job", "morning", "--as-of", "2021-06-04", "--data",
                     str(ETF), "--dry-run", "--json", env=env)  # fmt: skip
    assert smoke.returncode == 0 and json.loads(smoke.stdout)["dry_run"] is True
    assert len(json.loads(run_desk("runs", "last", "--json", env=env).stdout)) == 3  # not kept


def test_a_universe_is_validated_imported_once_and_a_bad_one_changes_nothing(
    pg_dsn: str, tmp_path: Path
) -> None:
    from analytics.daily.universe import EXAMPLE

    env = {"DESK_POSTGRES_DSN": pg_dsn, "DESK_DATA_DIR": str(tmp_path / "desk")}
    checked = run_desk("universe", "validate", str(EXAMPLE), "--data", str(ETF), "--json", env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    doc = json.loads(checked.stdout)
    assert doc["status"] == "PASS" and doc["coverage"]["SPY"] == "2023-05-18"
    assert Path(doc["artifact"]).read_text().startswith("# Universe validation: PASS")

    first = run_desk("universe", "import", str(EXAMPLE), "--json", env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    imported = json.loads(first.stdout)["imported"]
    assert imported["rows"] == 6 and imported["unchanged"] is False
    logged = count(pg_dsn, "SELECT count(*) FROM universe_imports")
    again = json.loads(run_desk("universe", "import", str(EXAMPLE), "--json", env=env).stdout)
    assert again["imported"]["unchanged"] is True  # the same rows: nothing changes or is logged
    assert count(pg_dsn, "SELECT count(*) FROM universe_imports") == logged
    shown = json.loads(run_desk("universe", "show", "--json", env=env).stdout)
    assert [r["symbol"] for r in shown] == ["BTC-USD", "GLD", "QQQ", "SPY", "TLT", "XLC"]

    bad = tmp_path / "bad.csv"  # QQQ no longer a benchmark: refused, nothing imported
    bad.write_text(EXAMPLE.read_text().replace("QQQ,etf,true,true", "QQQ,etf,true,false"))
    refused = run_desk("universe", "import", str(bad), env=env)
    assert refused.returncode == 1 and "nothing imported" in refused.stderr
    assert "benchmarks" in refused.stdout
    assert json.loads(run_desk("universe", "show", "--json", env=env).stdout) == shown

    edited = tmp_path / "edited.csv"  # TLT disabled, GLD dropped
    lines = [ln for ln in EXAMPLE.read_text().splitlines() if not ln.startswith("GLD,")]
    edited.write_text("\n".join(lines).replace("TLT,etf,true", "TLT,etf,false") + "\n")
    changed = json.loads(run_desk("universe", "import", str(edited), "--json", env=env).stdout)
    assert changed["imported"] | {"sha256": ""} == {
        "sha256": "", "rows": 5, "added": [], "changed": ["TLT"], "removed": ["GLD"],
        "unchanged": False,
    }  # fmt: skip
    assert count(pg_dsn, "SELECT count(*) FROM universe_imports") == logged + 1


SECRETS = {
    "DESK_BINANCEUS_API_KEY": "ApiKeyDaily0042",
    "DESK_BINANCEUS_SECRET": "ApiSecDaily0043",
    "DESK_TEST_ONCALL_WEBHOOK": "http://hook-user:HookPw9921@127.0.0.1:9/services/T0/B0/"
    "XyzTok3n88?token=QueryTok77",
}
SECRET_WORDS = ("PgPw7f3a9cDaily", "ApiKeyDaily0042", "ApiSecDaily0043", "HookPw9921",
                "XyzTok3n88", "QueryTok77")  # fmt: skip
TABLES = ("tickets", "daily_runs", "ledger_trades_intended", "ledger_trades_fills",
          "confirmations", "config_universe", "universe_imports")  # fmt: skip


def test_no_secret_reaches_a_ticket_an_artifact_a_run_record_or_a_run_log(
    pg_dsn: str, tmp_path: Path
) -> None:
    """Point 8: a desk whose DSN has a password, whose exchange keys and on-call webhook
    (userinfo, path token, query token) are in the environment runs the whole daily
    workflow, including a failed run that alerts; nothing it wrote or said holds them."""
    from psycopg.conninfo import make_conninfo

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS desk_daily_secret")
        conn.execute("CREATE ROLE desk_daily_secret LOGIN SUPERUSER PASSWORD 'PgPw7f3a9cDaily'")
    dsn = make_conninfo(pg_dsn, user="desk_daily_secret", password="PgPw7f3a9cDaily")
    config = tmp_path / "desk.yaml"
    config.write_text(
        "extends: default\nalert_routes:\n"
        "  - {name: oncall, kind: webhook, url_env: DESK_TEST_ONCALL_WEBHOOK}\n"
        "  - {name: oncall-dry, kind: webhook, url_env: DESK_TEST_ONCALL_WEBHOOK, "
        "dry_run: true}\n"
    )
    data_dir = tmp_path / "desk"
    env = {"DESK_POSTGRES_DSN": dsn, "DESK_DATA_DIR": str(data_dir),
           "DESK_CONFIG_FILE": str(config), **SECRETS}  # fmt: skip
    empty = tmp_path / "empty"
    empty.mkdir()
    day = ("--as-of", "2021-06-04")
    said: list[str] = []

    def desk(*args: str, ok: bool = True) -> str:
        res = run_desk(*args, env=env)
        assert (res.returncode == 0) is ok, res.stdout[-1500:] + res.stderr[-1500:]
        said.append(res.stdout + res.stderr)
        return res.stdout

    desk("universe", "import", "--json")
    tk = json.loads(desk("daily", "ticket", *day, "--data", str(ETF), "--dry-run-trades",
                         "--json"))  # fmt: skip
    fills = tmp_path / "fills.csv"
    fills.write_text(HEAD + "".join(
        f"{ln['symbol']},{ln['side']},{ln['units']},{ln['price']},USD,1,2021-06-04T15:00:00Z\n"
        for ln in tk["plan"]["lines"]))  # fmt: skip
    desk("ticket", "confirm", "--ticket", tk["ticket_id"], "--fills", str(fills))
    desk("daily", "run", "--job", "morning", *day, "--data", str(ETF))
    failed = json.loads(desk("daily", "run", "--job", "ticket", *day, "--data", str(empty),
                             "--json", ok=False))  # fmt: skip
    alerts = failed["artifacts"]["alerts"]
    assert "oncall: failed (" in alerts and "oncall-dry: dry_run" in alerts, alerts
    desk("runs", "last")
    desk("tickets", "last", "--json")
    desk("daily", "--dry-run", *day, "--data", str(ETF))
    desk("prune", "--older-than", "1m", "--dry-run")

    files = [p for p in data_dir.rglob("*") if p.is_file()]
    assert any("dry-run" in p.parts for p in files)  # the dry-run alert was written
    assert any(p.name == "ticket.md" for p in files)
    with psycopg.connect(pg_dsn) as conn:
        rows = [
            r[0] for t in TABLES for r in conn.execute(f"SELECT row_to_json(x)::text FROM {t} x")
        ]
    assert any(tk["ticket_id"] in r for r in rows)
    texts = [*said, *rows, *(p.read_bytes().decode("utf-8", "replace") for p in files)]
    for word in SECRET_WORDS:
        leaks = [t[:200] for t in texts if word in t]
        assert not leaks, f"{word} leaked: {leaks[:2]}"
