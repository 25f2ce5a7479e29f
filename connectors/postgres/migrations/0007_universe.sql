-- The universe (analytics/daily/universe.py): the rows the desk may trade or measures
-- itself against, as last imported, and every import with what it changed.
CREATE TABLE config_universe (
    symbol      text PRIMARY KEY,
    type        text NOT NULL CHECK (type IN ('etf', 'stock', 'crypto')),
    enabled     boolean NOT NULL,
    benchmark   boolean NOT NULL,
    calendar    text NOT NULL,
    sources     jsonb NOT NULL,             -- data source -> its symbol
    import_sha  text NOT NULL               -- the file content this row came from
);

CREATE TABLE universe_imports (          -- one row per import that changed something
    import_id   bigserial PRIMARY KEY,
    sha256      text NOT NULL,              -- the file's content
    source      text NOT NULL,
    imported_at timestamptz NOT NULL DEFAULT now(),
    rows_total  int NOT NULL,
    added       text[] NOT NULL,
    changed     text[] NOT NULL,
    removed     text[] NOT NULL
);
