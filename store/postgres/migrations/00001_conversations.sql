-- Conversations and their messages. Every body column is a record sealed
-- with the shop's keyring (package seal) for its place (table and id);
-- the other columns hold only ids, times, sequence numbers and pseudonyms
-- (customer_ref is seal.Fingerprint of the customer id), what queries need.

-- +goose Up
CREATE TABLE conversations (
    id           text        PRIMARY KEY,
    customer_ref text        NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    last_seq     bigint      NOT NULL DEFAULT 0,
    body         bytea       NOT NULL
);
CREATE INDEX conversations_customer ON conversations (customer_ref);
CREATE INDEX conversations_updated ON conversations (updated_at);

CREATE TABLE messages (
    conversation_id text        NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq             bigint      NOT NULL,
    id              text        NOT NULL UNIQUE,
    role            text        NOT NULL,
    reason          text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    body            bytea       NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);
CREATE INDEX messages_reason ON messages (reason, created_at) WHERE reason <> '';

-- A shopper's client message ids, unique per conversation owner.
CREATE TABLE client_message_ids (
    owner_ref  text NOT NULL,
    client_id  text NOT NULL,
    message_id text NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    PRIMARY KEY (owner_ref, client_id)
);
CREATE INDEX client_message_ids_message ON client_message_ids (message_id);

-- +goose Down
DROP TABLE client_message_ids;
DROP TABLE messages;
DROP TABLE conversations;
