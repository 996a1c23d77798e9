package store

// Checks and bounds of tickets, outbox events and audit records that
// other conversation stores (package store/postgres) apply as the
// embedded one does.

// CheckTicket reports, as a kefu.EInvalid error, what makes t unfit to
// store: a status, priority or outcome it cannot have, no reason, or a
// packet that is not JSON.
func CheckTicket(t *Ticket) error { return validTicket(t) }

// CheckOutboxEvent reports, as a kefu.EInvalid error, an event id that is
// empty or longer than MaxIDLen or a body that is not JSON.
func CheckOutboxEvent(ev OutboxEvent) error { return validOutboxEvent(ev) }

// ShortenOutboxError cuts the reason of a failed delivery to what the
// outbox keeps.
func ShortenOutboxError(why string) string { return shorten(why, maxOutboxError) }

// BoundAuditRecord cuts each text field of r to what the audit log keeps.
func BoundAuditRecord(r AuditRecord) AuditRecord {
	r.Actor, r.Role = shorten(r.Actor, maxAuditField), shorten(r.Role, maxAuditField)
	r.Action, r.Target = shorten(r.Action, maxAuditField), shorten(r.Target, maxAuditField)
	r.Detail = shorten(r.Detail, maxAuditField)
	return r
}
