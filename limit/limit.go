package limit

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultMaxKeys is how many keys a Buckets tracks when NewBuckets is given
// no bound.
const DefaultMaxKeys = 100_000

// overflowKey names the one bucket shared by every key that arrives while
// the table is full of busy keys.
const overflowKey = "\x00overflow"

// Buckets is a set of token buckets (golang.org/x/time/rate), one per key,
// each refilled at the same rate up to the same burst. A bucket that has
// been idle long enough to be full again is the same as a new one, so it
// is dropped; when the table still holds maxKeys busy buckets, every new
// key shares one overflow bucket, so memory stays bounded and the newcomers
// stay limited. The zero rate means no limit: Take always admits. Safe for
// concurrent use.
type Buckets struct {
	every rate.Limit
	burst int
	max   int
	full  time.Duration // how long an idle bucket takes to be full again

	mu        sync.Mutex
	m         map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// NewBuckets returns buckets refilled at perSecond tokens a second up to
// burst (at least 1), tracking at most maxKeys keys (DefaultMaxKeys when
// maxKeys <= 0). perSecond <= 0 turns the limit off.
func NewBuckets(perSecond float64, burst, maxKeys int) *Buckets {
	if burst < 1 {
		burst = 1
	}
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	b := &Buckets{every: rate.Limit(perSecond), burst: burst, max: maxKeys, m: map[string]*bucket{}}
	if perSecond > 0 {
		b.full = time.Duration(math.Ceil(float64(burst) / perSecond * float64(time.Second)))
	}
	return b
}

// Off reports whether the buckets admit everything.
func (b *Buckets) Off() bool { return b == nil || b.every <= 0 }

// Take takes one token from key's bucket at now. When the bucket is empty
// it takes nothing and returns false with the wait until a token is there
// (at least one second, for a Retry-After header).
func (b *Buckets) Take(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	if b.Off() {
		return true, 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.get(key, now)
	if e.lim.AllowN(now, 1) {
		return true, 0
	}
	return false, b.wait(e, now)
}

// Blocked reports, without taking anything, whether key's bucket is empty
// at now, and if so for how long.
func (b *Buckets) Blocked(key string, now time.Time) (blocked bool, retryAfter time.Duration) {
	if b.Off() {
		return false, 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.m[key]
	if !ok {
		if len(b.m) < b.max {
			return false, 0
		}
		if e, ok = b.m[overflowKey]; !ok {
			return false, 0
		}
	}
	if e.lim.TokensAt(now) >= 1 {
		return false, 0
	}
	return true, b.wait(e, now)
}

// Len returns how many buckets are held.
func (b *Buckets) Len() int {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.m)
}

func (b *Buckets) wait(e *bucket, now time.Time) time.Duration {
	missing := 1 - e.lim.TokensAt(now)
	d := time.Duration(math.Ceil(missing / float64(b.every) * float64(time.Second)))
	if d < time.Second {
		d = time.Second
	}
	return d.Round(time.Second)
}

// get returns key's bucket, making one; b.mu is held.
func (b *Buckets) get(key string, now time.Time) *bucket {
	if e, ok := b.m[key]; ok {
		e.seen = now
		return e
	}
	if len(b.m) >= b.max || now.Sub(b.lastSweep) > b.full+time.Minute {
		b.sweep(now)
	}
	if len(b.m) >= b.max {
		key = overflowKey
		if e, ok := b.m[key]; ok {
			e.seen = now
			return e
		}
	}
	e := &bucket{lim: rate.NewLimiter(b.every, b.burst), seen: now}
	b.m[key] = e
	return e
}

// sweep drops the buckets idle long enough to be full again. When the
// table is full it runs at most once a second, so that a flood of new keys
// costs one pass a second, not one a request.
func (b *Buckets) sweep(now time.Time) {
	if len(b.m) >= b.max && now.Sub(b.lastSweep) < time.Second {
		return
	}
	b.lastSweep = now
	for k, e := range b.m {
		if now.Sub(e.seen) >= b.full {
			delete(b.m, k)
		}
	}
}

// Slots counts long-lived requests (open streams) per key, up to max each.
// A key's count leaves the table when it drops to zero, so the table holds
// only keys with something open. max <= 0 means no cap. Safe for
// concurrent use.
type Slots struct {
	max int
	mu  sync.Mutex
	m   map[string]int
}

// NewSlots returns slots allowing max open requests per key.
func NewSlots(max int) *Slots { return &Slots{max: max, m: map[string]int{}} }

// Acquire takes a slot for key and returns the function that gives it back
// (call it once), or false when key already holds max slots.
func (s *Slots) Acquire(key string) (release func(), ok bool) {
	if s == nil || s.max <= 0 {
		return func() {}, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[key] >= s.max {
		return nil, false
	}
	s.m[key]++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.m[key]--; s.m[key] <= 0 {
				delete(s.m, key)
			}
		})
	}, true
}

// Open returns how many slots key holds.
func (s *Slots) Open(key string) int {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[key]
}
