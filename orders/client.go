package orders

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/internal/remote"
)

// DefaultTimeout bounds one lookup when Config.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// maxBody caps the reply read for one call.
const maxBody = 1 << 20

// MaxListed is the most orders a list call keeps, newest first as the
// order system sent them; the rest of the reply is ignored.
const MaxListed = 50

// Config is plain data; the zero value of a field means its default.
type Config struct {
	// Endpoint is the lookup URL (required), queried as the package
	// documentation describes. It may carry a query of its own.
	Endpoint string
	// ActionsEndpoint is where after-sales actions are posted (see Do);
	// "" means the shop takes no actions from kefu.
	ActionsEndpoint string
	// APIKey, when set, is sent as a bearer token. It is a secret: read it
	// from the environment or a file, never log it.
	APIKey string
	// Timeout bounds one call (default DefaultTimeout).
	Timeout time.Duration
	// ActionAttempts is how many times one action is tried on a timeout
	// or a 5xx, always with the same Idempotency-Key (default 3).
	ActionAttempts int
	// HTTPClient's transport carries the requests (default
	// http.DefaultTransport); its Timeout is ignored in favour of Timeout.
	HTTPClient *http.Client
}

// LogValue keeps the API key out of logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.String("endpoint", remote.RedactURL(c.Endpoint)),
		slog.String("actions_endpoint", remote.RedactURL(c.ActionsEndpoint)),
		slog.Bool("api_key_set", c.APIKey != ""), slog.Duration("timeout", c.Timeout))
}

// String keeps the API key out of anything that prints the config.
func (c Config) String() string {
	return fmt.Sprintf("orders.Config{Endpoint: %s, ActionsEndpoint: %s, APIKey set: %t, Timeout: %s}",
		remote.RedactURL(c.Endpoint), remote.RedactURL(c.ActionsEndpoint), c.APIKey != "", c.Timeout)
}

// Client looks orders up and posts actions. It is safe for concurrent use.
type Client struct {
	cfg      Config
	endpoint *url.URL
	actions  *url.URL // nil: no actions endpoint
	http     *http.Client
	breaker  breaker
}

// New returns a client for cfg. It fails on an endpoint that is not an
// http(s) URL; it does not call the endpoint.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("orders: endpoint %s is not an http(s) URL", remote.RedactURL(cfg.Endpoint))
	}
	var au *url.URL
	if cfg.ActionsEndpoint != "" {
		au, err = url.Parse(cfg.ActionsEndpoint)
		if err != nil || (au.Scheme != "http" && au.Scheme != "https") || au.Host == "" {
			return nil, fmt.Errorf("orders: actions endpoint %s is not an http(s) URL", remote.RedactURL(cfg.ActionsEndpoint))
		}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.ActionAttempts <= 0 {
		cfg.ActionAttempts = 3
	}
	var transport http.RoundTripper
	if cfg.HTTPClient != nil {
		transport = cfg.HTTPClient.Transport
	}
	return &Client{cfg: cfg, endpoint: u, actions: au, http: &http.Client{Transport: transport}, breaker: newBreaker()}, nil
}

// Order returns the customer's order orderID rendered as text, found false
// when the customer has no such order (including when it is another
// customer's). An empty customer or order id is not found without a call.
// Errors have code kefu.EUnavailable and never hold the API key.
func (c *Client) Order(ctx context.Context, customerID, orderID string) (string, bool, error) {
	customerID, orderID = strings.TrimSpace(customerID), strings.TrimSpace(orderID)
	if customerID == "" || orderID == "" {
		return "", false, nil
	}
	body, found, err := c.get(ctx, url.Values{"customer_id": {customerID}, "order_id": {orderID}}, "order "+orderID)
	if err != nil || !found {
		return "", false, err
	}
	rec, ok, err := DecodeOrder(body, customerID, orderID)
	if err != nil {
		return "", false, c.fail(fmt.Errorf("order %s: %w", orderID, err))
	}
	if !ok {
		return "", false, nil
	}
	return Render(rec), true, nil
}

