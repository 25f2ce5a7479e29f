-- Promotion gates (`desk gates run`): a gate may be STALE (its evidence too old: it fails
-- the promotion, and says why apart from a FAIL); each gate row names the promotion run it
-- belongs to, and the run's own row (gate 'promotion') carries the validation level.
ALTER TABLE gate_runs DROP CONSTRAINT IF EXISTS gate_runs_result_check;
ALTER TABLE gate_runs ADD CONSTRAINT gate_runs_result_check
    CHECK (result IN ('PASS', 'FAIL', 'STALE'));
ALTER TABLE gate_runs ADD COLUMN promotion_run text;
ALTER TABLE gate_runs ADD COLUMN validation_level int;
CREATE INDEX gate_runs_promotion ON gate_runs (promotion_run);
