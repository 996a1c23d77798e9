-- Staff sessions (the console's and dashboard's sign-ins), shared by every
-- replica. key is the SHA-256 of the session id the browser holds, so the
-- table holds no id a browser could present; body is the sealed session
-- (key name, role, CSRF token).

-- +goose Up
CREATE TABLE staff_sessions (
    key        text        PRIMARY KEY,
    created_at timestamptz NOT NULL,
    last_seen  timestamptz NOT NULL,
    body       bytea       NOT NULL
);
CREATE INDEX staff_sessions_last_seen ON staff_sessions (last_seen);

-- +goose Down
DROP TABLE staff_sessions;