// Orders lists the customer's orders, each rendered as Order renders one,
// at most MaxListed, in the order the system sent them: GET {endpoint}
// ?customer_id={customer} with no order_id. A 404 is no orders. An empty
// customer id lists nothing without a call. Errors are as for Order.
func (c *Client) Orders(ctx context.Context, customerID string) ([]string, error) {
	customerID = strings.TrimSpace(customerID)
	if customerID == "" {
		return nil, nil
	}
	body, found, err := c.get(ctx, url.Values{"customer_id": {customerID}}, "orders")
	if err != nil || !found {
		return nil, err
	}
	recs, err := DecodeList(body, customerID)
	if err != nil {
		return nil, c.fail(fmt.Errorf("orders: %w", err))
	}
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = Render(r)
	}
	return out, nil
}

// get calls the lookup endpoint with query through the breaker; found is
// false on a 404.
func (c *Client) get(ctx context.Context, query url.Values, what string) ([]byte, bool, error) {
	done, ok := c.breaker.allow()
	if !ok {
		return nil, false, c.fail(fmt.Errorf("%s: %w", what, errResting))
	}
	body, found, err := c.getOnce(ctx, query, what)
	switch {
	case err != nil && ctx.Err() != nil:
		done(errNotCounted) // the caller gave up: nothing learnt of the service
	default:
		done(err)
	}
	return body, found, err
}

func (c *Client) getOnce(ctx context.Context, query url.Values, what string) ([]byte, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	u := *c.endpoint
	q := u.Query()
	for k, v := range query {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, false, c.fail(fmt.Errorf("build request: %w", err))
	}
	req.Header.Set("Accept", "application/json")
	if c.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.APIKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, false, c.fail(fmt.Errorf("%s: %w", what, ctx.Err()))
		}
		return nil, false, c.fail(fmt.Errorf("%s: %s", what, c.scrub(err.Error())))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, false, nil
	case resp.StatusCode != http.StatusOK:
		return nil, false, c.fail(fmt.Errorf("%s: status %d", what, resp.StatusCode))
	case err != nil:
		return nil, false, c.fail(fmt.Errorf("%s: read reply: %s", what, c.scrub(err.Error())))
	case len(body) > maxBody:
		return nil, false, c.fail(fmt.Errorf("%s: reply larger than %d bytes", what, maxBody))
	}
	return body, true, nil
}

// DecodeOrder reads an order reply: a JSON object that must carry
// "customer_id" equal to customerID and, when it carries "order_id", that
// id (ignoring case). ok is false for another customer's or another order;
// an error says the reply is not an order at all.
func DecodeOrder(body []byte, customerID, orderID string) (rec map[string]any, ok bool, err error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // amounts stay as written: "349.00", not 349
	if err := dec.Decode(&rec); err != nil || rec == nil {
		return nil, false, errors.New("reply is not a JSON object")
	}
	if scalar(rec["customer_id"]) != customerID || customerID == "" {
		return nil, false, nil // not this customer's, whatever the backend thought
	}
	if id, ok := rec["order_id"]; ok && !strings.EqualFold(scalar(id), orderID) {
		return nil, false, nil
	}
	return rec, true, nil
}

// DecodeList reads a list reply: a JSON array of orders, or an object
// whose "orders" field is one. Entries that are not objects, or that do
// not carry "customer_id" equal to customerID, are dropped; at most
// MaxListed are kept.
func DecodeList(body []byte, customerID string) ([]map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, errors.New("reply is not JSON")
	}
	var list []any
	switch x := v.(type) {
	case []any:
		list = x
	case map[string]any:
		l, ok := x["orders"].([]any)
		if !ok {
			return nil, errors.New(`reply is neither a JSON array nor an object with an "orders" array`)
		}
		list = l
	default:
		return nil, errors.New(`reply is neither a JSON array nor an object with an "orders" array`)
	}
	var out []map[string]any
	for _, e := range list {
		rec, ok := e.(map[string]any)
		if !ok || customerID == "" || scalar(rec["customer_id"]) != customerID {
			continue
		}
		out = append(out, rec)
		if len(out) == MaxListed {
			break
		}
	}
	return out, nil
}

