package rag

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"iter"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/guard"
	"github.com/kefuhq/kefu/prompts"
	"github.com/kefuhq/kefu/rules"
	"github.com/kefuhq/kefu/telemetry"
	"github.com/kefuhq/kefu/tokenize"
	"github.com/kefuhq/kefu/tokens"
)

// Searcher runs a hybrid search over the shop's chunks. Implementations
// apply q.Filter, the customer rule above all, inside the store.
type Searcher interface {
	Search(ctx context.Context, q kefu.Query) ([]kefu.Hit, error)
}

// Embedder embeds texts, one vector per text, in order.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// Generator writes an answer from a request's question and numbered
// context, streaming it as text pieces. A non-nil error ends the stream.
type Generator interface {
	Generate(ctx context.Context, req kefu.GenerateRequest) iter.Seq2[string, error]
}

// Shop is what the fixed replies say about the shop, per locale.
type Shop struct {
	Name  map[string]string // locale -> shop name
	Hours map[string]string // locale -> human service hours
}

type options struct {
	model        Generator // a language model for the small tasks around an answer
	promptBudget int
	now          func() time.Time
	refuse       []string // extra out-of-scope cues of this shop
	topK         int
	contextK     int
	minLexical   float64
	minDense     float64
	backend      string
	shop         Shop
	orders       OrderLookup    // nil: orders are read from the store
	actions      *actionOptions // nil: no after-sales actions
	rules        RuleBook       // nil: no eligibility is computed
	rerank       Reranker       // nil: the store's order stands
	rerankBar    float64        // with a reranker that judges answers: the probability that counts as answering; 0 keeps minLexical and minDense
	strongBar    float64        // with a reranker that judges answers: the probability that outweighs an out-of-scope verdict; 0: never
}

// Option tunes a Pipeline.
type Option func(*options)

// WithTopK sets how many hits retrieval returns (default 10).
func WithTopK(k int) Option { return func(o *options) { o.topK = k } }

// WithContextK sets how many of the best hits the generator sees (default 4).
func WithContextK(k int) Option { return func(o *options) { o.contextK = k } }

// WithRelevance sets the bar below which retrieval counts as having found
// nothing: the best hit must reach minLexical (share of the query's IDF
// mass it contains) or minDense (cosine). Defaults 0.45 and 0.45.
func WithRelevance(minLexical, minDense float64) Option {
	return func(o *options) { o.minLexical, o.minDense = minLexical, minDense }
}

// WithBackend names the generator in events (default "extractive").
func WithBackend(name string) Option { return func(o *options) { o.backend = name } }

// WithRefuseTopics adds cues (words or phrases, English or Chinese) for
// topics this shop declines on top of the built-in ones: a shop that does
// not sell pet food can list "dog food", "猫粮".
func WithRefuseTopics(cues ...string) Option {
	return func(o *options) {
		for _, c := range cues {
			if c = strings.TrimSpace(strings.ToLower(c)); c != "" {
				o.refuse = append(o.refuse, c)
			}
		}
	}
}

// WithHelperModel gives the pipeline a language model for the small tasks
// around an answer, each with its versioned prompt and a time limit
// (helperTimeout): rewriting a follow-up ("what about the blue one?") into a
// standalone query, labelling a message no cue classified, and summing up
// the older part of a long conversation. Without it, or when it fails, is
// slow or answers off the point, the built-in heuristics do these.
func WithHelperModel(g Generator) Option { return func(o *options) { o.model = g } }

// WithPromptBudget sets how many tokens (cl100k) a model prompt may take:
// system prompt, passages, conversation and question (default 3000).
func WithPromptBudget(n int) Option { return func(o *options) { o.promptBudget = n } }

// WithClock sets the clock that decides which policy versions are in force
// (default time.Now).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithShop sets the shop's name and hours used in fixed replies.
// A locale missing from s keeps its default.
func WithShop(s Shop) Option {
	return func(o *options) {
		for loc, v := range s.Name {
			o.shop.Name[loc] = v
		}
		for loc, v := range s.Hours {
			o.shop.Hours[loc] = v
		}
	}
}

