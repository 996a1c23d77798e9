// Package orders looks up one shopper's order in the shop's live order
// system over HTTP, so that answers about an order can use its state now
// rather than as of the last ingest.
//
// The contract of the endpoint (config key orders.endpoint):
//
//	GET {endpoint}?customer_id={customer}&order_id={order}
//	Authorization: Bearer {key}        (when a key is configured)
//	Accept: application/json
//
// The replies:
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
// A found order is rendered as "Key: value" lines ("Order id: W1", "Status:
// shipped"), known fields first, items as "- 1 x Name (SKU), price" lines
// under "Items:", with the customer's own identifiers and contact details
// left out.
package orders
