"""Portfolio: positions, cash, PnL and drawdown per bot, in exact decimals."""
