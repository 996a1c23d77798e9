package orders

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu"
)

const key = "ord-key-93f1a7c2"

var book = map[string]string{
	"W1001": `{"order_id": "W1001", "customer_id": "C1", "customer_name": "Li Wei", "customer_phone": "13800138000", "status": "shipped",
		"placed_at": "2026-10-01", "items": [{"sku": "LM-KA-001", "name": "Lumi Kettle", "qty": 1, "price": 199.00}],
		"total": 199.00, "currency": "CNY", "carrier": "SF Express", "tracking_number": "SF123", "gift": false,
		"shipping_address": "1 West Lake Rd", "shipping_city": "Hangzhou"}`,
	"W2002": `{"order_id": "W2002", "customer_id": "C2", "status": "delivered", "total": 88.50}`,
}

// backend serves book; leaky answers whatever the customer, as a careless
// order system would.
func backend(t *testing.T, leaky bool) (*httptest.Server, *[]*http.Request) {
	t.Helper()
	var seen []*http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r)
		if r.Header.Get("Authorization") != "Bearer "+key {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		body, ok := book[r.URL.Query().Get("order_id")]
		if ok && !leaky {
			var rec struct {
				CustomerID string `json:"customer_id"`
			}
			json.Unmarshal([]byte(body), &rec)
			ok = rec.CustomerID == r.URL.Query().Get("customer_id")
		}
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

func client(t *testing.T, endpoint string, mod func(*Config)) *Client {
	t.Helper()
	cfg := Config{Endpoint: endpoint, APIKey: key}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestOrderFoundIsRenderedWithoutPersonalData(t *testing.T) {
	srv, seen := backend(t, false)
	text, found, err := client(t, srv.URL+"/api/orders?shop=lumi", nil).Order(context.Background(), "C1", "W1001")
	if err != nil || !found {
		t.Fatalf("found %v, err %v", found, err)
	}
	want := "Order id: W1001\nStatus: shipped\nPlaced at: 2026-10-01\nItems:\n- 1 x Lumi Kettle (LM-KA-001), 199.00\nTotal: 199.00\n" +
		"Currency: CNY\nCarrier: SF Express\nTracking number: SF123\nShipping city: Hangzhou\nGift: no"
	if text != want {
		t.Errorf("rendered\n%s\nwant\n%s", text, want)
	}
	for _, leak := range []string{"Li Wei", "13800138000", "West Lake", "C1"} {
		if strings.Contains(text, leak) {
			t.Errorf("rendering holds personal data %q", leak)
		}
	}
	q := (*seen)[0].URL.Query()
	if (*seen)[0].Method != http.MethodGet || (*seen)[0].URL.Path != "/api/orders" || q.Get("shop") != "lumi" ||
		q.Get("customer_id") != "C1" || q.Get("order_id") != "W1001" {
		t.Errorf("request %s %s", (*seen)[0].Method, (*seen)[0].URL)
	}
}

func TestOrderOfAnotherCustomerIsNotFound(t *testing.T) {
	for _, leaky := range []bool{false, true} {
		srv, _ := backend(t, leaky)
		c := client(t, srv.URL, nil)
		for _, tc := range []struct{ customer, order string }{
			{"C1", "W2002"}, // C2's order
			{"C1", "W9999"}, // no such order
			{"", "W1001"},   // anonymous
			{"C1", ""},
		} {
			text, found, err := c.Order(context.Background(), tc.customer, tc.order)
			if err != nil || found || text != "" {
				t.Errorf("leaky=%v %s asking for %q: %q found=%v err=%v; want not found", leaky, tc.customer, tc.order, text, found, err)
			}
		}
	}
}

func TestOrderWithADifferentIDIsNotFound(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"order_id": "W1002", "customer_id": "C1", "status": "shipped"}`))
	}))
	defer srv.Close()
	if _, found, err := client(t, srv.URL, nil).Order(context.Background(), "C1", "W1001"); found || err != nil {
		t.Errorf("found %v err %v; want not found", found, err)
	}
}

func TestOrderFailures(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"server error", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom "+key, 500) }},
		{"refused key", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "bad key "+key, 401) }},
		{"not JSON", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>" + key)) }},
		{"a list", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`[{"customer_id": "C1"}]`)) }},
		{"too slow", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			c := client(t, srv.URL, func(c *Config) { c.Timeout = 200 * time.Millisecond })
			_, found, err := c.Order(context.Background(), "C1", "W1001")
			if found || kefu.ErrorCode(err) != kefu.EUnavailable {
				t.Fatalf("found %v err %v; want an unavailable error", found, err)
			}
			if strings.Contains(err.Error(), key) {
				t.Errorf("error holds the key: %v", err)
			}
		})
	}
}

func TestOrderStopsWithCtx(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := client(t, srv.URL, nil).Order(ctx, "C1", "W1001"); err == nil || !strings.Contains(err.Error(), "canceled") {
		t.Errorf("err %v; want the ctx's", err)
	}
}

func TestConfig(t *testing.T) {
	for _, bad := range []string{"", "ftp://orders", "orders.example.com/api"} {
		if _, err := New(Config{Endpoint: bad}); err == nil {
			t.Errorf("endpoint %q accepted", bad)
		}
	}
	cfg := Config{Endpoint: "https://u:pw@orders.example.com/api", APIKey: key}
	if s := cfg.String(); strings.Contains(s, key) || strings.Contains(s, "pw@") {
		t.Errorf("String shows a secret: %s", s)
	}
	if s := cfg.LogValue().String(); strings.Contains(s, key) {
		t.Errorf("LogValue shows the key: %s", s)
	}
}

func TestOrdersListKeepsTheCustomersOwnOnly(t *testing.T) {
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.URL.RawQuery)
		if r.URL.Query().Get("customer_id") == "C9" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"orders": [{"order_id": "W1001", "customer_id": "C1", "status": "shipped", "customer_phone": "13800138000"},
			{"order_id": "W2002", "customer_id": "C2", "status": "delivered"}, "junk"]}`))
	}))
	defer srv.Close()
	c := client(t, srv.URL, nil)
	got, err := c.Orders(context.Background(), "C1")
	if err != nil || len(got) != 1 || !strings.Contains(got[0], "W1001") || strings.Contains(got[0], "13800138000") {
		t.Fatalf("orders %q err %v", got, err)
	}
	if seen[0] != "customer_id=C1" {
		t.Errorf("query %q", seen[0])
	}
	if got, err := c.Orders(context.Background(), "C9"); err != nil || len(got) != 0 {
		t.Errorf("404: %q %v", got, err)
	}
	if got, err := c.Orders(context.Background(), ""); err != nil || got != nil || len(seen) != 2 {
		t.Errorf("anonymous: %q %v after %d calls", got, err, len(seen))
	}
}

