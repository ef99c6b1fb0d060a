-- The restore and the reconciler walk the non-final callbacks in id order;
-- completed rows (most of a 14-day store) stay out of this index.
CREATE INDEX callbacks_live_id ON callbacks (id) WHERE state <> 'COMPLETED';
