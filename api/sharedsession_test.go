package api_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/kefuhq/kefu/api"
	"github.com/kefuhq/kefu/store"
)

// memSessions is a SessionStore shared by the servers of one test, as
// replicas share PostgreSQL's.
type memSessions struct {
	mu sync.Mutex
	m  map[string]store.StaffSession
}

func (m *memSessions) StartSession(_ context.Context, key string, s store.StaffSession, _ int, _, _ time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.m[key] = s
	return nil
}

func (m *memSessions) TouchSession(_ context.Context, key string, now time.Time, ttl, idle time.Duration) (store.StaffSession, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.m[key]
	if !ok || now.Sub(s.Created) >= ttl || now.Sub(s.LastSeen) >= idle {
		return store.StaffSession{}, false, nil
	}
	s.LastSeen = now
	m.m[key] = s
	return s, true, nil
}

func (m *memSessions) EndSession(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.m, key)
	return nil
}

// An agent signed in through one replica works the desk through another,
// and signing out on the second ends the session on both; the shared store
// never holds the id the browser holds.
func TestSessionSharedByReplicas(t *testing.T) {
	shared := &memSessions{m: map[string]store.StaffSession{}}
	a := newDeskEnv(t, func(_ *api.Config, d *api.Deps) { d.Sessions = shared })
	b := replicaOf(t, a, func(d *api.Deps) { d.Sessions = shared })
	first := a.chat(t, "C1001", "", "I want to talk to a human")
	s, rec := a.signIn(t, aliceKey)
	if rec.Code != http.StatusOK {
		t.Fatalf("sign-in on a: %d %s", rec.Code, rec.Body)
	}
	shared.mu.Lock()
	_, raw := shared.m[s.cookie.Value]
	n := len(shared.m)
	shared.mu.Unlock()
	if raw || n != 1 {
		t.Fatalf("the shared store holds %d sessions, keyed by the browser's id: %v", n, raw)
	}
	if r := b.send(t, s, "GET", "/v1/session", ""); r.Code != http.StatusOK {
		t.Fatalf("session on b: %d %s", r.Code, r.Body)
	}
	if r := b.send(t, s, "POST", "/v1/agent/tickets/"+first.TicketID+"/claim", "", s.write()...); r.Code != http.StatusOK {
		t.Fatalf("claim on b through a's session: %d %s", r.Code, r.Body)
	}
	if r := b.send(t, s, "DELETE", "/v1/session", "", s.write()...); r.Code != http.StatusNoContent {
		t.Fatalf("sign-out on b: %d %s", r.Code, r.Body)
	}
	if r := a.send(t, s, "GET", "/v1/agent/tickets", ""); r.Code != http.StatusUnauthorized {
		t.Errorf("a still admits the session ended on b: %d", r.Code)
	}
}
