-- ORS reports change a callback's state several times during its life.
-- The live indexes are keyed on a column that changes only when the
-- callback completes, so those updates are HOT (no index entry written),
-- and each page keeps room for the new row version beside the old one.
ALTER TABLE callbacks ADD COLUMN live boolean GENERATED ALWAYS AS (state <> 'COMPLETED') STORED;
CREATE INDEX callbacks_live_ccid ON callbacks (ccid) WHERE live;
CREATE INDEX callbacks_live_by_id ON callbacks (id) WHERE live;
DROP INDEX callbacks_live;
DROP INDEX callbacks_live_id;
ALTER TABLE callbacks SET (fillfactor = 80);
