package api_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/api"
	"github.com/kefuhq/kefu/auth"
)

// BenchmarkChatTurnLimits is one JSON chat turn (widget key, shopper
// token, a fake answerer) through the whole handler with the limits off
// and on, from 1,000 addresses and 1,000 shoppers in turn; the rates are
// high enough that nothing is refused, so the difference is the cost of
// the checks. It reports the p99 of a turn besides the mean.
func BenchmarkChatTurnLimits(b *testing.B) {
	off := api.Limits{AddressRate: -1, KeyRate: -1, ShopperRate: -1, AuthFailRate: -1, StreamsPerKey: -1, StreamsPerShopper: -1, StreamsPerAddress: -1, TicketsPerHour: -1}
	on := api.Limits{AddressRate: 1e9, AddressBurst: 1e9, KeyRate: 1e9, KeyBurst: 1e9, ShopperRate: 1e9, ShopperBurst: 1e9}
	for _, tc := range []struct {
		name   string
		limits api.Limits
	}{{"off", off}, {"on", on}} {
		b.Run(tc.name, func(b *testing.B) {
			keys, err := auth.NewKeys([]auth.KeyConfig{{Name: "web", Role: auth.RoleWidget, Key: widgetKey}})
			if err != nil {
				b.Fatal(err)
			}
			e := newEnv(&testing.T{}, func(c *api.Config, d *api.Deps) {
				c.Limits, d.Keys, d.Logger = tc.limits, keys, slog.New(slog.DiscardHandler)
			})
			h := e.srv.Handler()
			const n = 1000
			tokens := make([]string, n)
			for i := range tokens {
				tokens[i], _ = auth.Mint(tokenSecret, fmt.Sprintf("C%04d", i), time.Hour, time.Now())
			}
			var took []time.Duration
			i := 0
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/v1/chat", strings.NewReader(`{"message":"Can I return opened headphones?"}`))
				req.RemoteAddr = fmt.Sprintf("10.%d.%d.1:40000", i%n/250, i%250)
				req.Header.Set("Authorization", "Bearer "+widgetKey)
				req.Header.Set(api.HeaderCustomerToken, tokens[i%n])
				rec := httptest.NewRecorder()
				start := time.Now()
				h.ServeHTTP(rec, req)
				took = append(took, time.Since(start))
				if rec.Code != http.StatusOK {
					b.Fatalf("turn %d: %d %s", i, rec.Code, rec.Body)
				}
				i++
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
		})
	}
}

// BenchmarkAddressLimit is the cheapest request (/healthz) with the
// address limit off and on, over 100,000 addresses: the difference is one
// bucket look-up and take in a table of that size.
func BenchmarkAddressLimit(b *testing.B) {
	for _, tc := range []struct {
		name string
		rate float64
	}{{"off", -1}, {"on", 1e9}} {
		b.Run(tc.name, func(b *testing.B) {
			e := newEnv(&testing.T{}, func(c *api.Config, d *api.Deps) {
				c.Limits, d.Logger = api.Limits{AddressRate: tc.rate, AddressBurst: 1e9}, slog.New(slog.DiscardHandler)
			})
			h := e.srv.Handler()
			i := 0
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
				req.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:40000", i/65536%256, i/256%256, i%256)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				i = (i + 1) % 100_000
			}
		})
	}
}
