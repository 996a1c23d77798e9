package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kefuhq/kefu/api"
	"github.com/kefuhq/kefu/auth"
	"github.com/kefuhq/kefu/escalate"
	"github.com/kefuhq/kefu/internal/pgtest"
	"github.com/kefuhq/kefu/seal"
)

const (
	replicaWidgetKey = "replica-widget-key-0123456789"
	replicaAgentKey  = "replica-agent-key-alice-0123456789"
)

// replica is one kefu serve process of the test.
type replica struct {
	name string
	url  string
	cmd  *exec.Cmd
	log  *syncBuffer
	done chan struct{}
}

func keyEntry(name, role, key string) string {
	sum := sha256.Sum256([]byte(key))
	return name + ":" + role + ":sha256:" + hex.EncodeToString(sum[:])
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startReplica starts kefu serve --demo on its own data dir with env and
// waits until it is ready.
func startReplica(t *testing.T, name string, env []string) *replica {
	t.Helper()
	addr := freeAddr(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "serve", "--demo", "--addr", addr, "--data-dir", t.TempDir())
	cmd.Env = append(append(os.Environ(), runAsKefu+"=1"), env...)
	r := &replica{name: name, url: "http://" + addr, cmd: cmd, log: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = r.log, r.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(r.done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-r.done
		}
		if t.Failed() {
			t.Logf("replica %s printed:\n%s", name, r.log)
		}
	})
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get(r.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return r
			}
		}
		select {
		case <-r.done:
			t.Fatalf("replica %s exited before it was ready:\n%s", name, r.log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica %s was not ready in 90s:\n%s", name, r.log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// call makes one request and decodes a JSON reply into out (when not nil).
func (r *replica) call(t *testing.T, method, path string, headers map[string]string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, r.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s on %s: %v", method, path, r.name, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s on %s: %v in %s", method, path, r.name, err, raw)
		}
	}
	if resp.StatusCode >= 300 {
		t.Logf("%s %s on %s: %d %s", method, path, r.name, resp.StatusCode, raw)
	}
	return resp.StatusCode
}

// webhookReceiver counts the deliveries of each event id.
type webhookReceiver struct {
	mu    sync.Mutex
	count map[string]int
	order []string
}

func (w *webhookReceiver) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	w.mu.Lock()
	id := r.Header.Get(escalate.HeaderEventID)
	w.count[id]++
	w.order = append(w.order, id)
	w.mu.Unlock()
	rw.WriteHeader(http.StatusNoContent)
}

func (w *webhookReceiver) snapshot() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]int, len(w.count))
	for k, v := range w.count {
		out[k] = v
	}
	return out
}

