package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/api"
)

// A --conversations run: each client holds one conversation and sends
// keyed turns, retrying a failed one on the next server with the same key,
// as a shop's widget does when a replica dies under it. At the end every
// conversation is read back and each turn checked: stored once, answered
// once.

const (
	maxBenchURLs    = 16
	maxBenchRetries = 10
	// benchReadTimeout bounds reading one conversation back.
	benchReadTimeout = 30 * time.Second
)

// conversationReport is what reading the conversations back found.
// Answered turns got an OK reply on some attempt; Unanswered got none
// after every retry. Lost turns were answered but their message or its
// answer is not stored; Duplicated ones are stored, or answered, more than
// once.
type conversationReport struct {
	Servers       int `json:"servers"`
	Conversations int `json:"conversations"`
	Turns         int `json:"turns"`
	Answered      int `json:"answered"`
	Retried       int `json:"retried"` // turns that needed more than one attempt
	Unanswered    int `json:"unanswered"`
	Lost          int `json:"lost"`
	Duplicated    int `json:"duplicated"`
	Unreadable    int `json:"unreadable"` // conversations no server would list
}

// benchTurn is one turn a client sent.
type benchTurn struct {
	text     string
	answered bool
	attempts int
}

type benchClient struct {
	conversationID string
	turns          []benchTurn
	results        []benchResult
}

func runConversations(ctx context.Context, cfg benchConfig) (benchReport, error) {
	if _, err := cfg.endpoint(); err != nil {
		return benchReport{}, err
	}
	endpoints, err := cfg.endpoints()
	if err != nil {
		return benchReport{}, err
	}
	workers := min(cfg.Concurrency, cfg.Requests)
	transport := &http.Transport{MaxIdleConns: workers * len(endpoints), MaxIdleConnsPerHost: workers, IdleConnTimeout: 30 * time.Second}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport}
	run := strings.ToLower(rand.Text()[:8])

	var next atomic.Int64
	clients := make([]benchClient, workers)
	start := time.Now()
	stop := start.Add(cfg.Duration)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			if cfg.Ramp > 0 {
				t := time.NewTimer(cfg.Ramp * time.Duration(w) / time.Duration(workers))
				defer t.Stop()
				select {
				case <-t.C:
				case <-ctx.Done():
					return
				}
			}
			c := &clients[w]
			for t := 0; ctx.Err() == nil && time.Now().Before(stop) && next.Add(1) <= int64(cfg.Requests); t++ {
				turn := benchTurn{text: fmt.Sprintf("%s [%s w%d t%d]", cfg.Message, run, w, t)}
				key := fmt.Sprintf("bench-%s-w%d-t%d", run, w, t)
				for a := 0; a <= cfg.Retries && ctx.Err() == nil; a++ {
					body, err := json.Marshal(api.ChatRequest{ConversationID: c.conversationID, Message: turn.text, Channel: "bench", ClientMessageID: key})
					if err != nil {
						return
					}
					turn.attempts++
					r := benchOne(ctx, client, endpoints[(w+t+a)%len(endpoints)], body, cfg)
					c.results = append(c.results, r)
					if r.ok() {
						turn.answered = true
						if c.conversationID == "" {
							c.conversationID = r.conversationID
						}
						break
					}
				}
				c.turns = append(c.turns, turn)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	var results []benchResult
	for _, c := range clients {
		results = append(results, c.results...)
	}
	rep := summarize(results, elapsed, cfg.SSE)
	rep.URL, rep.Concurrency = strings.Join(endpoints, ", "), workers
	conv := &conversationReport{Servers: len(endpoints)}
	for i := range clients {
		checkConversation(ctx, client, endpoints, cfg, &clients[i], conv)
	}
	rep.Conversations = conv
	return rep, nil
}

// checkConversation reads one client's conversation back from the first
// server that answers and counts its turns into rep.
func checkConversation(ctx context.Context, client *http.Client, endpoints []string, cfg benchConfig, c *benchClient, rep *conversationReport) {
	for _, t := range c.turns {
		rep.Turns++
		if t.attempts > 1 {
			rep.Retried++
		}
		if t.answered {
			rep.Answered++
		} else {
			rep.Unanswered++
		}
	}
	if len(c.turns) == 0 {
		return
	}
	rep.Conversations++
	if c.conversationID == "" {
		rep.Unreadable++
		return
	}
	var msgs []api.ConversationMessage
	read := false
	for _, ep := range endpoints {
		if m, err := readConversation(ctx, client, ep, cfg, c.conversationID); err == nil {
			msgs, read = m, true
			break
		}
	}
	if !read {
		rep.Unreadable++
		return
	}
	stored := map[string]int{}  // user message text -> times stored
	answers := map[string]int{} // user message text -> answers after it
	last := ""
	for _, m := range msgs {
		switch m.Role {
		case kefu.RoleUser:
			stored[m.Content]++
			last = m.Content
		case kefu.RoleAssistant:
			if last != "" {
				answers[last]++
			}
		}
	}
	for _, t := range c.turns {
		switch {
		case stored[t.text] > 1 || answers[t.text] > 1:
			rep.Duplicated++
		case t.answered && (stored[t.text] == 0 || answers[t.text] == 0):
			rep.Lost++
		}
	}
}

// readConversation lists a conversation's messages through endpoint's
// server.
func readConversation(ctx context.Context, client *http.Client, endpoint string, cfg benchConfig, id string) ([]api.ConversationMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, benchReadTimeout)
	defer cancel()
	base := strings.TrimSuffix(endpoint, "/v1/chat")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/conversations/"+id+"/messages", nil)
	if err != nil {
		return nil, err
	}
	if cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+cfg.APIKey)
	}
	if cfg.Token != "" {
		req.Header.Set(api.HeaderCustomerToken, cfg.Token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	var out api.MessagesResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&out); err != nil {
		return nil, err
	}
	return slices.Clip(out.Messages), nil
}