// Pipeline answers shopper turns. It is safe for concurrent use.
type Pipeline struct {
	chunkCache     sync.Map // chunkKey -> *chunkFacts
	systems        sync.Map // locale -> renderedPrompt, see systemPrompt
	chunkCacheSize atomic.Int64
	verdicts       sync.Map // sha256 of a history message -> injection reason ("" for none), see verdict
	verdictCount   atomic.Int64

	search  Searcher
	embed   Embedder
	gen     Generator
	prompts *prompts.Set
	opts    options
}

// New returns a pipeline over the given store, embedder and generator.
func New(s Searcher, e Embedder, g Generator, p *prompts.Set, opts ...Option) *Pipeline {
	o := options{
		promptBudget: 3000,
		now:          time.Now,
		topK:         10, contextK: 4, minLexical: 0.45, minDense: 0.45, backend: "extractive",
		shop: Shop{
			Name:  map[string]string{"en": "our shop", "zh": "本店"},
			Hours: map[string]string{"en": "9:00-21:00 every day", "zh": "每天 9:00-21:00"},
		},
	}
	for _, opt := range opts {
		opt(&o)
	}
	return &Pipeline{search: s, embed: e, gen: g, prompts: p, opts: o}
}

// replyData is what the fixed-reply templates can use.
type replyData struct {
	Shop, Hours, OrderID, Reason string
	AsOf                         string // the day an ingested copy dates from
	// An after-sales action: its kind, the items, the new address, the
	// shopper's request, what was shown, the order system's reference.
	Kind, Items, NewAddress, Request, Summary, Reference string
	Count                                                int
}

// ErrEmptyMessage is returned for a turn without text.
var ErrEmptyMessage = kefu.Errorf(kefu.EInvalid, "message is empty")

// Stream answers one turn. The events come in the order documented on the
// Event types; the stream stops early when ctx is done or a backend fails,
// yielding the error last.
func (p *Pipeline) Stream(ctx context.Context, t Turn) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		if len(t.Message) == 0 {
			yield(Event{}, ErrEmptyMessage)
			return
		}
		var spent Timing
		ctx := withTiming(ctx, &spent)
		t.asked = t.History // as stored, for matching a proposal (never shown to a model)
		t.History = p.screenHistory(t.History)
		uctx, span := telemetry.Start(ctx, "kefu.understand")
		u := Understand(t.Message, t.Locale, t.History)
		ctx = withOrderBook(ctx, p.newOrderBook(t.CustomerID, u.OrderRefs))
		// Next turn this message is history, already checked.
		p.remember(t.Message, u)
		// An attack is refused without asking any model.
		if p.opts.model != nil && !u.Injection {
			p.refine(uctx, t, &u)
		}
		span.SetAttributes(attribute.String("kefu.intent", u.Intent), attribute.String("kefu.locale", u.Locale),
			attribute.String("kefu.sentiment", u.Sentiment), attribute.Bool("kefu.injection", u.Injection))
		span.End()
		meta := &Meta{Intent: u.Intent, Locale: u.Locale, Sentiment: u.Sentiment, Query: u.Query, Backend: "rules", PromptVersion: prompts.Version, Legal: u.Legal}
		pctx, span := telemetry.Start(ctx, "kefu.plan")
		plan, err := p.plan(pctx, t, u, meta)
		if err != nil {
			telemetry.End(span, err)
			yield(Event{}, err)
			return
		}
		span.SetAttributes(attribute.String("kefu.decision", plan.decision))
		span.End()
		meta.Decision = plan.decision
		if plan.escalation != nil && meta.Reason == "" {
			meta.Reason = plan.escalation.Reason
		}
		if !yield(Event{Type: EventMeta, Meta: meta}, nil) {
			return
		}
		answer := plan.text
		if plan.generate == nil {
			if !yield(Event{Type: EventDelta, Delta: answer}, nil) {
				return
			}
		} else {
			if plan.prefix != "" && !yield(Event{Type: EventDelta, Delta: plan.prefix}, nil) {
				return
			}
			var ok bool
			if answer, ok = p.generate(ctx, plan, u.Locale, meta, yield); !ok {
				return
			}
			answer = plan.prefix + answer
			if plan.tools != nil {
				// A proposal the model made is shown in kefu's own words,
				// whatever the model wrote around it.
				if tail := plan.tools.proposal(); tail != "" && !strings.Contains(answer, tail) {
					tail = "\n\n" + tail
					if !yield(Event{Type: EventDelta, Delta: tail}, nil) {
						return
					}
					answer += tail
				}
			}
		}
		if !yield(Event{Type: EventCitations, Citations: plan.citations(answer)}, nil) {
			return
		}
		if plan.escalation != nil && !yield(Event{Type: EventEscalation, Escalation: plan.escalation}, nil) {
			return
		}
		backend := meta.Backend
		if plan.backend != "" {
			backend = plan.backend
		}
		action := plan.action
		if action == nil && plan.tools != nil {
			action = plan.tools.proposed()
		}
		if action == nil {
			action = meta.dropped
		}
		yield(Event{Type: EventDone, Done: &Done{Answer: answer, Backend: backend, Degraded: plan.backend != "", Spent: spent, Action: action}}, nil)
	}
}

