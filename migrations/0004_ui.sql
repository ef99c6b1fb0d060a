-- Errors of the external API, for the Developer tab of the Callback UI:
-- searchable by the correlation id the caller got back, kept 14 days.
CREATE TABLE ui_api_errors (
    id       bigserial   PRIMARY KEY,
    ccid     text        NOT NULL DEFAULT '',
    corr_id  text        NOT NULL,
    at       timestamptz NOT NULL,
    method   text        NOT NULL,
    path     text        NOT NULL,
    status   integer     NOT NULL,
    message  text        NOT NULL
);
CREATE INDEX ui_api_errors_corr ON ui_api_errors (corr_id);
CREATE INDEX ui_api_errors_tenant ON ui_api_errors (ccid, at DESC);
CREATE INDEX ui_api_errors_at ON ui_api_errors (at);
