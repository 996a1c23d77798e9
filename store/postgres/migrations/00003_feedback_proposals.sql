-- Feedback on answers and the pending after-sales action of each
-- conversation, as the embedded store keeps them; and the indexes the
-- dashboard's period statistics read. Bodies are sealed as in 00001: a
-- feedback row for ("feedback", message_id), a proposal for ("proposals",
-- conversation_id).

-- +goose Up

-- One rating per answer: a new one replaces it. A message belongs to one
-- conversation, so the message id is the embedded store's (conversation,
-- message) key. seq orders ratings by when they were given (a replaced
-- rating takes a new one); rating and created_at are what the counts read.
CREATE SEQUENCE feedback_seq;
CREATE TABLE feedback (
    message_id      text        PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    conversation_id text        NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq             bigint      NOT NULL DEFAULT nextval('feedback_seq'),
    rating          text        NOT NULL,
    created_at      timestamptz NOT NULL,
    body            bytea       NOT NULL
);
ALTER SEQUENCE feedback_seq OWNED BY feedback.seq;
CREATE INDEX feedback_conversation ON feedback (conversation_id, seq);
CREATE INDEX feedback_rating ON feedback (rating, seq);
CREATE INDEX feedback_created ON feedback (created_at);

-- At most one pending action per conversation; taken_by is the shopper
-- message that took it ('' until then).
CREATE TABLE proposals (
    conversation_id text        PRIMARY KEY REFERENCES conversations (id) ON DELETE CASCADE,
    id              text        NOT NULL,
    taken_by        text        NOT NULL DEFAULT '',
    expires_at      timestamptz NOT NULL,
    body            bytea       NOT NULL
);
CREATE INDEX proposals_expires ON proposals (expires_at);

-- Period statistics: conversations started and answers given in a period.
CREATE INDEX conversations_created ON conversations (created_at);
CREATE INDEX messages_answers ON messages (created_at) WHERE role = 'assistant';

-- +goose Down
DROP INDEX messages_answers;
DROP INDEX conversations_created;
DROP TABLE proposals;
DROP TABLE feedback;