// generate streams the plan's generated answer through a fact gate: every
// amount, date, percentage and order number, and every promise ("full
// refund", 保证), must come from the passages the answer was written from.
// A sentence that fails stops the answer: what was sent stays, a safe reply
// offering a human follows (or replaces the answer when nothing was sent),
// and the turn is handed over with reason "ungrounded". It returns the
// whole answer, and false when the stream ended early (an error was yielded
// or the consumer stopped).
func (p *Pipeline) generate(ctx context.Context, pl *plan, locale string, meta *Meta, yield func(Event, error) bool) (string, bool) {
	ctx, span := telemetry.Start(ctx, "kefu.generate", attribute.String("kefu.backend", meta.Backend), attribute.Int("kefu.passages", len(pl.context)))
	defer span.End()
	gctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the backend when the gate or the consumer stops early
	gate := newFactGate(passageTexts(pl.context))
	gate.decision = pl.eligibility
	var sent strings.Builder
	emit := func(s string) bool {
		if s == "" {
			return true
		}
		sent.WriteString(s)
		return yield(Event{Type: EventDelta, Delta: s}, nil)
	}
	var bad []string
	req := *pl.generate
	// meta was sent already; a fallback that takes over is reported with
	// the done event.
	req.FellBack = func(name string) { pl.backend = name }
	wait := modelWait{t: timingOf(ctx)}
	wait.ask()
	for piece, err := range p.gen.Generate(gctx, req) {
		wait.got()
		if err != nil {
			yield(Event{}, fmt.Errorf("generate answer: %w", err))
			return "", false
		}
		pl.syncTools(gate) // passages a tool call added since the last piece
		out, failed := gate.feed(piece)
		if !emit(out) {
			return "", false
		}
		if bad = failed; bad != nil {
			break
		}
		wait.ask()
	}
	wait.got() // the wait for the end of the stream
	pl.syncTools(gate)
	if bad == nil {
		out, failed := gate.close()
		if !emit(out) {
			return "", false
		}
		bad = failed
	}
	if bad == nil {
		return sent.String(), true
	}
	meta.Reason, meta.Ungrounded = "ungrounded", bad
	note, err := p.reply(locale, "unknown", replyData{})
	if err != nil {
		yield(Event{}, err)
		return "", false
	}
	if sent.Len() > 0 {
		note = "\n\n" + note
	} else {
		pl.context = nil // nothing of the passages was quoted
	}
	if !emit(note) {
		return "", false
	}
	pl.escalation = &Escalation{Reason: "ungrounded"}
	return sent.String(), true
}

// plan is what a turn will do: either a fixed text or a generation request,
// with the hits it may cite.
type plan struct {
	decision   string
	text       string
	prefix     string // a fixed text sent before the generated answer
	generate   *kefu.GenerateRequest
	context    []kefu.Hit
	escalation *Escalation
	tools      *toolbox   // the turn's tools, which may add to context
	backend    string     // the fallback that wrote the generated answer, if one did
	action     *ActionRef // the after-sales action the turn proposed or reported
	// eligibility is the decision the answer states or must not
	// contradict (nil when the turn asked for none).
	eligibility *rules.Decision
}

