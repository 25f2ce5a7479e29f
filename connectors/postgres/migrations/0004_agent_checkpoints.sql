-- An agent's own state with the input offsets it reflects (risk's books and reserved
-- orders, to begin with). Saved behind the stream (streams.writebehind): an input is
-- acknowledged to the broker only once a checkpoint that holds it is here, so a
-- restarted worker takes the state back and skips exactly the inputs it already holds.
CREATE TABLE agent_checkpoints (
    name             text PRIMARY KEY,
    saves            bigint NOT NULL,
    offsets          jsonb NOT NULL,
    state            jsonb NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
