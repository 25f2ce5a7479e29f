"""The desk config file: bots, strategies, limits, universe, fee profiles, alert routes.

One YAML file, validated in full at start-up. Unknown keys are errors (a typo
in a limit name must not silently disable the limit), cross-references are
checked (a bot's strategy, fee profile and symbols must exist), and the first
problem is reported as one line naming the key path.

A file may be an *overlay*: ``extends: default`` (the packaged config) or
``extends: <path>`` (relative to the file) lays it over that base, so adding a
venue takes a few lines instead of a copy of the whole default. Mappings merge
key by key; lists of mappings merge item by item on their identity (``id``,
``name``, or ``venue`` + ``symbol``: a universe instrument, a bot, an alert
route, a cross-market group), new items appended; lists of plain values (a
group's ``members``, ``extra_streams``) gain the overlay's new values. A value
tagged ``!replace`` replaces the base's outright (``bots: !replace []``). The
merged result is validated like any config.
"""

from __future__ import annotations

from decimal import Decimal
from fnmatch import fnmatchcase
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from streams.errors import ConfigError

DEFAULT_CONFIG = Path(__file__).with_name("desk.default.yaml")

Money = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
Fraction = Annotated[Decimal, Field(ge=0, le=1, allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Instrument(_Strict):
    venue: str
    symbol: str
    asset_class: Literal["crypto", "equity", "etf", "fx", "future"] = "crypto"
    quote_currency: str
    calendar: str | None = Field(None, description="exchange-calendars code, e.g. XNYS")
    tick_size: Decimal | None = Field(None, gt=0)
    lot_size: Decimal | None = Field(None, gt=0)

    @property
    def key(self) -> str:
        return f"{self.venue}:{self.symbol}"


class FeeProfile(_Strict):
    maker_bps: Decimal = Field(ge=-10, le=1000)
    taker_bps: Decimal = Field(ge=0, le=1000)


class Limits(_Strict):
    """Pre-trade limits; a bot's block overrides the desk defaults key by key."""

    max_order_notional: Money | None = None
    max_position_notional: Money | None = None
    max_gross_exposure: Money | None = None
    max_net_exposure: Money | None = None
    max_leverage: Money | None = None
    max_orders_per_minute: int | None = Field(None, ge=0)
    max_daily_loss: Money | None = None
    max_drawdown: Fraction | None = None
    price_band_bps: Money | None = None
    max_data_age_seconds: int | None = Field(None, gt=0)
    max_concentration: Money | None = Field(
        None,
        description="worst-case notional of one symbol as a multiple of the bot's equity",
    )
    max_borrow: Money | None = Field(
        None,
        description="quote currency the bot may owe if every open buy fills (0: cash only;"
        " unset: no cash check)",
    )
    reduce_past_order_cap: bool = Field(
        True,
        description="an order that only cuts the position may exceed max_order_notional"
        " (no bot is stuck in a position it cannot close)",
    )


class RiskEngine(_Strict):
    """How pre-trade risk treats orders in flight and bots that cannot trade."""

    ack_timeout_seconds: int = Field(
        120,
        ge=1,
        description="event time an approved order may wait for a venue answer;"
        " after it the order stays reserved and is raised to reconciliation",
    )
    stuck_minutes: int = Field(
        30,
        ge=1,
        description="a bot whose every intent was denied for this long alerts",
    )
    restore_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="wall time risk waits for PostgreSQL at start before it"
        " carries on fail-closed (new exposure denied until the state is durable)",
    )
    durable_wait_seconds: float = Field(
        2.0,
        ge=0,
        description="stream: wall time the desk core waits, after an input whose risk"
        " command must reach PostgreSQL, before it takes the next input; in time, the"
        " next decisions are the engine's (a backtest's); past it (PostgreSQL slow or"
        " down) risk carries on fail closed",
    )


class Strategy(_Strict):
    kind: str = Field(description="Registered strategy adapter name, e.g. trend_ema.")
    params: dict[str, Any] = Field(default_factory=dict)


class Bot(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    strategy: str
    venue: str
    account: str = "main"
    symbols: list[str] = Field(min_length=1)
    fee_profile: str
    starting_cash: Money
    limits: Limits = Limits()
    enabled: bool = True


class VenueConfig(_Strict):
    """How the desk executes on a venue. Paper unless explicitly switched."""

    mode: Literal["paper", "sandbox", "live"] = Field(
        "paper",
        description="paper: the built-in paper venue; sandbox: the exchange's testnet via ccxt;"
        " live: real orders (also needs DESK_LIVE_TRADING=I_UNDERSTAND in the environment)",
    )
    exchange: str | None = Field(None, description="ccxt exchange id (default: the venue name)")
    seed: int = Field(7, description="paper fill model RNG seed (partial fills)")
    latency_ms: int = Field(250, ge=0, description="paper: command to venue, in event time")
    volume_share: Fraction = Field(
        Decimal("0.1"), gt=0, description="paper: share of a bar's volume our orders can take"
    )
    slippage_bps_per_share: Money = Field(
        Decimal("100"), description="paper: market-order slippage per unit of participation"
    )
    report_every_seconds: int = Field(
        3600, ge=1, description="paper: the account's venue.report every N seconds of event time"
    )
    market_fill: Literal["close_quote", "next_open"] = Field(
        "close_quote",
        description="paper: a MARKET order fills at the closing quote of the first bar that"
        " closes after it arrives, with slippage and the volume cap (close_quote), or whole at"
        " the open of the first bar that opens after it (next_open: a bar backtester's"
        " idealisation, for side-by-side checks)",
    )


class AlertRoute(_Strict):
    name: str
    kind: Literal["file", "webhook", "ntfy"]
    min_severity: Literal["INFO", "WARNING", "CRITICAL"] = "WARNING"
    path: str | None = None
    url_env: str | None = Field(
        None, description="Name of the environment variable holding the URL (a secret)."
    )
    dry_run: bool = Field(
        False, description="Write the request that would be sent (URL withheld), send nothing."
    )

    @model_validator(mode="after")
    def _target(self) -> AlertRoute:
        if self.kind == "file" and not self.path:
            raise ValueError("a file route needs 'path'")
        if self.kind in ("webhook", "ntfy") and not self.url_env:
            raise ValueError(f"a {self.kind} route needs 'url_env' (the URL is a secret)")
        return self


class Level(_Strict):
    """A limit's warning and breach levels (breach >= warning)."""

    warning: Decimal = Field(gt=0, allow_inf_nan=False)
    breach: Decimal = Field(gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _order(self) -> Level:
        if self.breach < self.warning:
            raise ValueError("breach must be >= warning")
        return self


class PortfolioRisk(_Strict):
    """Desk-wide limits over every bot's books (the portfolio risk agent). Amounts are
    summed across bots' quote currencies as if equal (USD, USDT, USDC)."""

    version: str = Field(description="Bump on every change: each version is audited once.")
    daily_loss_pct: Level | None = Field(None, description="% of start-of-day equity")
    drawdown_pct: Level | None = Field(None, description="% below the desk's equity peak")
    net_exposure: dict[str, Level] = Field(
        default_factory=dict, description="asset -> |net market value| across bots"
    )
    concentration_pct: Level | None = Field(None, description="one asset's |net| % of equity")
    gross_leverage: Level | None = Field(None, description="sum |market value| / equity")
    on_breach: dict[str, Literal["REDUCE", "HALT", "KILL"]] = Field(
        default_factory=lambda: {
            "daily_loss_pct": "HALT",
            "drawdown_pct": "KILL",
            "net_exposure": "REDUCE",
            "concentration_pct": "REDUCE",
            "gross_leverage": "REDUCE",
        },
        description="limit -> the RiskCommand a breach issues to every bot of the desk",
    )
    flatten_on_kill: bool = Field(
        False,
        description="a KILL from a breach also closes every position at market (as `desk kill"
        " --flatten`); off, a killed desk keeps its positions and they ride the market until"
        " an operator acts",
    )


class Reconciliation(_Strict):
    """Tolerances of the reconciliation agent (desk's view vs each venue's reports)."""

    drift_warning_pct: Decimal = Field(Decimal("1"), ge=0, description="position/balance drift")
    drift_critical_pct: Decimal = Field(Decimal("5"), ge=0)
    position_abs_tolerance: Decimal = Field(Decimal("1e-8"), ge=0, description="dust, base units")
    balance_abs_tolerance: Decimal = Field(Decimal("0.01"), ge=0, description="dust, any asset")
    price_tolerance_bps: Decimal = Field(Decimal("0.5"), ge=0)
    fee_tolerance: Decimal = Field(Decimal("1e-8"), ge=0, description="absolute, fee currency")
    critical_x: Decimal = Field(Decimal("10"), gt=1, description="x tolerance: a CRITICAL mismatch")
    order_grace_seconds: int = Field(3600, ge=0, description="open here, not there, for longer")
    arrival_grace_seconds: int = Field(
        30, ge=0, description="in the stream: wall time a fill or order may lag its other side"
    )
    reduce_on_critical: bool = Field(
        True, description="a critical finding moves its bot to REDUCING"
    )

    @model_validator(mode="after")
    def _levels(self) -> Reconciliation:
        if self.drift_critical_pct < self.drift_warning_pct:
            raise ValueError("drift_critical_pct must be >= drift_warning_pct")
        return self


class Parity(_Strict):
    """Expected (a shadow run of the same orders through the paper fill model) against
    realized execution, per bot and window; versioned thresholds. A WARNING says the
    simulation looks better than reality by more than the threshold."""

    enabled: bool = Field(True, description="off: no parity at all (backtests turn it off)")
    version: str = "1"
    window_minutes: int = Field(240, ge=1)
    shadow: dict[str, Any] = Field(
        default_factory=dict,
        description="overrides of the venue settings for the shadow fill model, e.g."
        " {volume_share: '1', slippage_bps_per_share: '0'} (default: the venue's own)",
    )
    fill_ratio_gap: Decimal = Field(Decimal("0.1"), ge=0, description="expected - realized")
    slippage_gap_bps: Decimal = Field(Decimal("5"), ge=0, description="realized - expected")
    reject_rate_gap: Decimal = Field(Decimal("0.05"), ge=0, description="realized - expected")
    latency_ratio: Decimal = Field(Decimal("2"), ge=1, description="realized / expected median")
    pnl_gap_bps: Decimal = Field(
        Decimal("10"), ge=0, description="(expected - realized) PnL, bps of expected notional"
    )


class Alerting(_Strict):
    """How the alert router suppresses repeats and storms (event time), and which reports
    of other agents become alerts (agents/alerts/sources.py)."""

    dedup_window_seconds: int = Field(900, ge=0, description="same dedup_key: one incident")
    throttle_window_seconds: int = Field(3600, ge=1)
    max_per_route_per_window: int = Field(30, ge=1, description="CRITICAL is never throttled")
    max_attempts: int = Field(5, ge=1, le=20, description="per delivery, with backoff + jitter")
    dq_min_severity: Literal["INFO", "WARNING", "CRITICAL", "OFF"] = Field(
        "CRITICAL",
        description="data-quality findings at or above this severity are alerts (OFF: none);"
        " CRITICAL ones are those risk fails closed on",
    )
    deadletter_burst_window_seconds: int = Field(
        300, ge=1, description="event-time window of the dead-letter burst detector"
    )
    deadletter_burst_warning: int = Field(
        10, ge=1, description="dead letters of one agent and topic in the window: a WARNING"
    )
    deadletter_burst_critical: int = Field(100, ge=1, description="... and a CRITICAL")
    writer_behind_seconds: int = Field(
        30,
        ge=0,
        description="wall time: a store writer whose oldest unwritten input is this old, or"
        " whose store has failed this long, is a CRITICAL (the supervisor; 0: off)",
    )
    agent_stuck_seconds: int = Field(
        60,
        ge=0,
        description="wall time: an agent without progress this long while other agents"
        " advance past its event time is a CRITICAL (the supervisor; 0: off)",
    )

    @model_validator(mode="after")
    def _burst_levels(self) -> Alerting:
        if self.deadletter_burst_critical < self.deadletter_burst_warning:
            raise ValueError("deadletter_burst_critical must be >= deadletter_burst_warning")
        return self


class CrossMarketGroup(_Strict):
    """Streams that should track each other (one base asset in several quote currencies)."""

    name: str
    reference: str = Field(description="venue:symbol every member is compared with")
    members: list[str] = Field(min_length=1)
    interval: str = "1m"
    warning_bps: Decimal = Field(Decimal("100"), gt=0)
    critical_bps: Decimal = Field(Decimal("300"), gt=0)
    smoothing_bars: int = Field(5, ge=1, description="median of the last N bases")
    clear_bars: int = Field(30, ge=1, description="calm bars to clear")
    max_lag_bars: int = Field(
        200_000,
        ge=100,
        description="bars buffered while one leg's partition lags; beyond that the oldest"
        " minutes are skipped and reported (cross_market_lag)",
    )

    @model_validator(mode="after")
    def _levels(self) -> CrossMarketGroup:
        if self.critical_bps < self.warning_bps:
            raise ValueError("critical_bps must be >= warning_bps")
        if self.reference in self.members:
            raise ValueError(f"{self.reference} is both reference and member")
        return self


# settings a venue profile may override (the rest of data_quality is desk-wide)
PROFILE_KEYS = (
    "density",
    "stale_intervals",
    "gap_warning_intervals",
    "gap_critical_intervals",
    "zero_volume",
    "zero_volume_run_bars",
    "outlier_sigma",
    "outlier_critical_sigma",
    "outlier_min_return_bps",
    "outlier_critical_min_return_bps",
)


class VenueProfile(_Strict):
    """Data-quality settings of the streams a venue really produces.

    A dense venue has a bar every interval (a missing one is a defect); a sparse
    venue omits intervals without trades, so a missing minute is normal there and
    its missing minutes are never CRITICAL. Unset fields keep the desk-wide values.
    """

    match: list[str] = Field(
        default_factory=list,
        description="'venue:symbol' patterns (fnmatch: 'kraken:*', '*:BTC/USDC') this profile"
        " applies to; the first matching profile wins ('desk dq check --profile' forces one)",
    )
    density: Literal["dense", "sparse"] | None = None
    stale_intervals: int | None = Field(None, ge=2)
    gap_warning_intervals: int | None = Field(None, ge=1)
    gap_critical_intervals: int | None = Field(None, ge=1)
    zero_volume: Literal["warn", "info", "ignore"] | None = None
    zero_volume_run_bars: int | None = Field(None, ge=2)
    outlier_sigma: Decimal | None = Field(None, gt=0)
    outlier_critical_sigma: Decimal | None = Field(None, gt=0)
    outlier_min_return_bps: Decimal | None = Field(None, ge=0)
    outlier_critical_min_return_bps: Decimal | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _patterns(self) -> VenueProfile:
        for pattern in self.match:
            if ":" not in pattern:
                raise ValueError(f"match: {pattern!r} is not 'venue:symbol' (use 'venue:*')")
        if self.density == "sparse" and self.gap_critical_intervals is not None:
            raise ValueError(
                "gap_critical_intervals: a sparse venue's missing bars are never CRITICAL"
                " (set gap_warning_intervals / stale_intervals instead)"
            )
        return self

    def overrides(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in PROFILE_KEYS if getattr(self, k) is not None}


class DataQuality(_Strict):
    """Thresholds of the data-quality gate (agents/dq); intervals are the stream's own bars.

    The stream-level settings below are the defaults of a dense venue; ``profiles``
    override them per venue or stream (``for_stream``).
    """

    density: Literal["dense", "sparse"] = Field(
        "dense",
        description="dense: a bar every interval, a missing one is a defect; sparse: intervals"
        " without trades have no bar (short gaps are counted, not reported; never CRITICAL)",
    )
    stale_intervals: int = Field(
        5,
        ge=2,
        description="no bar for N intervals: stale (dense: CRITICAL; sparse: WARNING)",
    )
    stale_clock: Literal["event", "wall"] = Field(
        "event", description="event time (replay: judged on the next bar) or wall time (live)"
    )
    gap_warning_intervals: int | None = Field(
        None,
        ge=1,
        description="a gap of at least N missing bars is a WARNING episode; shorter ones are"
        " INFO (dense) or only counted (sparse). Unset: 1 (dense), stale_intervals (sparse)",
    )
    gap_critical_intervals: int = Field(60, ge=1, description="dense only: a gap this long")
    zero_volume: Literal["warn", "info", "ignore"] = Field(
        "warn",
        description="zero-volume runs of zero_volume_run_bars: a WARNING, an INFO, or only"
        " flagged on the bars (ignore)",
    )
    zero_volume_run_bars: int = Field(15, ge=2)
    outlier_sigma: Decimal = Field(Decimal("12"), gt=0)
    outlier_critical_sigma: Decimal = Field(Decimal("40"), gt=0)
    outlier_min_return_bps: Decimal = Field(Decimal("100"), ge=0)
    outlier_critical_min_return_bps: Decimal = Field(Decimal("500"), ge=0)
    outlier_confirm_bars: int = Field(3, ge=1, description="outliers in a row = new level")
    vol_halflife_bars: int = Field(60, ge=2)
    vol_warmup_bars: int = Field(30, ge=2)
    daily_calendar: str = Field("XNYS", description="calendar of end-of-day streams by default")
    calendars: dict[str, str] = Field(
        default_factory=dict,
        description="venue:symbol -> exchange-calendars code, '24/7' or '24/5' (forex week)",
    )
    cross_market: list[CrossMarketGroup] = Field(default_factory=list)
    # -- containment: values that cannot be real never reach market.bars.clean ---------------
    max_future_ms: int = Field(
        3_600_000,
        ge=0,
        description="a bar or quote whose ts_event is more than this ahead of its ts_ingest"
        " (the clock: wall time live, event time in a replay) is rejected; 0: off",
    )
    max_lead_ms: int = Field(
        7 * 86_400_000,
        gt=0,
        description="a bar (quote) more than this ahead of its stream's last accepted one is"
        " rejected and does not move the stream on (bars: at least max_lead_intervals intervals)",
    )
    max_lead_intervals: int = Field(20, ge=1, description="floor of max_lead_ms, in bars")
    future_confirm_bars: int = Field(
        3,
        ge=2,
        description="that many far-ahead bars (quotes) in a row, each following the last, are"
        " the stream really moving on: the last one is accepted (with a gap finding)",
    )
    max_price_ratio: Decimal = Field(
        Decimal("10"),
        gt=1,
        allow_inf_nan=False,
        description="a price more than N x, or less than 1/N of the reference (median of the"
        " last price_reference_bars accepted closes or mids) is rejected as absurd",
    )
    price_reference_bars: int = Field(15, ge=1)
    absurd_confirm_bars: int = Field(
        3,
        ge=2,
        description="that many absurd bars (quotes) in a row, within max_price_ratio of each"
        " other, are a new price level: the last one is accepted (price_level_accepted)",
    )
    extra_streams: list[str] = Field(
        default_factory=list,
        description="streams accepted although not in the universe: 'venue:symbol' or"
        " 'venue:*' (research data no bot trades); any other stream is rejected",
    )
    profiles: dict[str, VenueProfile] = Field(
        default_factory=dict,
        description="named venue/stream profiles (density, staleness, gaps, outlier bands,"
        " zero volume); a stream takes the first profile whose 'match' fits it",
    )

    @model_validator(mode="after")
    def _gap_levels(self) -> DataQuality:
        if self.gap_warning_intervals is not None and (
            self.density == "dense" and self.gap_warning_intervals > self.gap_critical_intervals
        ):
            raise ValueError("gap_warning_intervals must be <= gap_critical_intervals")
        return self

    @property
    def gap_warning(self) -> int:
        """Missing bars that make a gap a WARNING (the unset default depends on density)."""
        if self.gap_warning_intervals is not None:
            return self.gap_warning_intervals
        return 1 if self.density == "dense" else self.stale_intervals

    def profile_for(self, stream: str, forced: str | None = None) -> str | None:
        """Name of the profile of ``venue:symbol``: ``forced`` if given, else the first match."""
        if forced is not None:
            if forced not in self.profiles:
                known = ", ".join(sorted(self.profiles)) or "none"
                raise KeyError(f"no data_quality.profiles.{forced} (known: {known})")
            return forced
        for name, profile in self.profiles.items():
            if any(fnmatchcase(stream, p) for p in profile.match):
                return name
        return None

    def for_stream(self, stream: str, forced: str | None = None) -> DataQuality:
        """The settings one stream is judged by: these, with its profile laid over them."""
        name = self.profile_for(stream, forced)
        if name is None:
            return self
        return self.model_copy(update=self.profiles[name].overrides())


class MarketData(_Strict):
    """Where quotes come from: streams without a recorded book get synthetic quotes."""

    recorded_books: list[str] = Field(default_factory=list, description="venue:symbol")
    synthetic_spread_atr: Decimal = Field(Decimal("0.5"), gt=0, description="spread = k x ATR")
    synthetic_min_spread_bps: Decimal = Field(Decimal("1"), ge=0)
    synthetic_max_spread_bps: Decimal = Field(Decimal("200"), gt=0)
    synthetic_atr_period: int = Field(14, ge=1)
    synthetic_size_share: Fraction = Field(
        Decimal("0.1"), description="quoted size, share of bar volume"
    )


class Analytics(_Strict):
    """The analytics store (ClickHouse): how long each topic's table keeps its events."""

    retention_days: dict[str, int] = Field(
        default_factory=dict,
        description="topic -> days of event time its table keeps (TTL); absent or 0: forever."
        " Event time: a replay of an older window needs a longer retention than the live desk.",
    )

    @model_validator(mode="after")
    def _topics(self) -> Analytics:
        from streams.topics import CATALOG

        names = {t.name for t in CATALOG}
        for topic, days in self.retention_days.items():
            if topic not in names:
                raise ValueError(f"retention_days: {topic!r} is not a catalog topic")
            if days < 0:
                raise ValueError(f"retention_days: {topic} must be >= 0 days")
        return self

    def table_retention(self) -> dict[str, int]:
        """Event table -> days, for the tables with a TTL."""
        from analytics.events import table_name

        return {table_name(t): d for t, d in self.retention_days.items() if d > 0}


class Gates(_Strict):
    """Promotion gates (``desk gates run``): how old evidence may be and the paper soak KPIs
    (seed 002 D45). Desk evidence ages in event time, against the newest bar the desk took."""

    artifact_max_age_hours: int = Field(
        24, ge=1, description="the junit file and replay verifications (wall time)"
    )
    soak_hours: int = Field(
        24, ge=2, description="paper soak window: the last N hours of event time"
    )
    warmup_minutes: int = Field(30, ge=0, description="rejects before this are not counted")
    snapshot_max_age_minutes: int = Field(60, ge=1)
    venue_report_max_age_minutes: int = Field(
        180, ge=1, description="reconciliation's input: each account's venue report"
    )
    parity_max_age_windows: int = Field(
        3, ge=2, description="a bot's latest parity report, in parity windows"
    )
    stream_max_age_intervals: int = Field(
        3, ge=1, description="a traded stream's latest clean bar, in its bar intervals"
    )
    running_pct: Decimal = Field(Decimal(65), description="decisions taken while ACTIVE")
    turnover_x: Decimal = Field(Decimal(3), description="per day: traded notional / equity")
    daily_loss_pct: Decimal = Decimal("1.5")
    drawdown_pct: Decimal = Decimal("2.5")
    cancel_budget_per_minute: int = Field(20, ge=1)
    within_budget_pct: Decimal = Field(Decimal(95), description="share of minutes in budget")
    max_reject_rate: Decimal = Field(Decimal("0.01"), description="after the warm-up")


class DeskInfo(_Strict):
    name: str
    base_currency: str = "USD"
    timezone: str = "UTC"


class DeskConfig(_Strict):
    desk: DeskInfo
    universe: list[Instrument] = Field(min_length=1)
    fee_profiles: dict[str, FeeProfile]
    limits: Limits = Limits()
    strategies: dict[str, Strategy] = Field(default_factory=dict)
    bots: list[Bot] = Field(default_factory=list)
    alert_routes: list[AlertRoute] = Field(default_factory=list)
    alerting: Alerting = Alerting()
    reconciliation: Reconciliation = Reconciliation()
    parity: Parity = Parity()
    gates: Gates = Gates()
    portfolio_risk: PortfolioRisk | None = None
    risk: RiskEngine = RiskEngine()
    data_quality: DataQuality = DataQuality()
    market_data: MarketData = MarketData()
    analytics: Analytics = Analytics()
    venues: dict[str, VenueConfig] = Field(
        default_factory=dict, description="per venue; a venue not listed is paper"
    )

    @cached_property
    def _known(self) -> frozenset[str]:
        """Universe keys and ``extra_streams`` (asked on every bar: a set, built once)."""
        return frozenset((*(i.key for i in self.universe), *self.data_quality.extra_streams))

    def known_stream(self, venue: str, symbol: str) -> bool:
        """In the universe, or accepted by ``data_quality.extra_streams`` (``venue:*`` too)."""
        known = self._known
        return f"{venue}:{symbol}" in known or f"{venue}:*" in known

    def calendar_for(self, stream: str, interval: str) -> str | None:
        """The trading calendar of a stream: explicit, else the instrument's, else EOD default."""
        if stream in self.data_quality.calendars:
            return self.data_quality.calendars[stream]
        for i in self.universe:
            if i.key == stream:
                if i.calendar:
                    return i.calendar
                by_class = {"crypto": "24/7", "fx": "24/5"}.get(i.asset_class)
                if by_class is not None:
                    return by_class
                break  # a listed instrument without a calendar: an end-of-day default below
        if interval == "1d":
            return self.data_quality.daily_calendar
        return None

    @model_validator(mode="after")
    def _cross_references(self) -> DeskConfig:
        instruments = {i.key for i in self.universe}
        seen: set[str] = set()
        for n, bot in enumerate(self.bots):
            where = f"bots.{n}"
            if bot.id in seen:
                raise ValueError(f"{where}.id: duplicate bot id {bot.id!r}")
            seen.add(bot.id)
            if bot.strategy not in self.strategies:
                raise ValueError(
                    f"{where}.strategy: unknown strategy {bot.strategy!r} "
                    f"(known: {', '.join(sorted(self.strategies)) or 'none'})"
                )
            if bot.fee_profile not in self.fee_profiles:
                raise ValueError(f"{where}.fee_profile: unknown fee profile {bot.fee_profile!r}")
            for sym in bot.symbols:
                if f"{bot.venue}:{sym}" not in instruments:
                    raise ValueError(f"{where}.symbols: {bot.venue}:{sym} is not in the universe")
            quotes = {self.instrument(bot.venue, s).quote_currency for s in bot.symbols}
            if len(quotes) > 1:
                raise ValueError(
                    f"{where}.symbols: one bot keeps one cash currency, got {sorted(quotes)}"
                )
        return self

    def bot(self, bot_id: str) -> Bot:
        for b in self.bots:
            if b.id == bot_id:
                return b
        raise KeyError(bot_id)

    def venue(self, name: str) -> VenueConfig:
        return self.venues.get(name) or VenueConfig()

    def instrument(self, venue: str, symbol: str) -> Instrument:
        for i in self.universe:
            if i.venue == venue and i.symbol == symbol:
                return i
        raise KeyError(f"{venue}:{symbol}")

    def limits_for(self, bot_id: str) -> Limits:
        """Desk limits with the bot's own values laid over them."""
        own = self.bot(bot_id).limits.model_dump(exclude_none=True)
        return self.limits.model_copy(update=own)


def _error_line(source: str, exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    # cross-reference errors carry their own key path at the front of the message
    if not loc and ": " in msg:
        loc, msg = msg.split(": ", 1)
    return f"config {source}: {loc or '<root>'}: {msg}"


def parse_config(data: Any, source: str = "<config>") -> DeskConfig:
    try:
        return DeskConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_error_line(source, exc)) from None


def _yaml_problem(text: str, exc: yaml.YAMLError) -> str:
    """``line N: not valid YAML (why)`` for a parser, scanner or reader error."""
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1
        return f"line {line}: not valid YAML (character #x{exc.character:04x} is not allowed)"
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}: " if mark else ""
    problem = getattr(exc, "problem", None)
    why = f" ({' '.join(str(problem).split())})" if problem else ""
    return f"{where}not valid YAML{why}"


def load_config(path: Path | None = None) -> DeskConfig:
    """Load and validate the desk config (an overlay merged over its base first).

    Any problem is a one-line ConfigError naming the file (and its base).
    """
    path = path or DEFAULT_CONFIG
    data, chain = load_config_data(path)
    source = str(path) if len(chain) == 1 else f"{path} (extends {' < '.join(map(str, chain[1:]))})"
    return parse_config(data, source)


def load_config_data(path: Path, _seen: tuple[Path, ...] = ()) -> tuple[Any, list[Path]]:
    """The config's data with its ``extends`` chain merged in, and the chain (file first)."""
    data = _read_yaml(path)
    if not isinstance(data, dict) or "extends" not in data:
        return _unwrap(data), [path]
    base_name = data.pop("extends")
    if not isinstance(base_name, str) or not base_name.strip():
        raise ConfigError(
            f"config {path}: extends: expected 'default' or a config file path, got {base_name!r}"
        )
    base = (
        DEFAULT_CONFIG
        if base_name.strip() == "default"
        else (path.parent / Path(base_name.strip()).expanduser())
    )
    here = path.resolve()
    if base.resolve() in (*_seen, here):
        loop = " -> ".join(str(p) for p in (*_seen, here, base.resolve()))
        raise ConfigError(f"config {path}: extends: a loop ({loop})")
    if not base.is_file():
        raise ConfigError(
            f"config {path}: extends: {base}: no such file ('default' is the packaged "
            "config; a path is relative to this file)"
        )
    base_data, chain = load_config_data(base, (*_seen, here))
    if not isinstance(base_data, dict):
        raise ConfigError(f"config {base}: expected a YAML mapping like {DEFAULT_CONFIG.name}")
    return merge_config(base_data, data), [path, *chain]


class Replace:
    """A value tagged ``!replace`` in an overlay: it replaces the base's instead of merging."""

    def __init__(self, value: Any) -> None:
        self.value = value


class _OverlayLoader(yaml.SafeLoader):
    """Safe YAML plus the ``!replace`` tag."""


def _construct_replace(loader: yaml.SafeLoader, node: yaml.Node) -> Replace:
    if isinstance(node, yaml.SequenceNode):
        return Replace(loader.construct_sequence(node, deep=True))
    if isinstance(node, yaml.MappingNode):
        return Replace(loader.construct_mapping(node, deep=True))
    return Replace(loader.construct_scalar(node))  # type: ignore[arg-type]


_OverlayLoader.add_constructor("!replace", _construct_replace)


def merge_config(base: Any, over: Any) -> Any:
    """``over`` laid over ``base`` (see the module doc); neither is changed."""
    if isinstance(over, Replace):
        return _unwrap(over.value)
    if isinstance(base, dict) and isinstance(over, dict):
        merged = dict(base)
        for k, v in over.items():
            merged[k] = merge_config(base[k], v) if k in base else _unwrap(v)
        return merged
    if isinstance(base, list) and isinstance(over, list):
        return _merge_lists(base, over)
    return _unwrap(over)


def _identity(item: Any) -> tuple[Any, ...] | None:
    """What names a list item across files: ``id``, ``name``, or ``venue`` + ``symbol``."""
    if not isinstance(item, dict):
        return None
    for keys in (("id",), ("name",), ("venue", "symbol")):
        if all(k in item and not isinstance(item[k], Replace) for k in keys):
            return (keys, *(item[k] for k in keys))
    return None


def _merge_lists(base: list[Any], over: list[Any]) -> list[Any]:
    if all(_identity(x) is not None for x in (*base, *over)):
        merged = list(base)
        at = {_identity(x): k for k, x in enumerate(base)}
        for item in over:
            key = _identity(item)
            if key in at:
                merged[at[key]] = merge_config(merged[at[key]], item)
            else:
                at[key] = len(merged)
                merged.append(_unwrap(item))
        return merged
    if all(not isinstance(x, dict | list | Replace) for x in (*base, *over)):
        return [*base, *(x for x in over if x not in base)]
    return [*base, *(_unwrap(x) for x in over)]


def _unwrap(data: Any) -> Any:
    """``data`` without ``Replace`` markers (a tag in a file without a base means nothing)."""
    if isinstance(data, Replace):
        return _unwrap(data.value)
    if isinstance(data, dict):
        return {k: _unwrap(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_unwrap(v) for v in data]
    return data


def _read_yaml(path: Path) -> Any:
    """A config file's YAML data; unreadable, not UTF-8, not YAML or empty: a ConfigError."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"config {path}: cannot read: {exc.strerror}") from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ConfigError(f"config {path}: UTF-16 text; save it as UTF-8")
    if b"\x00" in raw:
        raise ConfigError(f"config {path}: binary data, not YAML text; is it the right file?")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"config {path}: line {line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); "
            "save it as UTF-8"
        ) from None
    try:
        data = yaml.load(text, Loader=_OverlayLoader)  # a SafeLoader: safe
    except yaml.YAMLError as exc:
        raise ConfigError(f"config {path}: {_yaml_problem(text, exc)}") from None
    if data is None:
        raise ConfigError(
            f"config {path}: empty; expected a YAML mapping like {DEFAULT_CONFIG.name}"
        )
    return data