// citations lists the context passages the answer cites with [n]; when a
// fixed text cites nothing explicitly, every passage it was built from.
func (pl *plan) citations(answer string) []Citation {
	out := []Citation{}
	cited := citedNumbers(answer)
	for i, h := range pl.context {
		n := i + 1
		if len(cited) > 0 && !cited[n] {
			continue
		}
		out = append(out, Citation{
			N: n, DocID: h.Chunk.DocID, Title: h.Chunk.Title, Source: h.Chunk.Source,
			Snippet: snippet(h.Chunk.Text, 200), Score: round3(h.Score),
		})
	}
	return out
}

func (p *Pipeline) plan(ctx context.Context, t Turn, u Understanding, meta *Meta) (*plan, error) {
	// A pending after-sales action is settled by this message, whatever it
	// says: an explicit yes runs it, anything else drops it.
	if pl, dropped, err := p.settlePending(ctx, t, u, meta); err != nil || pl != nil {
		return pl, err
	} else {
		meta.dropped = dropped
	}
	if u.Injection { // refused outright: nothing is looked up for it
		meta.Reason = "injection:" + u.InjectionReason
		return p.fixed(DecideRefuse, u.Locale, "refuse_injection", replyData{})
	}
	if urgent, _ := guard.Urgent(t.Message); urgent == "" && u.Intent != IntentHuman && !u.Legal && u.Sentiment != SentimentAngry {
		if pl, ok, err := p.proposeAction(ctx, t, u, meta); err != nil || ok {
			return pl, err
		}
	}

	// Every other turn retrieves first and is decided with the evidence.
	// Policies are read as in force today, or on the day of the order the
	// shopper asks about.
	at := p.opts.now().Format("2006-01-02")
	if t.CustomerID != "" && len(u.OrderRefs) > 0 {
		if placed, err := p.orderDate(ctx, t.CustomerID, u.OrderRefs[0]); err != nil {
			return nil, err
		} else if placed != "" {
			at = placed
		}
	}
	meta.At = at
	expand := expansion(u.Query)
	hits, found, strong, err := p.ranked(ctx, u.Query, expand, kefu.Filter{CustomerID: t.CustomerID, At: at}, t.ProductID)
	if err != nil {
		return nil, err
	}
	meta.Retrieved = hits // what was tried, for a handoff too

	urgent, _ := guard.Urgent(t.Message)
	action, asksEligibility := p.eligibilityAsked(t, u)
	switch {
	case urgent != "":
		// A product on fire or a hacked account: the shopper is told what
		// to do now, and a person takes it at once.
		return p.escalate(u.Locale, urgent)
	case u.Intent == IntentHuman:
		return p.escalate(u.Locale, "requested")
	case u.Legal:
		return p.escalate(u.Locale, "legal")
	case u.Sentiment == SentimentAngry:
		return p.escalate(u.Locale, "anger")
	case hasAny(u.normalized, p.opts.refuse), u.Intent == IntentOutOfScope && !strong:
		meta.Intent = IntentOutOfScope
		meta.Reason = "out_of_scope"
		return p.fixed(DecideRefuse, u.Locale, "refuse", replyData{})
	case u.Intent == IntentChitChat && !strong && !(found && (len(tokenize.Terms(u.Query)) > chitChatTerms || u.Confidence < sureChitChat)):
		return p.smallTalk(u)
	case asksEligibility:
		// "Can I return W260912-1001?": decided by the shop's rules from
		// the order's facts, not quoted from the policy.
		return p.eligibility(ctx, t, u, meta, action, hits)
	case u.MyOrders:
		// Their own orders, and the rule that applies when the knowledge
		// has one; an anonymous shopper is asked to sign in, and told what
		// the rule says.
		rules := p.ruleHits(ctx, u.Query, hits)
		var pre *plan
		if t.CustomerID == "" {
			if pre, err = p.fixed(DecideClarify, u.Locale, "sign_in", replyData{}); err != nil {
				return nil, err
			}
		} else {
			if pre, err = p.orders(ctx, t, u, meta, len(rules)); err != nil {
				return nil, err
			}
			meta.Retrieved = append(meta.Retrieved, without(rules, meta.Retrieved)...)
		}
		if len(rules) == 0 || pre.generate != nil {
			return pre, nil
		}
		pl, err := p.answer(ctx, t, u, meta, rules, expand)
		if err != nil {
			return nil, err
		}
		pl.decision, pl.prefix = pre.decision, pre.text+"\n\n"
		pl.context = append(pl.context, pre.context...)
		return pl, nil
	}

	ctxHits := p.contextHits(hits)
	if !p.touches(hits) && (u.Intent == IntentOther || u.Intent == IntentChitChat) && len(tokenize.Terms(u.Query)) <= chitChatTerms {
		// A few words that nothing in the knowledge holds and that ask
		// for nothing the shop does ("拜拜", "are you ChatGPT?", a slip of
		// the keyboard) get a word back, not a person.
		return p.smallTalk(u)
	}
	if !found || len(ctxHits) == 0 { // nothing relevant, or only planted text
		if u.Intent == IntentComplaint {
			// Calm feedback with nothing to look up: acknowledge it.
			return p.fixed(DecideAnswer, u.Locale, "feedback", replyData{})
		}
		meta.Reason = "no_knowledge"
		return p.unknown(u.Locale, "no_knowledge")
	}
	return p.answer(ctx, t, u, meta, ctxHits, expand)
}

