"""Backtests on the desk's own graph: the in-process engine (``streams.engine``) fed from
bar files, every run recorded (``records``), measured (``metrics``) and compared
(``compare``); ``desk backtest`` is its command line (``cli``)."""
