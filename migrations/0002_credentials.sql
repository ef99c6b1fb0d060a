-- Tenant credentials (GWS client, FCM service account, CAPTCHA secret),
-- encrypted by GES before they reach the database.
CREATE TABLE tenant_credentials (
    ccid       text        NOT NULL,
    kind       text        NOT NULL,
    sealed     bytea       NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (ccid, kind)
);
