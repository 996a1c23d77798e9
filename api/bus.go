package api

import (
	"context"
	"time"
)

// MessageBus carries the messages agents write between the replicas of
// one shop, so that a reply written on one reaches the stream a shopper
// holds open on another. It carries ids only; a replica reads the message
// from the shared conversation store. The PostgreSQL store is one
// (LISTEN/NOTIFY).
type MessageBus interface {
	// PublishMessage tells the other replicas that conversationID has a
	// new message messageID.
	PublishMessage(ctx context.Context, conversationID, messageID string) error
	// ListenMessages calls fn with each message another replica
	// published until ctx ends; fn("", "") says some may have been
	// missed (the connection was lost).
	ListenMessages(ctx context.Context, fn func(conversationID, messageID string)) error
}

// relayLookBack is how many of a conversation's last messages a relayed
// announcement is looked for in.
const relayLookBack = 20

// busTimeout bounds announcing one message to the other replicas.
const busTimeout = 2 * time.Second

// announce publishes m to this replica's streams and, with a bus, to the
// other replicas'.
func (s *Server) announce(ctx context.Context, conversationID, messageID string, publishLocal func()) {
	publishLocal()
	if s.bus == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), busTimeout)
	defer cancel()
	if err := s.bus.PublishMessage(ctx, conversationID, messageID); err != nil {
		s.log.Warn("announcing an agent's message to the other replicas failed; shoppers connected there see it on their next poll",
			"conversation_id", conversationID, "message_id", messageID, "error", err.Error())
	}
}

// relay passes the messages other replicas announce to this replica's
// streams, until ctx ends.
func (s *Server) relay(ctx context.Context) {
	_ = s.bus.ListenMessages(ctx, func(conversationID, messageID string) {
		if conversationID == "" {
			// Announcements may have been missed: streams end, and their
			// clients catch up with ?after= as after falling behind.
			s.hub.cutAll()
			return
		}
		if !s.hub.watched(conversationID) {
			return
		}
		rctx, cancel := context.WithTimeout(ctx, busTimeout)
		defer cancel()
		// A message just announced is among the conversation's last.
		recent, err := s.convs.Messages(rctx, conversationID, relayLookBack)
		if err != nil {
			return
		}
		for _, m := range recent {
			if m.ID == messageID {
				s.hub.publish(m)
			}
		}
	})
}
