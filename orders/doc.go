// Package orders speaks to the shop's live order system over HTTP: it
// looks up one shopper's order or lists their orders, so that answers
// about an order use its state now rather than as of the last ingest, and
// it posts the after-sales actions a shopper confirmed in the chat.
//
// The look-up endpoint (config key orders.endpoint):
//
//	GET {endpoint}?customer_id={customer}&order_id={order}   one order
//	GET {endpoint}?customer_id={customer}                    the customer's orders
//	Authorization: Bearer {key}        (when a key is configured)
//	Accept: application/json
//
// The replies to one order:
//
//   - 200 with a JSON object: the order. It must carry "customer_id"
//     equal to the customer asked about (and, when it carries "order_id",
//     that must equal the order asked about, ignoring case); otherwise the
//     order counts as not found, so that a backend that ignores the
//     customer filter cannot leak another shopper's order.
//   - 404: no such order for this customer (an order of another customer
//     must also answer 404).
//   - anything else, a body that is not a JSON object, or a reply slower
//     than the timeout: an error of code kefu.EUnavailable.
//
// The list call (no order_id) answers 200 with a JSON array of orders, or
// an object whose "orders" field is one, newest first; entries that are not
// objects or not the customer's are dropped, and at most MaxListed (50)
// are read. A 404 is no orders. A shop whose endpoint only knows one-order
// look-ups answers the list call with an error, and "my orders" questions
// then fall back to the ingested copies.
//
// A found order is rendered as "Key: value" lines ("Order id: W1", "Status:
// shipped"), known fields first, items as "- 1 x Name (SKU), price" lines
// under "Items:", with the customer's own identifiers and contact details
// left out.
//
// The actions endpoint (orders.actions_endpoint) takes the after-sales
// actions a shopper confirmed (see Client.Do):
//
//	POST {actions endpoint}
//	Idempotency-Key: {action id}
//	Content-Type: application/json
//	Authorization: Bearer {key}        (when a key is configured)
//
//	{"action_id": "a_…", "kind": "return", "order_id": "W260912-1001",
//	 "customer_id": "C1001", "details": {"request": "the lid is cracked"}}
//
// kind is one of cancel, change_address (details.new_address), return,
// exchange and price_protection; details.request holds the shopper's words
// (at most 300 characters). The order system must take an action once per
// Idempotency-Key and answer a repeated key with the first outcome: kefu
// retries a timed-out or 5xx attempt with the same key (orders.
// action_attempts in all), so a reply lost on the way never doubles an
// action. A 2xx reply {"status": "done"|"accepted"|"rejected", "reference",
// "message"} (or an empty body, done) is the outcome; a 4xx is a refusal
// whose "message" the shopper is shown.
//
// Calls go through a circuit breaker like the model backends': after at
// least five failures in a minute that are at least half of the calls,
// the order system is left alone for 30 s (answers use the ingested copies,
// labelled), then one call probes it.
package orders
