-- Tickets, the outbox written with them, and the audit log. As in
-- 00001, every body column is a record sealed for its place (table and
-- id); the other columns hold what queries need: ids, times, states,
-- codes (reason, team, action), counters and pseudonyms (customer_ref and
-- actor_ref are seal.Fingerprint of the id).

-- +goose Up
CREATE TABLE tickets (
    id              text        PRIMARY KEY,
    -- No foreign key: a closed ticket (with its packet) outlives its
    -- conversation until tickets' own retention, as in the embedded store;
    -- OpenTicket checks the conversation under its row lock.
    conversation_id text        NOT NULL,
    customer_ref    text        NOT NULL,
    status          text        NOT NULL CHECK (status IN ('open', 'claimed', 'closed')),
    reason          text        NOT NULL,
    priority_rank   smallint    NOT NULL,
    team            text        NOT NULL,
    outcome         text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    closed_at       timestamptz,          -- retention counts from it
    body            bytea       NOT NULL, -- the ticket without its packet
    packet          bytea                 -- the handoff packet, sealed apart: queues do not read it
);
-- At most one active ticket per conversation, whichever replica opens it.
CREATE UNIQUE INDEX tickets_one_active ON tickets (conversation_id) WHERE status IN ('open', 'claimed');
CREATE INDEX tickets_queue ON tickets (status, priority_rank, created_at, id);
CREATE INDEX tickets_customer ON tickets (customer_ref);
CREATE INDEX tickets_conversation ON tickets (conversation_id);
CREATE INDEX tickets_closed ON tickets (closed_at) WHERE status = 'closed';

-- Events waiting to leave (webhook calls). seq is the order they were
-- queued in; an event queued with a ticket change carries the ticket, and
-- is not handed out while an earlier event of that ticket waits. A replica
-- that takes an event leases it (lease_owner, lease_until) so that no
-- other replica takes it until the lease runs out.
CREATE TABLE outbox (
    id              text        PRIMARY KEY,
    seq             bigint      GENERATED ALWAYS AS IDENTITY UNIQUE,
    ticket_id       text,
    conversation_id text,
    customer_ref    text,
    created_at      timestamptz NOT NULL,
    due_at          timestamptz NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0,
    lease_owner     text,
    lease_until     timestamptz,
    last_error      bytea,                -- sealed
    body            bytea       NOT NULL
);
CREATE INDEX outbox_ticket ON outbox (ticket_id, seq) WHERE ticket_id IS NOT NULL;
CREATE INDEX outbox_conversation ON outbox (conversation_id) WHERE conversation_id IS NOT NULL;
CREATE INDEX outbox_customer ON outbox (customer_ref) WHERE customer_ref IS NOT NULL;

-- The audit log, a hash chain as in the embedded store: each record (its
-- Seq, Prev and Hash inside the sealed body) follows the one before it.
-- seq is given by the appender, not by a sequence, so that a rolled back
-- append leaves no gap.
CREATE TABLE audit_log (
    seq       bigint      PRIMARY KEY,
    at        timestamptz NOT NULL,
    actor_ref text        NOT NULL,
    action    text        NOT NULL,
    body      bytea       NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor_ref, seq);
CREATE INDEX audit_log_action ON audit_log (action, seq);

-- The chain's head, one row: the Seq and Hash of the newest record ever
-- appended (appends lock this row, one at a time), and the anchor, the
-- last record removed from the start of the log (the first record kept
-- follows it).
CREATE TABLE audit_head (
    one         boolean PRIMARY KEY DEFAULT true CHECK (one),
    seq         bigint  NOT NULL,
    hash        text    NOT NULL,
    anchor_seq  bigint  NOT NULL,
    anchor_hash text    NOT NULL
);
INSERT INTO audit_head (seq, hash, anchor_seq, anchor_hash) VALUES (0, '', 0, '');

-- +goose Down
DROP TABLE audit_head;
DROP TABLE audit_log;
DROP TABLE outbox;
DROP TABLE tickets;