func (c *Client) fail(err error) error {
	return kefu.WrapError(kefu.EUnavailable, "the order service is unavailable",
		fmt.Errorf("orders at %s: %w", remote.RedactURL(c.cfg.Endpoint), err))
}

func (c *Client) scrub(s string) string { return remote.Scrub(s, c.cfg.APIKey) }

// fieldOrder is where known fields go in the rendering; others follow in
// key order.
var fieldOrder = []string{"order_id", "status", "placed_at", "items", "total", "currency", "payment_method",
	"carrier", "tracking_number", "shipping_city", "estimated_delivery", "delivered_at"}

// personal fields are the customer's own identifiers and contact details,
// which an answer never needs.
func personal(key string) bool {
	k := strings.ToLower(key)
	if k == "customer_id" || strings.HasPrefix(k, "customer_") {
		return true
	}
	for _, w := range []string{"phone", "mobile", "email", "address", "id_card", "recipient"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// Render writes an order record as "Key: value" lines: known fields first,
// the rest in key order, items as list lines, personal fields left out.
func Render(rec map[string]any) string {
	rank := map[string]int{}
	for i, k := range fieldOrder {
		rank[k] = i + 1
	}
	keys := make([]string, 0, len(rec))
	for k := range rec {
		if !personal(k) {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		ri, rj := rank[strings.ToLower(keys[i])], rank[strings.ToLower(keys[j])]
		switch {
		case ri != 0 && rj != 0:
			return ri < rj
		case ri != 0 || rj != 0:
			return ri != 0
		}
		return keys[i] < keys[j]
	})
	var b strings.Builder
	for _, k := range keys {
		v := rec[k]
		if v == nil {
			continue
		}
		label := humanKey(k)
		if list, ok := v.([]any); ok {
			b.WriteString(label + ":\n")
			for _, item := range list {
				b.WriteString("- " + itemLine(item) + "\n")
			}
			continue
		}
		b.WriteString(label + ": " + scalar(v) + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// itemLine renders one list entry; an order line with a name becomes
// "1 x Name (SKU), price" as ingest writes it.
func itemLine(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return scalar(v)
	}
	name := scalar(m["name"])
	if name == "" {
		return scalar(v)
	}
	var b strings.Builder
	if q := scalar(m["qty"]); q != "" {
		b.WriteString(q + " x ")
	} else if q := scalar(m["quantity"]); q != "" {
		b.WriteString(q + " x ")
	}
	b.WriteString(name)
	if sku := scalar(m["sku"]); sku != "" {
		b.WriteString(" (" + sku + ")")
	}
	if p := scalar(m["price"]); p != "" {
		b.WriteString(", " + p)
	}
	return b.String()
}

// scalar renders a JSON value on one line: strings as they are, numbers
// as written, objects as "k=v" pairs.
func scalar(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return strings.Join(strings.Fields(x), " ")
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			if !personal(k) {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, humanKey(k)+"="+scalar(x[k]))
		}
		return strings.Join(parts, ", ")
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = scalar(e)
		}
		return strings.Join(parts, "; ")
	}
	return fmt.Sprint(v)
}

// humanKey turns "tracking_number" or "trackingNumber" into "Tracking number".
func humanKey(k string) string {
	var b strings.Builder
	for i, r := range k {
		switch {
		case r == '_' || r == '-':
			b.WriteRune(' ')
		case i > 0 && r >= 'A' && r <= 'Z':
			b.WriteRune(' ')
			b.WriteRune(r - 'A' + 'a')
		case i == 0 && r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