// TestReplicasAreOneService runs two kefu serve processes on one
// PostgreSQL database: a shopper's turns alternate between them and
// continue one conversation; an agent claims and replies on one while the
// shopper streams from the other; every ticket event reaches the webhook
// receiver exactly once while both run; one replica is killed with SIGKILL
// mid-stream and the shopper's next turn on the other continues the
// conversation.
func TestReplicasAreOneService(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two kefu processes")
	}
	dsn := pgtest.NewDatabase(t)
	secret := []byte("replica-token-secret-0123456789")
	hook := &webhookReceiver{count: map[string]int{}}
	receiver := httptest.NewServer(hook)
	defer receiver.Close()
	env := []string{
		"KEFU_STORE_PROVIDER=postgres",
		"KEFU_POSTGRES_DSN=" + dsn,
		"KEFU_ENCRYPTION_KEY=" + base64.StdEncoding.EncodeToString(seal.GenerateKey()),
		"KEFU_TOKEN_SECRET=" + string(secret),
		"KEFU_API_KEYS=" + keyEntry("widget", "widget", replicaWidgetKey) + "," + keyEntry("alice", "agent", replicaAgentKey),
		"KEFU_ESCALATION_WEBHOOK_URL=" + receiver.URL,
		"KEFU_WEBHOOK_SECRET=replica-webhook-secret-0123456789",
		"KEFU_LOG_LEVEL=warn",
	}
	a := startReplica(t, "a", env)
	b := startReplica(t, "b", env)
	replicas := []*replica{a, b}

	tok, err := auth.Mint(secret, "C1001", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	shopper := map[string]string{"Authorization": "Bearer " + replicaWidgetKey, api.HeaderCustomerToken: tok}
	agent := map[string]string{"Authorization": "Bearer " + replicaAgentKey}

	// Turns alternate between the replicas and continue one conversation.
	questions := []string{"How long do I have to return an item?", "And who pays the return shipping?",
		"Do you ship to Canada?", "How do I track my parcel?"}
	var conv string
	for i, q := range questions {
		var got api.ChatResponse
		r := replicas[i%2]
		if code := r.call(t, "POST", "/v1/chat", shopper, api.ChatRequest{ConversationID: conv, Message: q}, &got); code != 200 {
			t.Fatalf("turn %d on %s: %d", i, r.name, code)
		}
		if conv == "" {
			conv = got.ConversationID
		} else if got.ConversationID != conv {
			t.Fatalf("turn %d on %s went to conversation %s, not %s", i, r.name, got.ConversationID, conv)
		}
	}
	var history api.MessagesResponse
	if code := b.call(t, "GET", "/v1/conversations/"+conv+"/messages", shopper, nil, &history); code != 200 {
		t.Fatalf("history on b: %d", code)
	}
	if len(history.Messages) != 2*len(questions) {
		t.Fatalf("the conversation holds %d messages after %d turns on two replicas, want %d", len(history.Messages), len(questions), 2*len(questions))
	}

	// Tickets opened on both replicas: each event is delivered once.
	const tickets = 8
	var ticketIDs []string
	for i := range tickets {
		var got api.ChatResponse
		r := replicas[i%2]
		tok, err := auth.Mint(secret, fmt.Sprintf("C2%03d", i), time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		h := map[string]string{"Authorization": "Bearer " + replicaWidgetKey, api.HeaderCustomerToken: tok}
		if code := r.call(t, "POST", "/v1/chat", h, api.ChatRequest{Message: "I want to talk to a human agent please"}, &got); code != 200 {
			t.Fatalf("handoff %d on %s: %d", i, r.name, code)
		}
		if got.TicketID == "" {
			t.Fatalf("handoff %d on %s opened no ticket: %+v", i, r.name, got)
		}
		ticketIDs = append(ticketIDs, got.TicketID)
	}

	// The shopper of the first conversation asks for a person; an agent
	// claims on a and replies while the shopper streams from b.
	var handoff api.ChatResponse
	if code := a.call(t, "POST", "/v1/chat", shopper, api.ChatRequest{ConversationID: conv, Message: "I want to talk to a human agent please"}, &handoff); code != 200 || handoff.TicketID == "" {
		t.Fatalf("handoff on a: %d %+v", code, handoff)
	}
	if code := a.call(t, "POST", "/v1/agent/tickets/"+handoff.TicketID+"/claim", agent, nil, nil); code != 200 {
		t.Fatalf("claim on a: %d", code)
	}
	stream := openStream(t, b, conv, shopper)
	defer stream.close()
	stream.waitFor(t, func(data string) bool { return strings.Contains(data, "talk to a human agent") }, "the backlog on b")
	if code := a.call(t, "POST", "/v1/agent/tickets/"+handoff.TicketID+"/reply", agent, map[string]string{"message": "Alice here, writing on replica a"}, nil); code != 200 {
		t.Fatalf("reply on a: %d", code)
	}
	stream.waitFor(t, func(data string) bool { return strings.Contains(data, "Alice here, writing on replica a") }, "the agent's reply on b's stream")

	// Every event of the tickets reaches the receiver, exactly once.
	deadline := time.Now().Add(60 * time.Second)
	for {
		counts := hook.snapshot()
		if len(counts) >= tickets+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the receiver got %d distinct events in 60s, want at least %d (one per new ticket)", len(counts), tickets+1)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // a second delivery, if one were coming, has had its chance
	for id, n := range hook.snapshot() {
		if n != 1 {
			t.Errorf("event %s delivered %d times", id, n)
		}
	}

	// b dies mid-stream; the shopper's next turn on a continues.
	if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-b.done
	stream.waitClosed(t)
	if code := a.call(t, "POST", "/v1/agent/tickets/"+handoff.TicketID+"/resolve", agent, map[string]string{"outcome": "resolved"}, nil); code != 200 {
		t.Fatalf("resolve on a: %d", code)
	}
	var after api.ChatResponse
	if code := a.call(t, "POST", "/v1/chat", shopper, api.ChatRequest{ConversationID: conv, Message: "Thanks. How long do refunds take?"}, &after); code != 200 {
		t.Fatalf("the turn after b died: %d", code)
	}
	if after.ConversationID != conv || after.Answer == "" {
		t.Fatalf("the turn after b died: %+v", after)
	}
	if code := a.call(t, "GET", "/v1/conversations/"+conv+"/messages", shopper, nil, &history); code != 200 {
		t.Fatalf("history on a: %d", code)
	}
	if n := len(history.Messages); n < 2*len(questions)+4 {
		t.Errorf("after b died the conversation holds %d messages, want at least %d", n, 2*len(questions)+4)
	}
	_ = ticketIDs
}

// sseStream reads a conversation's event stream in the background.
type sseStream struct {
	cancel context.CancelFunc
	data   chan string
	ended  chan struct{}
}

func openStream(t *testing.T, r *replica, conv string, headers map[string]string) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", r.url+"/v1/conversations/"+conv+"/messages", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		cancel()
		t.Fatalf("stream on %s: %d", r.name, resp.StatusCode)
	}
	s := &sseStream{cancel: cancel, data: make(chan string, 256), ended: make(chan struct{})}
	go func() {
		defer close(s.ended)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if line, ok := strings.CutPrefix(sc.Text(), "data:"); ok {
				select {
				case s.data <- line:
				default:
				}
			}
		}
	}()
	return s
}

func (s *sseStream) waitFor(t *testing.T, match func(string) bool, what string) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case d := <-s.data:
			if match(d) {
				return
			}
		case <-s.ended:
			t.Fatalf("the stream ended before %s", what)
		case <-timeout:
			t.Fatalf("%s did not arrive in 20s", what)
		}
	}
}

func (s *sseStream) waitClosed(t *testing.T) {
	t.Helper()
	select {
	case <-s.ended:
	case <-time.After(20 * time.Second):
		t.Fatal("the stream of the killed replica did not end")
	}
}

func (s *sseStream) close() { s.cancel(); <-s.ended }