// smallTalk is the fixed reply to small talk: who kefu is when asked,
// thanks for thanks, else a greeting that says what it can help with.
func (p *Pipeline) smallTalk(u Understanding) (*plan, error) {
	name := "greeting"
	switch {
	case hasAny(u.normalized, identityCues):
		name = "identity"
	case u.Sentiment == SentimentPositive:
		name = "thanks"
	}
	return p.fixed(DecideAnswer, u.Locale, name, replyData{})
}

// chitChatTerms is how many terms a greeting may hold before it counts as
// carrying a question of its own, when the knowledge answers it ("hi, how
// long do I have to return a lamp?"); a shorter one does when the evidence
// is strong.
const chitChatTerms = 4

// sureChitChat is the probability the understanding must give small talk
// for a message the knowledge answers to be taken as small talk: more
// likely than every other reading together ("do gift cards expire?" from
// a model that never saw gift cards is a guess, not a greeting).
const sureChitChat = 0.5

// ruleHits are the context hits that state a rule for an order question:
// the relevant public ones (policies, FAQ), never an order.
func (p *Pipeline) ruleHits(ctx context.Context, query string, hits []kefu.Hit) []kefu.Hit {
	var public []kefu.Hit
	for _, h := range hits {
		if h.Chunk.Type != kefu.TypeOrder && h.Chunk.CustomerID == "" {
			public = append(public, h)
		}
	}
	if found, _ := p.judge(ctx, query, public); !found {
		return nil
	}
	return p.contextHits(public)
}

// answer plans a generated answer from the context hits ctxHits, of which
// there is at least one.
func (p *Pipeline) answer(ctx context.Context, t Turn, u Understanding, meta *Meta, ctxHits []kefu.Hit, expand string) (*plan, error) {
	if len(ctxHits) == 0 {
		return p.unknown(u.Locale, "no_knowledge")
	}
	if meta.Intent == IntentOther || meta.Intent == IntentChitChat {
		meta.Intent = intentOfHit(ctxHits[0], meta.Intent)
	}
	meta.Backend = p.opts.backend
	// What reaches a generator (which may be a remote model) has the
	// shopper's personal data redacted.
	req := kefu.GenerateRequest{
		Question: redact(t.Message), Query: redact(strings.TrimSpace(u.Query + " " + expand)),
		Locale: u.Locale, Context: ctxHits,
	}
	if err := p.renderPrompt(ctx, &req, t.History); err != nil {
		return nil, err
	}
	tools := p.newToolbox(t, meta.At, u.Locale, req.Context) // tool results continue the prompt's numbering
	req.Tools = tools.tools()
	return &plan{decision: DecideAnswer, context: req.Context, generate: &req, tools: tools}, nil
}

