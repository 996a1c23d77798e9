package store

// What other conversation stores (package store/postgres) share with the
// embedded one, so that every store makes the same ids and applies the
// same bounds.

// MaxIDLen bounds the ids a store looks up; real ids are 28 bytes.
const MaxIDLen = maxIDLen

// MaxCustomerIDLen bounds a customer id.
const MaxCustomerIDLen = maxCustomerIDLen

// NewConversationID returns a new conversation id.
func NewConversationID() string { return newID(conversationPrefix) }

// NewMessageID returns a new message id.
func NewMessageID() string { return newID(messagePrefix) }

// NewTicketID returns a new ticket id.
func NewTicketID() string { return newID(ticketPrefix) }

// NewProposalID returns a new proposal id.
func NewProposalID() string { return newID(proposalPrefix) }
