-- Rate limits shared by every replica: one token bucket per key (a
-- pseudonym of the limited shopper or API key, never the id itself).

-- +goose Up
CREATE TABLE rate_buckets (
    key    text        PRIMARY KEY,
    tokens float8      NOT NULL,
    at     timestamptz NOT NULL
);
CREATE INDEX rate_buckets_at ON rate_buckets (at);

-- +goose Down
DROP TABLE rate_buckets;
