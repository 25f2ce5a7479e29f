-- The paper venue's own books (a simulated exchange keeps its state somewhere too):
-- each paper account's balances, positions, working orders, fills not yet reported,
-- last quotes and fill-model RNG, with the input offsets that state reflects. A
-- restarted worker takes it back and skips the inputs it already holds, so the venue
-- carries on exactly where it was instead of starting from empty accounts.
CREATE TABLE paper_venue_state (
    name             text PRIMARY KEY,
    saves            bigint NOT NULL,
    offsets          jsonb NOT NULL,
    state            jsonb NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
