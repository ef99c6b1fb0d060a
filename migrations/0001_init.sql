-- One row per callback: the compact record (same encoding as Redis) plus
-- the columns queries, restores and retention need.
CREATE TABLE callbacks (
    id            uuid PRIMARY KEY,
    ccid          text        NOT NULL,
    service       text        NOT NULL,
    phone         text        NOT NULL,
    state         text        NOT NULL,
    reason        text,
    desired_time  timestamptz NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    retain_until  timestamptz NOT NULL,
    rev           bigint      NOT NULL,
    header        jsonb       NOT NULL,
    user_data     jsonb
);
CREATE INDEX callbacks_live ON callbacks (ccid) WHERE state <> 'COMPLETED';
CREATE INDEX callbacks_by_service ON callbacks (ccid, service, desired_time);
CREATE INDEX callbacks_by_phone ON callbacks (ccid, phone);
CREATE INDEX callbacks_retention ON callbacks (retain_until);

-- Append-only state history: one entry per revision of a callback.
CREATE TABLE callback_events (
    callback_id uuid        NOT NULL,
    rev         bigint      NOT NULL,
    ccid        text        NOT NULL,
    at          timestamptz NOT NULL,
    state       text        NOT NULL,
    reason      text,
    source      text,
    PRIMARY KEY (callback_id, rev)
);
CREATE INDEX callback_events_at ON callback_events (at);

-- Published Designer data tables, one per tenant and table name.
CREATE TABLE datatables (
    ccid         text        NOT NULL,
    name         text        NOT NULL,
    version      bigint      NOT NULL,
    rows         jsonb       NOT NULL,
    published_at timestamptz NOT NULL,
    PRIMARY KEY (ccid, name)
);
