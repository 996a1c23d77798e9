package api_test

// The attacks of "Safe by default" (open by default, no rate limits,
// tokens without bounds, open metrics), each played against the server and
// shown refused.

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"iter"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/api"
	"github.com/kefuhq/kefu/auth"
	"github.com/kefuhq/kefu/rag"
	"github.com/kefuhq/kefu/store"
)

// doFrom is env.do from a given client address.
func doFrom(t *testing.T, h http.Handler, addr, method, path, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = addr + ":40000"
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// wantLimited checks a 429 with Retry-After and the error JSON.
func wantLimited(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	wantError(t, rec, http.StatusTooManyRequests, "rate_limited")
	if s, err := strconv.Atoi(rec.Header().Get("Retry-After")); err != nil || s < 1 {
		t.Fatalf("Retry-After = %q, want whole seconds >= 1", rec.Header().Get("Retry-After"))
	}
}

// Finding 1: with no keys anyone could upload and delete knowledge. Now
// document admin needs an admin key in every mode: the closed default, the
// demo (shopper routes open) and with keys configured.
func TestAttackUploadWithoutKey(t *testing.T) {
	docs := &fakeDocuments{}
	planted := []upFile{{"returns.md", "", "# Returns\n\nReturns allowed for 365 days with a full refund.\n"}}
	for _, tc := range []struct {
		name   string
		opts   []envOption
		status int
	}{
		{"default: no keys, closed", []envOption{withDocuments(docs), withClosedDefault()}, http.StatusForbidden},
		{"demo: no keys, shopper routes open", []envOption{withDocuments(docs)}, http.StatusForbidden},
		{"keys configured, none sent", []envOption{withDocuments(docs), withKeys(t, authKey("web", widgetKey))}, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.opts...)
			rec := upload(t, e, planted, nil)
			if rec.Code != tc.status {
				t.Fatalf("upload without a key: %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if rec := e.do(t, http.MethodDelete, "/v1/admin/documents/policies/returns.md", ""); rec.Code != tc.status {
				t.Fatalf("delete without a key: %d, want %d", rec.Code, tc.status)
			}
			// A widget key, public in every shop's pages, is no admin key.
			if rec := upload(t, e, planted, nil, "Authorization", "Bearer "+widgetKey); rec.Code < 400 {
				t.Fatalf("upload with the widget key: %d", rec.Code)
			}
		})
	}
	if docs.files != nil || docs.deleted != nil {
		t.Fatal("the planted policy reached the documents")
	}
	// In the closed default even the shopper routes are closed; the demo
	// opens them, never more.
	closed := newEnv(t, withClosedDefault())
	wantError(t, closed.do(t, http.MethodPost, "/v1/chat", `{"message":"hi"}`), http.StatusForbidden, kefu.EForbidden)
	demo := newEnv(t)
	if rec := demo.do(t, http.MethodPost, "/v1/chat", `{"message":"hi"}`); rec.Code != http.StatusOK {
		t.Fatalf("demo chat: %d %s", rec.Code, rec.Body)
	}
	for _, path := range []string{"/v1/agent/tickets", "/v1/admin/analytics"} {
		if rec := demo.do(t, http.MethodGet, path, ""); rec.Code != http.StatusForbidden {
			t.Errorf("demo %s without a key: %d, want 403", path, rec.Code)
		}
	}
}

