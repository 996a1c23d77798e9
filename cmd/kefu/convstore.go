package main

import (
	"context"
	"time"

	"github.com/kefuhq/kefu/store"
	"github.com/kefuhq/kefu/store/postgres"
)

// conversationStore is the conversation store as kefu serve and the store
// commands use it: the embedded one in the data dir (store.Bolt) or
// PostgreSQL (postgres.Store), chosen by store.provider.
type conversationStore interface {
	AppendAudit(ctx context.Context, r store.AuditRecord) error
	AuditRecords(ctx context.Context, limit int) ([]store.AuditRecord, error)
	Audit(ctx context.Context, q store.AuditQuery) (store.AuditPage, error)
	VerifyAudit(ctx context.Context) (store.AuditVerification, error)
	Close() error
	Ping(ctx context.Context) error
	CreateConversation(ctx context.Context, customerID, channel string) (store.Conversation, error)
	StartConversation(ctx context.Context, customerID, channel string, first store.Message) (store.Conversation, store.Message, error)
	Conversation(ctx context.Context, id string) (store.Conversation, error)
	AppendMessage(ctx context.Context, m store.Message) (store.Message, error)
	Message(ctx context.Context, id string) (store.Message, error)
	Messages(ctx context.Context, conversationID string, limit int) ([]store.Message, error)
	PutFeedback(ctx context.Context, f store.Feedback) (store.Feedback, error)
	ConversationFeedback(ctx context.Context, conversationID string) ([]store.Feedback, error)
	FeedbackStats(ctx context.Context, recent int) (store.FeedbackStats, error)
	AnswersByReason(ctx context.Context, reason string, limit int) ([]store.Exchange, error)
	MessageByClientID(ctx context.Context, customerID, clientID string) (store.Message, error)
	AppendMessageOnce(ctx context.Context, m store.Message) (store.Message, bool, error)
	StartConversationOnce(ctx context.Context, customerID, channel string, first store.Message) (store.Conversation, store.Message, bool, error)
	Enqueue(ctx context.Context, ev store.OutboxEvent) error
	DueOutbox(ctx context.Context, now time.Time, limit int) ([]store.OutboxEvent, error)
	OutboxDelivered(ctx context.Context, id string) error
	OutboxFailed(ctx context.Context, id string, next time.Time, why string) error
	OutboxLen(ctx context.Context) (int, error)
	PeriodStats(ctx context.Context, from, to time.Time) (store.PeriodStats, error)
	EraseCustomer(ctx context.Context, customerID string, by store.AuditRecord) (store.Erasure, error)
	ExportCustomer(ctx context.Context, customerID string) (store.CustomerExport, error)
	PutProposal(ctx context.Context, p store.Proposal) (store.Proposal, error)
	TakeProposal(ctx context.Context, conversationID, messageID string) (store.Proposal, bool, error)
	SealStatus(ctx context.Context) (map[string]int, error)
	Reseal(ctx context.Context, progress func(done int)) (int, error)
	ApplyRetention(ctx context.Context, r store.Retention, now time.Time) (store.RetentionReport, error)
	OpenTicket(ctx context.Context, conversationID string, change func(t *store.Ticket, isNew bool) (*store.OutboxEvent, error)) (store.Ticket, bool, error)
	UpdateTicket(ctx context.Context, id string, change store.TicketChange) (store.Ticket, error)
	ActiveTicket(ctx context.Context, conversationID string) (store.Ticket, error)
	Ticket(ctx context.Context, id string) (store.Ticket, error)
	Tickets(ctx context.Context, f store.TicketFilter) ([]store.Ticket, error)
	TicketStats(ctx context.Context) (store.TicketStats, error)
}

var (
	_ conversationStore = (*store.Bolt)(nil)
	_ conversationStore = (*postgres.Store)(nil)
)

// shared is the store as T (its message bus, rate limits or staff
// sessions) when the store, being shared by replicas, provides T, and nil
// otherwise: a server on its own keeps these in memory.
func shared[T any](s conversationStore) T {
	t, _ := s.(T)
	return t
}
