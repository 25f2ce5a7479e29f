"""PostgreSQL: the desk's operational state (orders, positions, balances, trading state,
control-plane records). The only package that holds SQL for Postgres."""
