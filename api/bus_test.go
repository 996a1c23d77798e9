package api_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kefuhq/kefu/api"
	"github.com/kefuhq/kefu/escalate"
)

// fakeBus is a MessageBus between the servers of one test: what one
// publishes every other hears.
type fakeBus struct {
	mu        sync.Mutex
	listeners map[*busEnd]func(string, string)
}

type busEnd struct{ bus *fakeBus }

func (e *busEnd) PublishMessage(_ context.Context, conv, msg string) error {
	e.bus.mu.Lock()
	defer e.bus.mu.Unlock()
	for end, fn := range e.bus.listeners {
		if end != e {
			go fn(conv, msg)
		}
	}
	return nil
}

func (e *busEnd) ListenMessages(ctx context.Context, fn func(string, string)) error {
	e.bus.mu.Lock()
	e.bus.listeners[e] = fn
	e.bus.mu.Unlock()
	<-ctx.Done()
	e.bus.mu.Lock()
	delete(e.bus.listeners, e)
	e.bus.mu.Unlock()
	return ctx.Err()
}

func (e *busEnd) listening() bool {
	e.bus.mu.Lock()
	defer e.bus.mu.Unlock()
	return e.bus.listeners[e] != nil
}

// An agent's reply written on one replica reaches the stream the shopper
// holds open on another, through the bus.
func TestReplyReachesAStreamOnAnotherReplica(t *testing.T) {
	bus := &fakeBus{listeners: map[*busEnd]func(string, string){}}
	endA, endB := &busEnd{bus}, &busEnd{bus}
	a := newDeskEnv(t, func(_ *api.Config, d *api.Deps) { d.Bus = endA })
	b := replicaOf(t, a, func(d *api.Deps) { d.Bus = endB })
	first := a.chat(t, "C1001", "", "human please")
	a.agent(t, aliceKey, 200, "POST", "/v1/agent/tickets/"+first.TicketID+"/claim", "")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- b.srv.Serve(ctx, ln) }()
	defer func() { cancel(); <-served }()
	for deadline := time.Now().Add(10 * time.Second); !endB.listening(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("replica b never listened to the bus")
		}
	}

	sctx, stop := context.WithCancel(ctx)
	defer stop()
	req, _ := http.NewRequestWithContext(sctx, "GET", "http://"+ln.Addr().String()+"/v1/conversations/"+first.ConversationID+"/messages", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+widgetKey)
	req.Header.Set(api.HeaderCustomerToken, token(t, "C1001"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := make(chan []sseEvent, 1)
	backlogRead := make(chan struct{})
	go func() {
		n := 0
		got <- readSSE(t, resp.Body, func(ev sseEvent) bool {
			if ev.name == api.EventMessage {
				if n++; n == 2 {
					close(backlogRead)
				}
			}
			return strings.Contains(ev.data, `"role":"agent"`)
		})
	}()
	select {
	case <-backlogRead:
	case <-time.After(10 * time.Second):
		t.Fatal("the backlog did not arrive")
	}
	a.agent(t, aliceKey, 200, "POST", "/v1/agent/tickets/"+first.TicketID+"/reply", `{"message":"Alice here, on replica a"}`)
	select {
	case evs := <-got:
		last := evs[len(evs)-1]
		if !strings.Contains(last.data, "Alice here, on replica a") {
			t.Errorf("last event = %+v", last)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the reply written on replica a did not reach the stream on replica b")
	}
	stop()
}

// replicaOf is a second server on a's store, as replicas share PostgreSQL,
// with its own desk over that store; more sets what else it shares.
func replicaOf(t *testing.T, a *deskEnv, more func(*api.Deps)) *deskEnv {
	t.Helper()
	return newDeskEnv(t, func(_ *api.Config, d *api.Deps) {
		d.Conversations, d.Tickets, d.AuditLog = a.store, a.store, a.store
		desk, err := escalate.NewDesk(a.store, a.store, escalate.Config{})
		if err != nil {
			t.Fatal(err)
		}
		d.Handoff, d.Agents = desk, desk
		more(d)
	})
}
