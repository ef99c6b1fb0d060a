-- Country and Number Validation rules (Tools > Permitted & Blocked
-- Numbers): permitted countries and blocked patterns per named rule, and
-- the rule of each service (at most one).
CREATE TABLE number_rules (
    ccid       text        NOT NULL,
    name       text        NOT NULL,
    countries  text[]      NOT NULL,
    patterns   jsonb       NOT NULL DEFAULT '[]',
    updated_at timestamptz NOT NULL,
    updated_by text        NOT NULL,
    PRIMARY KEY (ccid, name)
);

CREATE TABLE number_rule_services (
    ccid    text NOT NULL,
    service text NOT NULL,
    rule    text NOT NULL,
    PRIMARY KEY (ccid, service),
    FOREIGN KEY (ccid, rule) REFERENCES number_rules (ccid, name) ON DELETE CASCADE
);
