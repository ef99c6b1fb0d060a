-- Services an administrator paused: their due callbacks are held back from
-- ORS until the service is resumed. Postgres is the truth; Redis keeps a
-- copy the monitor checks atomically with each hold.
CREATE TABLE paused_services (
    ccid      text        NOT NULL,
    service   text        NOT NULL,
    paused_at timestamptz NOT NULL,
    paused_by text        NOT NULL,
    PRIMARY KEY (ccid, service)
);