// Finding 3: 3,000 wrong-key requests ran at 21.5k/s. Now an address gets
// a few tries, then 429 with Retry-After; the store gets one audit record
// for the lot; another address is not held up.
func TestAttackWrongKeyBurst(t *testing.T) {
	audit := &fakeAudit{}
	e := newEnv(t, withKeys(t, authKey("web", widgetKey), auth.KeyConfig{Name: "ops", Role: auth.RoleAdmin, Key: adminKey}),
		withLimits(api.Limits{}), // the defaults
		func(_ *api.Config, d *api.Deps) { d.AuditLog = audit })
	h := e.srv.Handler()
	const n = 3000
	limited, unauthorized := 0, 0
	for i := range n {
		rec := doFrom(t, h, "203.0.113.7", http.MethodGet, "/v1/admin/analytics", "", "Authorization", fmt.Sprintf("Bearer guess-%08d-xxxxxxxx", i))
		switch rec.Code {
		case http.StatusTooManyRequests:
			limited++
			if i == n-1 {
				wantLimited(t, rec)
			}
		case http.StatusUnauthorized:
			unauthorized++
		default:
			t.Fatalf("request %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	t.Logf("%d wrong keys: %d answered 401, %d answered 429", n, unauthorized, limited)
	if limited < n-50 {
		t.Errorf("only %d of %d wrong-key requests got 429", limited, n)
	}
	// The address is held up even with the right key; another is not.
	wantLimited(t, doFrom(t, h, "203.0.113.7", http.MethodPost, "/v1/chat", `{"message":"hi"}`, bearer(widgetKey)...))
	if rec := doFrom(t, h, "198.51.100.9", http.MethodPost, "/v1/chat", `{"message":"hi"}`, bearer(widgetKey)...); rec.Code != http.StatusOK {
		t.Errorf("another address with the right key: %d %s", rec.Code, rec.Body)
	}
	// One audit record, not 3,000.
	audit.mu.Lock()
	recs := append([]store.AuditRecord(nil), audit.recs...)
	audit.mu.Unlock()
	if len(recs) != 1 || recs[0].Action != "auth.failed" || recs[0].Actor != "anonymous" ||
		!strings.Contains(recs[0].Target, "/v1/admin/analytics") || !strings.Contains(recs[0].Target, "203.0.113.7") {
		t.Errorf("audit = %+v; want one auth.failed record naming the route and the address", recs)
	}
	if strings.Contains(e.logs.String(), "guess-") {
		t.Error("a presented key reached the log")
	}
}

// A bad shopper token is a failed authentication too, recorded with the
// name of the key it came with.
func TestAttackBadTokenIsAudited(t *testing.T) {
	audit := &fakeAudit{}
	e := newEnv(t, withKeys(t, authKey("web", widgetKey)), func(_ *api.Config, d *api.Deps) { d.AuditLog = audit })
	rec := e.do(t, http.MethodPost, "/v1/chat", `{"message":"where is my order"}`,
		append(bearer(widgetKey), api.HeaderCustomerToken, "forged.token")...)
	wantError(t, rec, http.StatusUnauthorized, kefu.EUnauthorized)
	if len(audit.recs) != 1 || audit.recs[0].Actor != "web" || audit.recs[0].Action != "auth.failed" ||
		!strings.Contains(audit.recs[0].Target, "shopper token") {
		t.Errorf("audit = %+v", audit.recs)
	}
}

// Finding 3: one widget key (public: it ships in the browser) stored turns
// without limit. Now the key's bucket runs out, whatever addresses the
// turns come from.
func TestAttackWidgetKeyBurst(t *testing.T) {
	e := newEnv(t, withKeys(t, authKey("web", widgetKey)), withLimits(api.Limits{KeyRate: 1, KeyBurst: 20}))
	h := e.srv.Handler()
	ok, limited := 0, 0
	for i := range 200 {
		rec := doFrom(t, h, fmt.Sprintf("10.1.%d.%d", i/250, i%250+1), http.MethodPost, "/v1/chat", `{"message":"hi"}`, bearer(widgetKey)...)
		switch rec.Code {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			limited++
			wantLimited(t, rec)
		default:
			t.Fatalf("turn %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	if ok > 25 || limited < 175 {
		t.Errorf("200 turns on one key (burst 20): %d stored, %d refused", ok, limited)
	}
	e.store.mu.Lock()
	stored := len(e.store.convs)
	e.store.mu.Unlock()
	if n := stored; n != ok {
		t.Errorf("%d conversations stored for %d admitted turns", n, ok)
	}
}

// One shopper (a token's subject) is limited across addresses, and one
// address across shoppers.
func TestAttackShopperAndAddressBurst(t *testing.T) {
	e := newEnv(t, withLimits(api.Limits{ShopperRate: 1, ShopperBurst: 5, AddressRate: 1, AddressBurst: 10}))
	h := e.srv.Handler()
	tok := token(t, "C1001")
	ok := 0
	for i := range 50 {
		rec := doFrom(t, h, fmt.Sprintf("10.2.0.%d", i+1), http.MethodPost, "/v1/chat", `{"message":"hi"}`, api.HeaderCustomerToken, tok)
		if rec.Code == http.StatusOK {
			ok++
		} else {
			wantLimited(t, rec)
		}
	}
	if ok > 7 {
		t.Errorf("one shopper from 50 addresses: %d turns admitted, burst is 5", ok)
	}
	ok = 0
	for i := range 50 {
		rec := doFrom(t, h, "10.3.0.1", http.MethodGet, "/healthz", "")
		_ = i
		if rec.Code == http.StatusOK {
			ok++
		} else {
			wantLimited(t, rec)
		}
	}
	if ok > 12 {
		t.Errorf("one address: %d requests admitted, burst is 10", ok)
	}
	// IPv6 clients count by their /64: rotating the low bits does not help.
	ok = 0
	for i := range 50 {
		rec := doFrom(t, h, fmt.Sprintf("[2001:db8:1:2::%x]", i+1), http.MethodGet, "/healthz", "")
		if rec.Code == http.StatusOK {
			ok++
		}
	}
	if ok > 12 {
		t.Errorf("one IPv6 /64 from 50 addresses: %d requests admitted, burst is 10", ok)
	}
}

// blockingAnswerer answers after release is closed, or when the client
// leaves.
func blockingAnswerer(release <-chan struct{}) func(ctx context.Context, tr rag.Turn) iter.Seq2[rag.Event, error] {
	return func(ctx context.Context, tr rag.Turn) iter.Seq2[rag.Event, error] {
		return func(yield func(rag.Event, error) bool) {
			select {
			case <-release:
			case <-ctx.Done():
				yield(rag.Event{}, ctx.Err())
				return
			}
			for _, ev := range answerEvents("Opened headphones can be returned within 30 days [1].") {
				if !yield(ev, nil) {
					return
				}
			}
		}
	}
}

// openStream starts a streaming request and returns its status once the
// headers are in; cancel ends it.
func openStream(t *testing.T, method, url, body string, header ...string) (status int, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	return resp.StatusCode, func() { cancel(); io.Copy(io.Discard, resp.Body); resp.Body.Close() }
}

// Finding 3: one widget key held 3,000 idle message streams. Now a
// shopper, a key and an address each hold a bounded number.
func TestAttackStreamCaps(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	e := newEnv(t, withLimits(api.Limits{StreamsPerShopper: 2, StreamsPerAddress: 3}))
	e.answerer.StreamFn = blockingAnswerer(release)
	srv := httptest.NewServer(e.srv.Handler())
	defer srv.Close()
	tok := token(t, "C1001")
	conv, err := e.store.CreateConversation(context.Background(), "C1001", "web")
	if err != nil {
		t.Fatal(err)
	}
	messages := srv.URL + "/v1/conversations/" + conv.ID + "/messages"

	// The shopper's cap: two message streams, the third refused.
	var closers []func()
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	for i := range 2 {
		status, stop := openStream(t, http.MethodGet, messages, "", api.HeaderCustomerToken, tok)
		closers = append(closers, stop)
		if status != http.StatusOK {
			t.Fatalf("stream %d: %d", i+1, status)
		}
	}
	if status, stop := openStream(t, http.MethodGet, messages, "", api.HeaderCustomerToken, tok); status != http.StatusTooManyRequests {
		stop()
		t.Fatalf("third stream of one shopper: %d, want 429", status)
	} else {
		stop()
	}
	// A chat stream counts too.
	status, stop := openStream(t, http.MethodPost, srv.URL+"/v1/chat", `{"message":"hi"}`, api.HeaderCustomerToken, tok)
	stop()
	if status != http.StatusTooManyRequests {
		t.Fatalf("a chat stream over the shopper's cap: %d, want 429", status)
	}
	// The address's cap (3) holds for anonymous streams: the shopper's two
	// and one more.
	status, stop = openStream(t, http.MethodPost, srv.URL+"/v1/chat", `{"message":"hi"}`)
	closers = append(closers, stop)
	if status != http.StatusOK {
		t.Fatalf("an anonymous chat stream under the address's cap: %d", status)
	}
	status, stop = openStream(t, http.MethodPost, srv.URL+"/v1/chat", `{"message":"hi"}`)
	stop()
	if status != http.StatusTooManyRequests {
		t.Fatalf("a fourth stream from one address: %d, want 429", status)
	}
	// A closed stream gives its place back.
	closers[0]()
	closers = closers[1:]
	for i := 0; ; i++ {
		status, stop := openStream(t, http.MethodGet, messages, "", api.HeaderCustomerToken, tok)
		closers = append(closers, stop)
		if status == http.StatusOK {
			break
		}
		if i == 200 {
			t.Fatal("a closed stream's place never came back")
		}
		stop()
		time.Sleep(10 * time.Millisecond)
	}
}

// Finding 3: every unanswerable message opened a human ticket, so the
// agents' queue could be flooded. Now the same question joins the open
// ticket, and a shopper opens at most TicketsPerHour.
func TestAttackTicketFlood(t *testing.T) {
	e := newDeskEnv(t, withLimits(api.Limits{TicketsPerHour: 3}))
	first := e.chat(t, "C1001", "", "human please")
	if first.TicketID == "" {
		t.Fatal("no ticket opened")
	}
	// The same question (spelled differently) from new conversations joins
	// the open ticket.
	for _, q := range []string{"Human, please!", "HUMAN   please"} {
		if r := e.chat(t, "C1001", "", q); r.TicketID != first.TicketID {
			t.Fatalf("repeat %q opened ticket %q, want the open %q", q, r.TicketID, first.TicketID)
		}
	}
	// Other questions open tickets up to the cap; past it, none.
	opened := map[string]bool{first.TicketID: true}
	for i := range 6 {
		r := e.chat(t, "C1001", "", fmt.Sprintf("human please, order %d", i))
		if r.TicketID != "" {
			opened[r.TicketID] = true
		}
	}
	if len(opened) != 3 {
		t.Errorf("%d tickets opened by one shopper, cap is 3", len(opened))
	}
	tickets, err := e.store.Tickets(context.Background(), store.TicketFilter{Statuses: []string{store.TicketOpen, store.TicketClaimed, store.TicketClosed}})
	if err != nil {
		t.Fatal(err)
	}
	if len(tickets) != 3 {
		t.Errorf("%d tickets in the store, want 3", len(tickets))
	}
	// Another shopper is not held up by the first one's cap.
	if r := e.chat(t, "C1002", "", "human please"); r.TicketID == "" || opened[r.TicketID] {
		t.Errorf("another shopper's ticket: %q", r.TicketID)
	}
	// A conversation with an open ticket keeps escalating it, capped or not.
	if r := e.chat(t, "C1001", first.ConversationID, "human please, again"); r.TicketID != first.TicketID {
		t.Errorf("the open conversation's ticket: %q, want %q", r.TicketID, first.TicketID)
	}
}

// Finding 2 (the read deadline): a body sent one byte at a time held a
// connection. Now it is cut after the read deadline, on every route.
func TestAttackTrickleBody(t *testing.T) {
	e := newEnv(t, func(c *api.Config, _ *api.Deps) { c.BodyReadTimeout = 300 * time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()

	for _, path := range []string{"/v1/chat", "/v1/conversations/c_1/feedback"} {
		t.Run(path, func(t *testing.T) {
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			const length = 400
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: kefu\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", path, length)
			cut := make(chan struct{})
			go func() { // the reply, or the end of the connection
				io.Copy(io.Discard, conn)
				close(cut)
			}()
			sent := 0
		trickle:
			for ; sent < length; sent++ {
				if _, err := conn.Write([]byte(" ")); err != nil {
					break
				}
				select {
				case <-cut:
					break trickle
				case <-time.After(50 * time.Millisecond):
				}
			}
			<-cut
			if sent >= length {
				t.Fatalf("the whole trickled body (%d bytes) was read; it should have been cut", length)
			}
			t.Logf("cut after %d of %d bytes", sent, length)
		})
	}
}

// The read deadline is lifted once the body is in: a streamed answer that
// takes longer than the deadline is not cut.
func TestBodyDeadlineSparesStreams(t *testing.T) {
	e := newEnv(t, func(c *api.Config, _ *api.Deps) { c.BodyReadTimeout = 200 * time.Millisecond })
	e.answerer.StreamFn = func(ctx context.Context, tr rag.Turn) iter.Seq2[rag.Event, error] {
		return func(yield func(rag.Event, error) bool) {
			select {
			case <-time.After(600 * time.Millisecond):
			case <-ctx.Done():
				yield(rag.Event{}, ctx.Err())
				return
			}
			for _, ev := range answerEvents("Within 30 days [1].") {
				if !yield(ev, nil) {
					return
				}
			}
		}
	}
	srv := httptest.NewServer(e.srv.Handler())
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/chat", strings.NewReader(`{"message":"returns?"}`))
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var names []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
			names = append(names, n)
		}
	}
	if len(names) == 0 || names[len(names)-1] != "done" {
		t.Fatalf("stream events %v; want it to end with done", names)
	}
}

// Finding 8: tokens had no maximum lifetime and a future issue time was
// accepted.
func TestAttackTokens(t *testing.T) {
	e := newEnv(t)
	forge := func(payload string) string { // the token format, written out
		p := base64.RawURLEncoding.EncodeToString([]byte(payload))
		m := hmac.New(sha256.New, tokenSecret)
		m.Write([]byte(p))
		return p + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	now := time.Now()
	for name, tok := range map[string]string{
		"a year long":       mintAt(t, "C1001", 365*24*time.Hour, now),
		"issued tomorrow":   mintAt(t, "C1001", time.Hour, now.Add(24*time.Hour)),
		"iat far in future": forge(fmt.Sprintf(`{"sub":"C1001","iat":%d,"exp":%d}`, now.Add(20*time.Hour).Unix(), now.Add(44*time.Hour).Unix())),
	} {
		rec := e.do(t, http.MethodPost, "/v1/chat", `{"message":"where is my order"}`, api.HeaderCustomerToken, tok)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401: %s", name, rec.Code, rec.Body)
		}
	}
	if rec := e.do(t, http.MethodPost, "/v1/chat", `{"message":"hi"}`, api.HeaderCustomerToken, mintAt(t, "C1001", time.Hour, now)); rec.Code != 200 {
		t.Errorf("a good token: %d", rec.Code)
	}
	// After a rotation the previous secret's tokens still verify, and its
	// kid names it.
	current := auth.Secret{ID: "k2", Key: []byte("the-new-shopper-token-secret")}
	rotated := newEnv(t, func(_ *api.Config, d *api.Deps) {
		d.TokenSecret, d.TokenSecretID = current.Key, current.ID
		d.PreviousTokenSecrets = []auth.Secret{{ID: "k1", Key: tokenSecret}}
	})
	old, _ := auth.MintWith(auth.Secret{ID: "k1", Key: tokenSecret}, "C1001", time.Hour, now)
	fresh, _ := auth.MintWith(current, "C1001", time.Hour, now)
	for name, tok := range map[string]string{"old, kid k1": old, "old, no kid": token(t, "C1001"), "current": fresh} {
		if rec := rotated.do(t, http.MethodPost, "/v1/chat", `{"message":"hi"}`, api.HeaderCustomerToken, tok); rec.Code != 200 {
			t.Errorf("%s token after rotation: %d %s", name, rec.Code, rec.Body)
		}
	}
}

func mintAt(t *testing.T, customer string, ttl time.Duration, at time.Time) string {
	t.Helper()
	tok, err := auth.Mint(tokenSecret, customer, ttl, at)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Finding 8: /metrics was open with keys configured.
func TestAttackMetricsNeedAKey(t *testing.T) {
	e := newEnv(t, withKeys(t, authKey("web", widgetKey), auth.KeyConfig{Name: "ops", Role: auth.RoleAdmin, Key: adminKey}))
	wantError(t, e.do(t, http.MethodGet, "/metrics", ""), http.StatusUnauthorized, kefu.EUnauthorized)
	wantError(t, e.do(t, http.MethodGet, "/metrics", "", bearer(widgetKey)...), http.StatusForbidden, kefu.EForbidden)
	if rec := e.do(t, http.MethodGet, "/metrics", "", bearer(adminKey)...); rec.Code != 200 || !strings.Contains(rec.Body.String(), "kefu_http_requests_total") {
		t.Errorf("metrics with the admin key: %d", rec.Code)
	}
	// The handler for a listener of its own needs none.
	rec := httptest.NewRecorder()
	e.srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != 200 {
		t.Errorf("metrics handler: %d", rec.Code)
	}
	// Without keys the server is on loopback only, and metrics stay open.
	if rec := newEnv(t, withClosedDefault()).do(t, http.MethodGet, "/metrics", ""); rec.Code != 200 {
		t.Errorf("metrics without keys: %d", rec.Code)
	}
}

// Many concurrent requests from many addresses keep the limiters
// consistent (run with -race).
func TestLimitsConcurrent(t *testing.T) {
	e := newEnv(t, withLimits(api.Limits{AddressRate: 1, AddressBurst: 5}))
	h := e.srv.Handler()
	var wg sync.WaitGroup
	var mu sync.Mutex
	admitted := map[string]int{}
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				addr := fmt.Sprintf("10.9.%d.%d", w, i%5)
				if rec := doFrom(t, h, addr, http.MethodGet, "/healthz", ""); rec.Code == 200 {
					mu.Lock()
					admitted[addr]++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	for addr, n := range admitted {
		if n > 7 {
			t.Errorf("%s: %d admitted, burst is 5", addr, n)
		}
	}
}

// A client cannot dodge the address limit by sending X-Forwarded-For; only
// a configured trusted proxy's header names the client.
func TestAttackForwardedForSpoofing(t *testing.T) {
	limits := api.Limits{AddressRate: 1, AddressBurst: 5}
	spoofed := newEnv(t, withLimits(limits))
	ok := 0
	for i := range 50 {
		rec := doFrom(t, spoofed.srv.Handler(), "203.0.113.50", http.MethodGet, "/healthz", "", "X-Forwarded-For", fmt.Sprintf("10.0.0.%d", i+1))
		if rec.Code == http.StatusOK {
			ok++
		}
	}
	if ok > 7 {
		t.Errorf("rotating X-Forwarded-For from one address: %d of 50 admitted, burst is 5", ok)
	}
	proxied := newEnv(t, withLimits(limits), func(c *api.Config, _ *api.Deps) { c.TrustedProxies = []string{"192.0.2.0/24"} })
	ok = 0
	for i := range 50 {
		rec := doFrom(t, proxied.srv.Handler(), "192.0.2.7", http.MethodGet, "/healthz", "", "X-Forwarded-For", fmt.Sprintf("10.0.0.%d", i+1))
		if rec.Code == http.StatusOK {
			ok++
		}
	}
	if ok != 50 {
		t.Errorf("50 clients behind a trusted proxy: %d admitted, want all", ok)
	}
}

// Wrong keys from many addresses write a bounded number of audit records.
func TestAttackWrongKeysFromManyAddresses(t *testing.T) {
	audit := &fakeAudit{}
	e := newEnv(t, withKeys(t, authKey("web", widgetKey)), func(_ *api.Config, d *api.Deps) { d.AuditLog = audit })
	start := time.Now()
	for i := range 2000 {
		doFrom(t, e.srv.Handler(), fmt.Sprintf("10.%d.%d.1", i/250, i%250), http.MethodGet, "/v1/admin/analytics", "", bearer("wrong-key-0123456789")...)
	}
	audit.mu.Lock()
	n := len(audit.recs)
	audit.mu.Unlock()
	// The global bound: a burst of 50, then 5 a second.
	bound := 50 + 5*int(time.Since(start).Seconds()+1)
	if n == 0 || n > bound {
		t.Errorf("2,000 addresses with a wrong key wrote %d audit records; want some, and at most %d", n, bound)
	}
}
