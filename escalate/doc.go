// Package escalate hands conversations to people. It decides when a turn
// goes to a human agent (Policy), routes it to a team (Team), writes the
// handoff packet an agent reads (Packet), keeps one ticket per
// conversation through its life (Desk: open, claim, reply, resolve) and
// delivers every ticket change to an outside helpdesk by a signed webhook
// (Worker), from an outbox that the store writes in the same transaction
// as the change.
//
// # Reason codes
//
// Every escalation carries one reason code from this fixed taxonomy, and a
// priority that follows from it. When several apply, the first in this
// list wins; a ticket keeps every reason that fired in its packet.
//
//	code              priority  when
//	safety            urgent    injury, fire, smoke, electric shock, a hospital visit (cues in English and Chinese)
//	fraud             urgent    fraud, a stolen card or account, an order the shopper did not place, counterfeits
//	chargeback        urgent    a chargeback or a payment dispute with the bank or card issuer
//	legal             urgent    a legal threat or a regulator named (the pipeline's legal cues)
//	anger             high      an angry shopper (the pipeline's sentiment)
//	requested         normal    the shopper asked for a person
//	refund_amount     normal    a refund request naming an amount above the threshold of its currency
//	repeated_failure  normal    N assistant turns in a row that asked to clarify or did not know (default 3)
//	no_knowledge      normal    nothing relevant in the shop's knowledge; the assistant offered a person
//	ungrounded        normal    the generated answer failed the grounding check and was withheld
//	other             normal    any other reason the pipeline gives
//
// # Privacy
//
// A ticket in the store keeps the transcript as the shopper wrote it: the
// agent who handles it needs the phone number or address the shopper gave.
// Whatever leaves the process (the webhook body) carries a copy of the
// packet with personal data replaced by placeholders (guard.Redact); order
// and tracking numbers are kept.
package escalate
