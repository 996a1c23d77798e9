package api_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kefuhq/kefu/api"
)

// countingLimiter is a shared limiter that admits n takes of each
// shopper's bucket in all, and every take of the others.
type countingLimiter struct {
	mu   sync.Mutex
	n    int
	seen map[string]int
	err  error
}

func (l *countingLimiter) TakeToken(_ context.Context, key string, _ float64, _ int) (bool, time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return false, 0, l.err
	}
	l.seen[key]++
	return !strings.HasPrefix(key, "shopper:") || l.seen[key] <= l.n, 7 * time.Second, nil
}

// A shopper's turns spread over two replicas draw on one shared limit.
func TestSharedShopperLimit(t *testing.T) {
	shared := &countingLimiter{n: 3, seen: map[string]int{}}
	opt := func(_ *api.Config, d *api.Deps) { d.SharedLimits = shared }
	replicas := []*deskEnv{newDeskEnv(t, opt), newDeskEnv(t, opt)}
	codes := []int{}
	var retry string
	for i := range 4 {
		rec := replicas[i%2].do(t, http.MethodPost, "/v1/chat", chatBody(t, api.ChatRequest{Message: "where is my parcel"}),
			append(bearer(widgetKey), api.HeaderCustomerToken, token(t, "C1001"))...)
		codes = append(codes, rec.Code)
		retry = rec.Header().Get("Retry-After")
	}
	if want := []int{200, 200, 200, 429}; !slices.Equal(codes, want) {
		t.Errorf("codes = %v, want %v", codes, want)
	}
	if retry != "7" {
		t.Errorf("Retry-After = %q, want the shared limit's 7", retry)
	}
	if shared.seen["shopper:C1001"] != 4 || shared.seen["key:web"] != 4 {
		t.Errorf("shared buckets taken: %v", shared.seen)
	}

	// A shared limiter that fails leaves each replica's own limits.
	shared.err = errors.New("database away")
	rec := replicas[0].do(t, http.MethodPost, "/v1/chat", chatBody(t, api.ChatRequest{Message: "where is my parcel"}),
		append(bearer(widgetKey), api.HeaderCustomerToken, token(t, "C1001"))...)
	if rec.Code != 200 {
		t.Errorf("with the shared limiter failing: %d %s", rec.Code, rec.Body)
	}
}