// promptPassage is a context passage as the answer prompt shows it.
type promptPassage struct{ Title, Heading, Text string }

// renderPrompt fills req.System and req.Messages for model backends: the
// versioned answer prompt of the shopper's language, the redacted history,
// and a last user message holding the numbered passages and the question.
// Withheld messages (see screenHistory) are left out.
func (p *Pipeline) renderPrompt(ctx context.Context, req *kefu.GenerateRequest, history []kefu.Message) error {
	req.PromptVersion = prompts.Version
	if q, ok := p.gen.(interface{ IgnoresPrompt() bool }); ok && q.IgnoresPrompt() {
		return nil // the extractive answerer reads the question and passages only
	}
	sys, err := p.systemPrompt(req.Locale)
	if err != nil {
		return err
	}
	// The budget is spent on the passages first, best first and whole, then
	// on the conversation, newest first and whole; older turns that do not
	// fit are summed up in one line.
	left := p.opts.promptBudget - sys.tokens - mustCount(req.Question) - promptOverhead
	var passages []promptPassage
	for i, h := range req.Context {
		facts := p.chunkFacts(h.Chunk)
		pp := promptPassage{Title: h.Chunk.Title, Heading: h.Chunk.Heading, Text: facts.redacted}
		cost := facts.tokens + 8
		if i > 0 && cost > left {
			req.Context = req.Context[:i] // what is not shown cannot be cited
			break
		}
		passages = append(passages, pp)
		left -= cost
	}
	user, err := p.prompts.Render(req.Locale, "answer_user", struct {
		Question string
		Passages []promptPassage
	}{req.Question, passages})
	if err != nil {
		return err
	}
	req.System = sys.text
	summarise := func(older []kefu.Message) string { return p.summarise(ctx, req.Locale, older) }
	req.Messages = append(fitHistory(modelHistory(history), left, summarise), kefu.Message{Role: kefu.RoleUser, Content: user})
	return nil
}

// systemPrompt is the answer prompt's system part for a locale and its
// token count. Both depend only on the locale and the pipeline's settings,
// so they are worked out once per locale.
func (p *Pipeline) systemPrompt(locale string) (renderedPrompt, error) {
	if v, ok := p.systems.Load(locale); ok {
		return v.(renderedPrompt), nil
	}
	text, err := p.reply(locale, "answer_system", replyData{})
	if err != nil {
		return renderedPrompt{}, err
	}
	r := renderedPrompt{text: text, tokens: mustCount(text)}
	p.systems.Store(locale, r)
	return r, nil
}

type renderedPrompt struct {
	text   string
	tokens int
}

// promptOverhead is what the prompt's framing and message separators cost.
const promptOverhead = 64

// fitHistory keeps the newest messages that fit in budget tokens, whole,
// and replaces the older ones with a summary: the helper model's (through
// summarise, which returns "" without one) when it fits, else a line of
// what the shopper asked then (each question's first sentence, never cut
// mid-sentence), itself only as long as the budget allows.
func fitHistory(history []kefu.Message, budget int, summarise func([]kefu.Message) string) []kefu.Message {
	keep := len(history)
	for keep > 0 {
		cost := mustCount(history[keep-1].Content) + 4
		if cost > budget {
			break
		}
		budget -= cost
		keep--
	}
	if keep == 0 {
		return history
	}
	if sum := summarise(history[:keep]); sum != "" && mustCount(sum)+16 <= budget {
		return append([]kefu.Message{{Role: kefu.RoleSystem, Content: "Earlier in this conversation: " + sum}}, history[keep:]...)
	}
	var asked []string
	used := 16
	for _, m := range history[:keep] {
		if m.Role != kefu.RoleUser {
			continue
		}
		q := firstSentence(m.Content)
		if c := mustCount(q) + 2; used+c <= budget {
			asked = append(asked, q)
			used += c
		}
	}
	out := history[keep:]
	if len(asked) > 0 {
		summary := kefu.Message{Role: kefu.RoleSystem, Content: "Earlier in this conversation the shopper asked: " + strings.Join(asked, " / ")}
		out = append([]kefu.Message{summary}, out...)
	}
	return out
}

