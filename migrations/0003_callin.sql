-- Click-To-Call-In groups: a tenant's pool of access numbers and how they
-- are lent. The row is also the lock every allocation in the group takes
-- (SELECT ... FOR UPDATE), so one number is never lent twice, whichever
-- GES node serves the request. next_index is the round-robin cursor.
CREATE TABLE callin_groups (
    ccid           text        NOT NULL,
    name           text        NOT NULL,
    expiry_seconds integer     NOT NULL,
    access_codes   boolean     NOT NULL,
    code_length    integer     NOT NULL,
    allocation     text        NOT NULL,
    next_index     integer     NOT NULL DEFAULT 0,
    updated_at     timestamptz NOT NULL,
    PRIMARY KEY (ccid, name)
);

-- The numbers of each group, in pool order. A number belongs to at most one
-- group of a tenant: a dialled number must lead to one pool.
CREATE TABLE callin_numbers (
    ccid       text    NOT NULL,
    number     text    NOT NULL,
    group_name text    NOT NULL,
    position   integer NOT NULL,
    PRIMARY KEY (ccid, number),
    FOREIGN KEY (ccid, group_name) REFERENCES callin_groups (ccid, name) ON DELETE CASCADE
);
CREATE INDEX callin_numbers_group ON callin_numbers (ccid, group_name, position);

-- Reservations: a number (and access code, '' when the group uses none)
-- promised to one request until it is matched (the row is deleted) or
-- expires. The unique pair backs the allocation rule up: without codes a
-- number has one reservation, with codes one per code.
CREATE TABLE callin_reservations (
    id                  uuid        PRIMARY KEY,
    ccid                text        NOT NULL,
    group_name          text        NOT NULL,
    number              text        NOT NULL,
    access_code         text        NOT NULL DEFAULT '',
    from_phone          text        NOT NULL DEFAULT '',
    user_data           jsonb,
    callback_service_id uuid,
    created_at          timestamptz NOT NULL,
    expires_at          timestamptz NOT NULL,
    FOREIGN KEY (ccid, group_name) REFERENCES callin_groups (ccid, name) ON DELETE CASCADE
);
CREATE UNIQUE INDEX callin_reservations_pair ON callin_reservations (ccid, number, access_code);
CREATE INDEX callin_reservations_group ON callin_reservations (ccid, group_name);
CREATE INDEX callin_reservations_expiry ON callin_reservations (expires_at);
