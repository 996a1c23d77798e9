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

// CheckFeedback reports why no conversation store accepts f: a rating
// that is not RatingUp or RatingDown, or a comment that is not UTF-8 or
// longer than MaxFeedbackComment characters (kefu.EInvalid). Whether its
// message exists and is an answer is the store's to check.
func CheckFeedback(f Feedback) error { return validFeedback(f) }

// QuestionLookBack is how many messages before an answer a store looks
// through for the shopper's question it answered (see Exchange).
const QuestionLookBack = maxLookBack

// MaxPeriodDays bounds the days of a PeriodStats.
const MaxPeriodDays = maxPeriodDays