// firstSentence is s up to and including its first sentence end.
func firstSentence(s string) string {
	s = strings.TrimSpace(s)
	for i, r := range s {
		if strings.ContainsRune("。！？!?\n", r) || (r == '.' && (i+1 == len(s) || s[i+1] == ' ')) {
			return strings.TrimSpace(s[:i+len(string(r))])
		}
	}
	return s
}

// mustCount counts tokens; the encoder is compiled into the binary, so it
// cannot fail but by a broken build, when a rough estimate serves.
func mustCount(s string) int {
	n, err := tokens.Count(s)
	if err != nil {
		return len(s)/3 + 1
	}
	return n
}

// relevant reports whether a hit is worth answering from beside the best
// one: it clears the first-stage bar, or a reranker gives it even odds.
func (p *Pipeline) relevant(h kefu.Hit) bool {
	return h.Lexical >= p.opts.minLexical || h.Dense >= p.opts.minDense || (p.opts.rerank != nil && h.Score >= 0.5)
}

// answerJudge is what a reranker may offer besides an order: the
// probability that the knowledge answers query, judged on hits as ranked.
type answerJudge interface {
	Answerable(ctx context.Context, query string, hits []kefu.Hit) (float64, error)
}

// judge decides from the evidence whether the knowledge answers query
// (found), and whether it does so strongly enough to outweigh the
// understanding (strong). With a reranker that judges answers and a bar
// for it (WithRerankBar), the reranker decides; otherwise the best hit
// must clear the first-stage bar, and nothing is strong.
func (p *Pipeline) judge(ctx context.Context, query string, hits []kefu.Hit) (found, strong bool) {
	if len(hits) == 0 || !p.touches(hits) {
		return false, false
	}
	if j, ok := p.opts.rerank.(answerJudge); ok && p.opts.rerankBar > 0 {
		if s, err := j.Answerable(ctx, query, hits); err == nil {
			return s >= p.opts.rerankBar, p.opts.strongBar > 0 && s >= p.opts.strongBar
		}
	}
	return hits[0].Lexical >= p.opts.minLexical || hits[0].Dense >= p.opts.minDense, false
}

// touches reports whether any hit meets the question at all: holds one of
// its words (or of their expansion), or comes within the dense bar of it.
// Candidates that only resemble the question in spelling ("asdkjh qwe"
// nearest to a returns policy by a cosine of 0.14) do not answer it,
// whatever a reranker makes of them.
func (p *Pipeline) touches(hits []kefu.Hit) bool {
	for _, h := range hits {
		if h.Lexical > 0 || h.Dense >= p.opts.minDense {
			return true
		}
	}
	return false
}

// contextHits keeps the best hits that are themselves relevant, at most
// contextK. Retrieved text is data, never instructions: a chunk that reads
// like an attempt to instruct the assistant (a planted review, an order note)
// is left out of the context.
func (p *Pipeline) contextHits(hits []kefu.Hit) []kefu.Hit {
	var out []kefu.Hit
	for i, h := range hits {
		if len(out) == p.opts.contextK {
			break
		}
		if (i == 0 || p.relevant(h)) && !p.planted(h.Chunk) {
			out = append(out, h)
		}
	}
	return out
}

// planted reports whether a chunk's text reads like instructions to the
// assistant. The check is the costliest step of a turn, so its verdict is
// kept per chunk (chunkCache).
func (p *Pipeline) planted(c kefu.Chunk) bool {
	return p.chunkFacts(c).planted
}

// chunkFacts is what the pipeline works out about a chunk's text, once:
// the same chunks come back turn after turn.
type chunkFacts struct {
	planted  bool   // reads like instructions to the assistant
	redacted string // the text as a model may see it
	tokens   int    // cl100k tokens of title, heading and redacted text
}

func (p *Pipeline) chunkFacts(c kefu.Chunk) *chunkFacts {
	key := chunkKey{id: c.ID, sum: fnv64(c.Title + "\x00" + c.Heading + "\x00" + c.Text)}
	if v, ok := p.chunkCache.Load(key); ok {
		return v.(*chunkFacts)
	}
	f := &chunkFacts{redacted: redact(c.Text)}
	_, f.planted = guard.Injection(c.Text)
	f.tokens = mustCount(c.Title + c.Heading + f.redacted)
	if p.chunkCacheSize.Add(1) > maxChunkCache {
		p.chunkCache.Clear()
		p.chunkCacheSize.Store(0)
	}
	p.chunkCache.Store(key, f)
	return f
}

