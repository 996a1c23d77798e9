package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/api"
)

// Bounds of a load run, so that a typo cannot turn kefu bench into a flood.
const (
	maxBenchConcurrency = 1000
	maxBenchRequests    = 100_000
	maxBenchDuration    = time.Hour
	maxBenchTimeout     = 10 * time.Minute
	// maxBenchErrors is how many distinct error messages a report keeps.
	maxBenchErrors = 5
)

// benchConfig is what kefu bench sends, to where, and how much of it.
type benchConfig struct {
	URL         string
	URLs        []string // every server, for replicas; URL is the first
	Concurrency int
	Requests    int
	Duration    time.Duration
	Ramp        time.Duration // client w starts after w/Concurrency of it
	Timeout     time.Duration
	SSE         bool
	Message     string
	Token       string
	APIKey      string
	AllowRemote bool
	// Conversations makes each client hold one conversation, each turn
	// a keyed message (client_message_id) retried up to Retries times on
	// the next server when it fails, and checks the stored conversations
	// at the end.
	Conversations bool
	Retries       int
}

func benchCmd(g *globals) *cobra.Command {
	cfg := benchConfig{}
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "bench --url http://127.0.0.1:8080 [--concurrency 100] [--requests 2000] [--duration 60s] [--ramp 2s] [--sse] [--json]",
		Short: "Load a running kefu server with chat turns; report throughput, latency and stream integrity",
		Long: `Load a running kefu server with POST /v1/chat requests, from --concurrency clients at once, until
--requests have been sent or --duration has passed (requests in flight then finish, each within --timeout).
With --ramp the clients start one after another over that time instead of all at once, so that turns
of the same length do not keep arriving together. It reports the throughput (answers per second), the latency percentiles and the failures. With --sse each
turn is streamed and checked: the time to the first delta, the gaps between events, and the streams that
were dropped (no done event), reordered (events out of their documented order), mismatched (deltas that
do not add up to the done event's answer) or failed (an error event). Exit status 1 if any request failed.

Only a server on this machine (localhost, 127.0.0.1, ::1) is loaded unless --allow-remote is given.
Every turn starts a conversation on channel "bench" in the server's store.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(cfg.URLs) > 0 {
				cfg.URL = cfg.URLs[0]
			}
			rep, err := runBench(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				rep.write(g.stdout)
			}
			if c := rep.Conversations; c != nil {
				if bad := c.Lost + c.Duplicated + c.Unanswered; bad > 0 || c.Unreadable > 0 {
					return exitError{fmt.Sprintf("%d turns lost, %d duplicated, %d unanswered, %d conversations unreadable", c.Lost, c.Duplicated, c.Unanswered, c.Unreadable)}
				}
				return nil
			}
			if failed := rep.Requests - rep.OK; failed > 0 {
				return exitError{fmt.Sprintf("%d of %d requests failed", failed, rep.Requests)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&cfg.URLs, "url", []string{"http://127.0.0.1:8080"}, "base URL of the kefu server; repeat it (or separate with commas) for replicas, which get the turns in turn")
	f.BoolVar(&cfg.Conversations, "conversations", false, "each client holds one conversation and keys its messages; at the end every conversation is read back and checked for lost, duplicated and unanswered turns")
	f.IntVar(&cfg.Retries, "retries", 0, fmt.Sprintf("with --conversations, retry a failed turn this many times on the next --url, with the same key (at most %d)", maxBenchRetries))
	f.IntVar(&cfg.Concurrency, "concurrency", 100, fmt.Sprintf("requests in flight at once (at most %d)", maxBenchConcurrency))
	f.IntVar(&cfg.Requests, "requests", 2000, fmt.Sprintf("requests to send (at most %d)", maxBenchRequests))
	f.DurationVar(&cfg.Duration, "duration", 60*time.Second, "stop sending after this long (at most 1h)")
	f.DurationVar(&cfg.Ramp, "ramp", 0, "start the clients one after another, evenly over this long, so that their turns do not arrive in step (0: all at once)")
	f.DurationVar(&cfg.Timeout, "timeout", 30*time.Second, "give up on one request after this long")
	f.BoolVar(&cfg.SSE, "sse", false, "stream each answer as server-sent events and check the streams")
	f.StringVar(&cfg.Message, "message", "How long do I have to return an item?", "the shopper's message")
	f.StringVar(&cfg.Token, "token", "", "shopper token sent in "+api.HeaderCustomerToken+" (see kefu token)")
	f.StringVar(&cfg.APIKey, "api-key", "", "API key sent as Authorization: Bearer, when the server has keys")
	f.BoolVar(&cfg.AllowRemote, "allow-remote", false, "allow a server that is not on this machine")
	f.BoolVar(&asJSON, "json", false, "print the report as one JSON object")
	return cmd
}

// endpoint checks the configuration and returns the chat URL to load.
func (c benchConfig) endpoint() (string, error) {
	switch {
	case c.Concurrency < 1 || c.Concurrency > maxBenchConcurrency:
		return "", kefu.Errorf(kefu.EInvalid, "--concurrency %d is not from 1 to %d", c.Concurrency, maxBenchConcurrency)
	case c.Requests < 1 || c.Requests > maxBenchRequests:
		return "", kefu.Errorf(kefu.EInvalid, "--requests %d is not from 1 to %d", c.Requests, maxBenchRequests)
	case c.Duration <= 0 || c.Duration > maxBenchDuration:
		return "", kefu.Errorf(kefu.EInvalid, "--duration %s is not more than 0 and at most %s", c.Duration, maxBenchDuration)
	case c.Ramp < 0 || c.Ramp >= c.Duration:
		return "", kefu.Errorf(kefu.EInvalid, "--ramp %s is not from 0 to less than --duration %s", c.Ramp, c.Duration)
	case c.Timeout <= 0 || c.Timeout > maxBenchTimeout:
		return "", kefu.Errorf(kefu.EInvalid, "--timeout %s is not more than 0 and at most %s", c.Timeout, maxBenchTimeout)
	case strings.TrimSpace(c.Message) == "":
		return "", kefu.Errorf(kefu.EInvalid, "--message is empty")
	case len(c.URLs) > maxBenchURLs:
		return "", kefu.Errorf(kefu.EInvalid, "%d --url values; at most %d", len(c.URLs), maxBenchURLs)
	case c.Retries < 0 || c.Retries > maxBenchRetries:
		return "", kefu.Errorf(kefu.EInvalid, "--retries %d is not from 0 to %d", c.Retries, maxBenchRetries)
	case c.Retries > 0 && !c.Conversations:
		return "", kefu.Errorf(kefu.EInvalid, "--retries needs --conversations (a retried turn must carry its key)")
	}
	return chatURL(c.URL, c.AllowRemote)
}

// endpoints are the chat URLs of every --url.
func (c benchConfig) endpoints() ([]string, error) {
	urls := c.URLs
	if len(urls) == 0 {
		urls = []string{c.URL}
	}
	var out []string
	for _, raw := range urls {
		u, err := chatURL(raw, c.AllowRemote)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// chatURL checks a server's base URL and returns its chat URL.
func chatURL(raw string, allowRemote bool) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", kefu.Errorf(kefu.EInvalid, "--url %q is not an http(s) URL such as http://127.0.0.1:8080", raw)
	}
	if !allowRemote && !loopback(u.Hostname()) {
		return "", kefu.Errorf(kefu.EInvalid,
			"--url %s is not on this machine; kefu bench loads only a local server (localhost, 127.0.0.1, ::1) unless --allow-remote is given", u.Host)
	}
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/v1/chat") + "/v1/chat"
	u.RawPath, u.RawQuery, u.Fragment, u.User = "", "", "", nil
	return u.String(), nil
}

// loopback reports whether host names this machine: "localhost" or a
// loopback address. Other names are not resolved, so that DNS cannot
// point a load run elsewhere.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// benchReport is what a load run measured. Throughput counts the turns
// answered OK per second of the run; latencies are in milliseconds, from
// sending the request to the end of the reply.
type benchReport struct {
	URL         string         `json:"url"`
	Mode        string         `json:"mode"` // "json" or "sse"
	Concurrency int            `json:"concurrency"`
	Requests    int            `json:"requests"`
	OK          int            `json:"ok"`
	Failed      int            `json:"failed"`
	ElapsedS    float64        `json:"elapsed_s"`
	Throughput  float64        `json:"throughput_rps"`
	LatencyMS   percentiles    `json:"latency_ms"`
	Statuses    map[string]int `json:"statuses"` // by HTTP status; "error" when no reply came
	Errors      []string       `json:"errors,omitempty"`
	Streams     *streamReport  `json:"streams,omitempty"`
	// Conversations is the check of the stored conversations of a
	// --conversations run.
	Conversations *conversationReport `json:"conversations,omitempty"`
}

// streamReport checks the streams of an --sse run. A stream may count
// under more than one problem.
type streamReport struct {
	FirstDeltaMS percentiles `json:"first_delta_ms"` // request sent to first delta event
	EventGapMS   percentiles `json:"event_gap_ms"`   // between consecutive events of a stream
	Complete     int         `json:"complete"`       // in order, ended by done, deltas add up
	Dropped      int         `json:"dropped"`        // ended without a done or error event
	Reordered    int         `json:"reordered"`      // an event out of the documented order
	Mismatched   int         `json:"mismatched"`     // deltas do not add up to done's answer
	Failed       int         `json:"failed"`         // ended by an error event
}

type percentiles struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// benchResult is one request's outcome.
type benchResult struct {
	latency    time.Duration
	status     int // 0 when no reply came
	err        string
	firstDelta time.Duration // 0 when no delta came
	gaps       []time.Duration
	stream     streamCheck
	// conversationID is the conversation the reply names.
	conversationID string
}

func (r benchResult) ok() bool { return r.err == "" }

// runBench runs the load described by cfg until it is done, its time is
// up or ctx ends.
func runBench(ctx context.Context, cfg benchConfig) (benchReport, error) {
	endpoint, err := cfg.endpoint()
	if err != nil {
		return benchReport{}, err
	}
	body, err := json.Marshal(api.ChatRequest{Message: cfg.Message, Channel: "bench"})
	if err != nil {
		return benchReport{}, err
	}
	if cfg.Conversations {
		return runConversations(ctx, cfg)
	}
	workers := min(cfg.Concurrency, cfg.Requests)
	transport := &http.Transport{MaxIdleConns: workers, MaxIdleConnsPerHost: workers, IdleConnTimeout: 30 * time.Second}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport}

	var next atomic.Int64
	results := make([][]benchResult, workers) // one slice per worker: no locking
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
			for ctx.Err() == nil && time.Now().Before(stop) && next.Add(1) <= int64(cfg.Requests) {
				results[w] = append(results[w], benchOne(ctx, client, endpoint, body, cfg))
			}
		})
	}
	wg.Wait()
	rep := summarize(slices.Concat(results...), time.Since(start), cfg.SSE)
	rep.URL, rep.Concurrency = endpoint, workers
	return rep, nil
}

// benchOne sends one chat turn and checks its reply.
func benchOne(ctx context.Context, client *http.Client, endpoint string, body []byte, cfg benchConfig) (r benchResult) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		r.err = err.Error()
		return r
	}
	req.Header.Set("Content-Type", "application/json")
	if cfg.SSE {
		req.Header.Set("Accept", "text/event-stream")
	}
	if cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+cfg.APIKey)
	}
	if cfg.Token != "" {
		req.Header.Set(api.HeaderCustomerToken, cfg.Token)
	}
	start := time.Now()
	defer func() { r.latency = time.Since(start) }()
	resp, err := client.Do(req)
	if err != nil {
		r.err = err.Error()
		return r
	}
	defer resp.Body.Close()
	r.status = resp.StatusCode
	if resp.StatusCode != http.StatusOK {
		var e api.ErrorResponse
		_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&e)
		r.err = fmt.Sprintf("status %d %s", resp.StatusCode, e.Error.Code)
		return r
	}
	if !cfg.SSE {
		var cr api.ChatResponse
		if err := json.NewDecoder(resp.Body).Decode(&cr); err != nil {
			r.err = "read the reply: " + err.Error()
		}
		r.conversationID = cr.ConversationID
		return r
	}
	r.stream.read(resp.Body, start, &r)
	r.conversationID = r.stream.conversationID
	if why := r.stream.problem(); why != "" {
		r.err = why
	}
	return r
}

// streamCheck follows a chat stream's events against their documented
// order: one meta, deltas, one citations, at most one escalation, then done
// (or error).
type streamCheck struct {
	stage      int    // 0 before meta, 1 deltas, 2 after citations, 3 after escalation, 4 ended
	deltas     []byte // the deltas' text so far; not a strings.Builder, which must not be copied
	ended      bool
	failed     bool
	reordered  bool
	mismatched bool
	readErr    string
	// conversationID is what the done event names.
	conversationID string
}

const (
	stageStart = iota
	stageDeltas
	stageCitations
	stageEscalation
	stageEnded
)

// read consumes the stream, timing its events from start into r.
func (s *streamCheck) read(body io.Reader, start time.Time, r *benchResult) {
	br := bufio.NewReaderSize(body, 64<<10)
	var name string
	var data strings.Builder
	last := time.Time{}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if err != io.EOF {
				s.readErr = err.Error()
			}
			return
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			if name == "" {
				continue
			}
			now := time.Now()
			if !last.IsZero() {
				r.gaps = append(r.gaps, now.Sub(last))
			}
			last = now
			if name == api.EventDelta && r.firstDelta == 0 {
				r.firstDelta = now.Sub(start)
			}
			s.event(name, data.String())
			name = ""
			data.Reset()
		case strings.HasPrefix(line, ":"): // a keep-alive comment
		case strings.HasPrefix(line, "event:"):
			name = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data.WriteString(strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		}
	}
}

func (s *streamCheck) event(name, data string) {
	if s.stage == stageEnded {
		s.reordered = true // anything after the end
		return
	}
	switch name {
	case api.EventMeta:
		s.order(s.stage == stageStart, stageDeltas)
	case api.EventDelta:
		s.order(s.stage == stageDeltas, s.stage)
		var d api.StreamDelta
		if json.Unmarshal([]byte(data), &d) != nil {
			s.mismatched = true
		}
		s.deltas = append(s.deltas, d.Text...)
	case api.EventCitations:
		s.order(s.stage == stageDeltas, stageCitations)
	case api.EventEscalation:
		s.order(s.stage == stageCitations, stageEscalation)
	case api.EventDone:
		s.order(s.stage != stageStart, stageEnded)
		s.ended = true
		var done api.ChatResponse
		if json.Unmarshal([]byte(data), &done) != nil || done.Answer != string(s.deltas) {
			s.mismatched = true
		}
		s.conversationID = done.ConversationID
	case api.EventError:
		s.stage = stageEnded
		s.ended, s.failed = true, true
	}
}

// order notes an event that is in order only when ok, and moves to stage.
func (s *streamCheck) order(ok bool, stage int) {
	if !ok {
		s.reordered = true
	}
	s.stage = max(s.stage, stage)
}

// problem says what was wrong with the stream, "" for nothing.
func (s *streamCheck) problem() string {
	var why []string
	if s.failed {
		why = append(why, "error event")
	}
	if !s.ended {
		msg := "dropped: no done event"
		if s.readErr != "" {
			msg += " (" + s.readErr + ")"
		}
		why = append(why, msg)
	}
	if s.reordered {
		why = append(why, "events out of order")
	}
	if s.mismatched {
		why = append(why, "deltas do not add up to the answer")
	}
	return strings.Join(why, "; ")
}

// summarize turns the results of a run of length elapsed into a report.
func summarize(results []benchResult, elapsed time.Duration, sse bool) benchReport {
	rep := benchReport{Mode: "json", Requests: len(results), ElapsedS: round(elapsed.Seconds()), Statuses: map[string]int{}}
	var latencies, firstDeltas, gaps []time.Duration
	errCounts := map[string]int{}
	var errOrder []string
	if sse {
		rep.Mode = "sse"
		rep.Streams = &streamReport{}
	}
	for _, r := range results {
		latencies = append(latencies, r.latency)
		status := "error"
		if r.status != 0 {
			status = strconv.Itoa(r.status)
		}
		rep.Statuses[status]++
		if r.ok() {
			rep.OK++
		} else {
			if errCounts[r.err] == 0 {
				errOrder = append(errOrder, r.err)
			}
			errCounts[r.err]++
		}
		if !sse || r.status != http.StatusOK {
			continue
		}
		st := rep.Streams
		if r.firstDelta > 0 {
			firstDeltas = append(firstDeltas, r.firstDelta)
		}
		gaps = append(gaps, r.gaps...)
		s := r.stream
		switch {
		case s.problem() == "":
			st.Complete++
		default:
			if !s.ended {
				st.Dropped++
			}
			if s.reordered {
				st.Reordered++
			}
			if s.mismatched {
				st.Mismatched++
			}
			if s.failed {
				st.Failed++
			}
		}
	}
	rep.Failed = rep.Requests - rep.OK
	if elapsed > 0 {
		rep.Throughput = round(float64(rep.OK) / elapsed.Seconds())
	}
	rep.LatencyMS = percentilesOf(latencies)
	if sse {
		rep.Streams.FirstDeltaMS = percentilesOf(firstDeltas)
		rep.Streams.EventGapMS = percentilesOf(gaps)
	}
	slices.SortStableFunc(errOrder, func(a, b string) int { return errCounts[b] - errCounts[a] })
	for _, e := range errOrder[:min(len(errOrder), maxBenchErrors)] {
		rep.Errors = append(rep.Errors, fmt.Sprintf("%s (%d)", e, errCounts[e]))
	}
	return rep
}

// percentilesOf gives the nearest-rank percentiles of ds, in milliseconds.
func percentilesOf(ds []time.Duration) percentiles {
	if len(ds) == 0 {
		return percentiles{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return ms(s[max(i, 0)])
	}
	return percentiles{N: len(s), P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: ms(s[len(s)-1])}
}

func ms(d time.Duration) float64 { return round(float64(d) / float64(time.Millisecond)) }

func round(v float64) float64 { return math.Round(v*100) / 100 }

// write prints the report for a person.
func (r benchReport) write(w io.Writer) {
	fmt.Fprintf(w, "kefu bench: POST %s (%s), concurrency %d\n", r.URL, r.Mode, r.Concurrency)
	statuses := make([]string, 0, len(r.Statuses))
	for _, k := range slices.Sorted(maps.Keys(r.Statuses)) {
		statuses = append(statuses, fmt.Sprintf("%s: %d", k, r.Statuses[k]))
	}
	fmt.Fprintf(w, "requests     %d in %.2fs: %d ok, %d failed (status %s)\n", r.Requests, r.ElapsedS, r.OK, r.Failed, strings.Join(statuses, ", "))
	fmt.Fprintf(w, "throughput   %.1f answers/s\n", r.Throughput)
	fmt.Fprintf(w, "latency      %s\n", r.LatencyMS)
	if c := r.Conversations; c != nil {
		fmt.Fprintf(w, "turns        %d in %d conversations over %d servers: %d answered, %d retried, %d unanswered; stored: %d lost, %d duplicated, %d unreadable conversations\n",
			c.Turns, c.Conversations, c.Servers, c.Answered, c.Retried, c.Unanswered, c.Lost, c.Duplicated, c.Unreadable)
	}
	if s := r.Streams; s != nil {
		fmt.Fprintf(w, "first delta  %s\n", s.FirstDeltaMS)
		fmt.Fprintf(w, "event gaps   p50 %.2f ms  p99 %.2f ms  max %.2f ms\n", s.EventGapMS.P50, s.EventGapMS.P99, s.EventGapMS.Max)
		fmt.Fprintf(w, "streams      %d complete, %d dropped, %d reordered, %d mismatched, %d failed\n",
			s.Complete, s.Dropped, s.Reordered, s.Mismatched, s.Failed)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "error        %s\n", e)
	}
}

func (p percentiles) String() string {
	return fmt.Sprintf("p50 %.2f ms  p95 %.2f ms  p99 %.2f ms  max %.2f ms", p.P50, p.P95, p.P99, p.Max)
}
