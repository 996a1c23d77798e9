package orders

import (
	"bytes"
	"context"
	"encoding/json"
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

// maxBody caps the reply read for one order.
const maxBody = 1 << 20

// Config is plain data; the zero value of a field means its default.
type Config struct {
	// Endpoint is the lookup URL (required), queried as the package
	// documentation describes. It may carry a query of its own.
	Endpoint string
	// APIKey, when set, is sent as a bearer token. It is a secret: read it
	// from the environment or a file, never log it.
	APIKey string
	// Timeout bounds one lookup (default DefaultTimeout).
	Timeout time.Duration
	// HTTPClient's transport carries the requests (default
	// http.DefaultTransport); its Timeout is ignored in favour of Timeout.
	HTTPClient *http.Client
}

// LogValue keeps the API key out of logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.String("endpoint", remote.RedactURL(c.Endpoint)),
		slog.Bool("api_key_set", c.APIKey != ""), slog.Duration("timeout", c.Timeout))
}

// String keeps the API key out of anything that prints the config.
func (c Config) String() string {
	return fmt.Sprintf("orders.Config{Endpoint: %s, APIKey set: %t, Timeout: %s}", remote.RedactURL(c.Endpoint), c.APIKey != "", c.Timeout)
}

// Client looks orders up. It is safe for concurrent use.
type Client struct {
	cfg      Config
	endpoint *url.URL
	http     *http.Client
}

// New returns a client for cfg. It fails on an endpoint that is not an
// http(s) URL; it does not call the endpoint.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("orders: endpoint %s is not an http(s) URL", remote.RedactURL(cfg.Endpoint))
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	var transport http.RoundTripper
	if cfg.HTTPClient != nil {
		transport = cfg.HTTPClient.Transport
	}
	return &Client{cfg: cfg, endpoint: u, http: &http.Client{Transport: transport}}, nil
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
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	u := *c.endpoint
	q := u.Query()
	q.Set("customer_id", customerID)
	q.Set("order_id", orderID)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", false, c.fail(fmt.Errorf("build request: %w", err))
	}
	req.Header.Set("Accept", "application/json")
	if c.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.APIKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return "", false, c.fail(fmt.Errorf("order %s: %w", orderID, ctx.Err()))
		}
		return "", false, c.fail(fmt.Errorf("order %s: %s", orderID, c.scrub(err.Error())))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return "", false, nil
	case resp.StatusCode != http.StatusOK:
		return "", false, c.fail(fmt.Errorf("order %s: status %d", orderID, resp.StatusCode))
	case err != nil:
		return "", false, c.fail(fmt.Errorf("order %s: read reply: %s", orderID, c.scrub(err.Error())))
	case len(body) > maxBody:
		return "", false, c.fail(fmt.Errorf("order %s: reply larger than %d bytes", orderID, maxBody))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // amounts stay as written: "349.00", not 349
	var rec map[string]any
	if err := dec.Decode(&rec); err != nil || rec == nil {
		return "", false, c.fail(fmt.Errorf("order %s: reply is not a JSON object", orderID))
	}
	if scalar(rec["customer_id"]) != customerID {
		return "", false, nil // not this customer's, whatever the backend thought
	}
	if id, ok := rec["order_id"]; ok && !strings.EqualFold(scalar(id), orderID) {
		return "", false, nil
	}
	return Render(rec), true, nil
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
