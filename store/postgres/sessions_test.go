package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kefuhq/kefu/internal/pgtest"
	"github.com/kefuhq/kefu/store"
)

// Staff sessions started through one replica are read through another,
// expire by lifetime and idleness, end, and stay within their number.
func TestStaffSessions(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	ring := testRing(t)
	a, b := openOn(t, dsn, ring), openOn(t, dsn, ring)
	ctx := context.Background()
	const ttl, idle = 12 * time.Hour, 2 * time.Hour
	t0 := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	start := func(key string, at time.Time, max int) {
		t.Helper()
		if err := a.StartSession(ctx, key, store.StaffSession{Name: "alice", Role: "agent", CSRF: "csrf-" + key, Created: at, LastSeen: at}, max, ttl, idle); err != nil {
			t.Fatal(err)
		}
	}
	touch := func(key string, at time.Time) (store.StaffSession, bool) {
		t.Helper()
		s, ok, err := b.TouchSession(ctx, key, at, ttl, idle)
		if err != nil {
			t.Fatal(err)
		}
		return s, ok
	}
	start("k1", t0, 10)
	s, ok := touch("k1", t0.Add(time.Hour))
	if !ok || s.Name != "alice" || s.Role != "agent" || s.CSRF != "csrf-k1" || !s.Created.Equal(t0) || !s.LastSeen.Equal(t0.Add(time.Hour)) {
		t.Fatalf("session through the other replica = %+v, %v", s, ok)
	}
	// Used every 90 minutes it lives until its lifetime ends.
	for at := t0.Add(150 * time.Minute); at.Before(t0.Add(ttl)); at = at.Add(90 * time.Minute) {
		if _, ok := touch("k1", at); !ok {
			t.Fatalf("session lost at %v", at.Sub(t0))
		}
	}
	if _, ok := touch("k1", t0.Add(ttl)); ok {
		t.Error("session outlived its lifetime")
	}
	start("k2", t0, 10)
	if _, ok := touch("k2", t0.Add(idle)); ok {
		t.Error("session outlived its idle time")
	}
	start("k3", t0, 10)
	if err := b.EndSession(ctx, "k3"); err != nil {
		t.Fatal(err)
	}
	if _, ok := touch("k3", t0); ok {
		t.Error("an ended session is still live")
	}
	if _, ok := touch("unknown", t0); ok {
		t.Error("an unknown session is live")
	}
	// Beyond max, the least recently used go first.
	for i := range 5 {
		start(fmt.Sprintf("m%d", i), t0.Add(time.Duration(i)*time.Minute), 3)
	}
	var live []string
	for i := range 5 {
		if _, ok := touch(fmt.Sprintf("m%d", i), t0.Add(10*time.Minute)); ok {
			live = append(live, fmt.Sprintf("m%d", i))
		}
	}
	if fmt.Sprint(live) != "[m2 m3 m4]" {
		t.Errorf("live sessions after 5 starts with max 3: %v", live)
	}
	if err := a.StartSession(ctx, "", store.StaffSession{}, 3, ttl, idle); err == nil {
		t.Error("an empty key was accepted")
	}
}
