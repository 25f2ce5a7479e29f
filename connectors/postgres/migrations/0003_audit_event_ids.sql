-- Each audit entry records the event (or command-line action) it was made for, once:
-- a re-delivered risk command or gate result does not add a second entry.
ALTER TABLE audit_log ADD COLUMN event_id text;
UPDATE audit_log SET event_id = 'legacy-' || seq WHERE event_id IS NULL;
ALTER TABLE audit_log ALTER COLUMN event_id SET NOT NULL;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_event_id_key UNIQUE (event_id);