// maxChunkCache bounds the per-chunk cache; past it the cache starts over.
const maxChunkCache = 50_000

type chunkKey struct {
	id  string
	sum uint64
}

func fnv64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// intentOfHit names the intent of a question that no cue classified by
// what answered it: a product record, an order, or the topic of the policy
// section or FAQ entry it came from.
func intentOfHit(h kefu.Hit, fallback string) string {
	switch h.Chunk.Type {
	case kefu.TypeProduct:
		return IntentProduct
	case kefu.TypeOrder:
		return IntentOrderStatus
	}
	label := h.Chunk.Title + " " + h.Chunk.Heading
	if h.Chunk.Type == kefu.TypeFAQ {
		label = firstLine(h.Chunk.Text)
	}
	if topic := topicIntent(" "+guard.Fold(label)+" ", Understanding{}); topic != IntentOther && topic != IntentOrderStatus {
		return topic
	}
	return fallback
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// unknown is the reply for a question kefu cannot answer reliably: it says
// so and offers a human.
func (p *Pipeline) unknown(locale, reason string) (*plan, error) {
	pl, err := p.escalate(locale, reason)
	if err != nil {
		return nil, err
	}
	pl.text, err = p.reply(locale, "unknown", replyData{})
	return pl, err
}

// passageTexts are what an answer may take its facts from: each passage's
// title (a product's name, "60升" included) and its text.
func passageTexts(hits []kefu.Hit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.Chunk.Title + "\n" + h.Chunk.Text
	}
	return out
}

func redact(s string) string {
	out, _ := guard.Redact(s)
	return out
}

func (p *Pipeline) retrieve(ctx context.Context, query, expand string, f kefu.Filter, k int) (hits []kefu.Hit, err error) {
	defer timingOf(ctx).addRetrieval(time.Now())
	ctx, span := telemetry.Start(ctx, "kefu.retrieve", attribute.Int("kefu.top_k", k))
	defer func() {
		span.SetAttributes(attribute.Int("kefu.hits", len(hits)))
		if len(hits) > 0 {
			span.SetAttributes(attribute.Float64("kefu.top_score", hits[0].Score))
		}
		telemetry.End(span, err)
	}()
	vecs, err := p.embed.Embed(ctx, []string{query})
	if err != nil {
		return nil, kefu.WrapError(kefu.EUnavailable, "the embedding service is unavailable", fmt.Errorf("embed query: %w", err))
	}
	hits, err = p.search.Search(ctx, kefu.Query{Text: query, Expand: expand, Vector: vecs[0], Filter: f, TopK: k})
	if err != nil {
		var ke *kefu.Error
		if errors.As(err, &ke) {
			return nil, err
		}
		return nil, kefu.WrapError(kefu.EUnavailable, "the knowledge store is unavailable", fmt.Errorf("search: %w", err))
	}
	return hits, nil
}

func (p *Pipeline) reply(locale, name string, d replyData) (string, error) {
	d.Shop = localized(p.opts.shop.Name, locale)
	d.Hours = localized(p.opts.shop.Hours, locale)
	return p.prompts.Render(locale, name, d)
}

func (p *Pipeline) fixed(decision, locale, name string, d replyData) (*plan, error) {
	text, err := p.reply(locale, name, d)
	if err != nil {
		return nil, err
	}
	return &plan{decision: decision, text: text}, nil
}

func (p *Pipeline) escalate(locale, reason string) (*plan, error) {
	pl, err := p.fixed(DecideEscalate, locale, "escalate", replyData{Reason: reason})
	if err != nil {
		return nil, err
	}
	pl.escalation = &Escalation{Reason: reason}
	return pl, nil
}

func localized(m map[string]string, locale string) string {
	if v, ok := m[locale]; ok {
		return v
	}
	return m[prompts.DefaultLocale]
}