func TestBreakerSparesAFailingService(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	c := client(t, srv.URL, nil)
	for i := 0; i < 10; i++ {
		if _, _, err := c.Order(context.Background(), "C1", "W1001"); kefu.ErrorCode(err) != kefu.EUnavailable {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if calls != breakerMinFailures {
		t.Errorf("%d calls reached a failing service; want the breaker to open after %d", calls, breakerMinFailures)
	}
}

// An action is retried on a lost reply with the same Idempotency-Key,
// and a refusal is not retried.
func TestDoRetriesWithTheSameKey(t *testing.T) {
	var keys []string
	var bodies []Action
	refuse := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		var a Action
		json.NewDecoder(r.Body).Decode(&a)
		bodies = append(bodies, a)
		switch {
		case refuse:
			w.WriteHeader(http.StatusUnprocessableEntity)
			w.Write([]byte(`{"message": "the order has shipped"}`))
		case len(keys) == 1:
			<-r.Context().Done()
		case len(keys) == 2:
			http.Error(w, "busy", http.StatusBadGateway)
		default:
			w.Write([]byte(`{"status": "accepted", "reference": "RMA-7"}`))
		}
	}))
	defer srv.Close()
	c := client(t, srv.URL, func(c *Config) { c.ActionsEndpoint = srv.URL + "/actions"; c.Timeout = 200 * time.Millisecond })
	a := Action{ID: "a_TEST0001", Kind: KindReturn, OrderID: "W1001", CustomerID: "C1", Details: map[string]string{"request": "broken lid"}}
	out, err := c.Do(context.Background(), a)
	if err != nil || !out.Done || out.Reference != "RMA-7" {
		t.Fatalf("outcome %+v err %v", out, err)
	}
	if len(keys) != 3 || keys[0] != a.ID || keys[1] != a.ID || keys[2] != a.ID || bodies[2].OrderID != "W1001" || bodies[2].Details["request"] != "broken lid" {
		t.Errorf("keys %v bodies %+v", keys, bodies)
	}
	refuse, keys = true, nil
	out, err = c.Do(context.Background(), a)
	if err != nil || out.Done || out.Message != "the order has shipped" || len(keys) != 1 {
		t.Errorf("refusal: %+v %v after %d attempts", out, err, len(keys))
	}
	noActions := client(t, srv.URL, nil)
	if _, err := noActions.Do(context.Background(), a); err != ErrNoActions {
		t.Errorf("without an actions endpoint: %v", err)
	}
}
