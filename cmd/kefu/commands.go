package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/api"
	"github.com/kefuhq/kefu/auth"
	"github.com/kefuhq/kefu/eval"
	"github.com/kefuhq/kefu/ingest"
	"github.com/kefuhq/kefu/rag"
)

func ingestCmd(g *globals) *cobra.Command {
	var opts ingest.Options
	var asJSON bool
	var gatePath, golden string
	cmd := &cobra.Command{
		Use:   "ingest [flags] PATH...",
		Short: "Load documents (md, txt, html, pdf, csv, json, jsonl) into the knowledge store, incrementally",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := g.config()
			if err != nil {
				return err
			}
			var gate *goldenGate
			if gatePath != "" || golden != "" {
				if gate, err = loadGoldenGate(gatePath, golden, cfg.Ingest.GateMaxCases); err != nil {
					return err
				}
			}
			a, server, err := g.openOrServer(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			pp := newProgressPrinter(g.stderr)
			var sum ingest.Summary
			var gateFailed, rollbackFailed bool
			if server != nil {
				var goldenRaw []byte
				if gate != nil {
					if goldenRaw, err = readBounded(golden, api.CLIMaxGoldenBytes); err != nil {
						return err
					}
				}
				r, rerr := server.ingest(cmd.Context(), args, opts, gate, goldenRaw, pp.update)
				pp.finish()
				if rerr != nil {
					return rerr
				}
				sum, err, gateFailed, rollbackFailed = r.sum, r.err, r.gateFailed, r.rollbackFailed
				if err != nil && !gateFailed {
					return err
				}
			} else {
				defer a.Close()
				opts.Progress = pp.update
				sum, err = a.ingester(a.gatedOptions(opts, gate)).Run(cmd.Context(), args...)
				pp.finish()
				gateFailed, rollbackFailed = errors.Is(err, ingest.ErrGateFailed), errors.Is(err, ingest.ErrRollbackFailed)
				if err != nil && !gateFailed {
					return err
				}
			}
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(sum); err != nil {
					return err
				}
			} else {
				fmt.Fprintln(g.stdout, sum.String())
			}
			if gateFailed {
				if rollbackFailed {
					return err
				}
				return exitError{fmt.Sprintf("the change broke the gate; rolled back %d documents", sum.Gate.RolledBack)}
			}
			if len(sum.Failed) > 0 {
				return exitError{fmt.Sprintf("%d files or records failed", len(sum.Failed))}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&gatePath, "gate", "", "gate file (JSON min/max thresholds, as kefu eval --gate): after ingesting, run --golden through the pipeline and roll the change back, exit 1, when a threshold breaks")
	f.StringVar(&golden, "golden", "", "golden set (JSONL) that --gate is checked on")
	f.StringVar(&opts.Type, "type", "auto", "document type: product, policy, faq, order or auto")
	f.StringVar(&opts.IDField, "id-field", "", "record field holding the document id (structured files)")
	f.StringVar(&opts.TitleField, "title-field", "", "record field holding the title")
	f.StringVar(&opts.CustomerField, "customer-field", "", "record field holding the owning customer id (orders)")
	f.StringSliceVar(&opts.Records, "records", nil, "collections to load from JSON files holding several, by key (e.g. products,orders); also admits collections skipped as personal data")
	f.StringSliceVar(&opts.Levels, "levels", nil, "names of the levels of keys wrapping records in nested JSON, outermost first (e.g. platform,shop,customer_id)")
	f.StringVar(&opts.GroupBy, "group-by", "", "merge the records sharing this field's value into one document")
	f.StringSliceVar(&opts.Fields, "fields", nil, "record fields to show in the text (default all)")
	f.StringVar(&opts.ProductField, "product-field", "", "record field holding the product id a record describes (default for product records: the record's id)")
	f.BoolVar(&opts.Prune, "prune", false, "delete documents whose source no longer yields them")
	f.BoolVar(&asJSON, "json", false, "print the summary as JSON")
	return cmd
}

// progressPrinter shows an ingest's progress on w, which should be stderr:
// on a terminal one line redrawn in place at most every tick, elsewhere (a
// log, a pipe) a plain line every tick*50. Nothing else is written, so
// stdout stays the summary alone (one JSON object with --json).
type progressPrinter struct {
	w     io.Writer
	tty   bool
	every time.Duration
	last  time.Time
	drawn bool // a line is on the terminal, to be cleared
}

const progressTick = 100 * time.Millisecond

func newProgressPrinter(w io.Writer) *progressPrinter {
	p := &progressPrinter{w: w, tty: isTerminal(w), every: progressTick, last: time.Now()}
	if !p.tty {
		p.every = 50 * progressTick
	}
	return p
}

func (p *progressPrinter) update(pr ingest.Progress) {
	if pr.Done || time.Since(p.last) < p.every {
		return
	}
	p.last = time.Now()
	line := fmt.Sprintf("ingest: %d/%d files, %d documents (%d chunks) written, %d unchanged, %d failed",
		pr.Files, pr.FilesTotal, pr.Documents, pr.Chunks, pr.Unchanged, pr.Failed)
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.drawn = true
		return
	}
	fmt.Fprintln(p.w, line)
}

// finish clears the line drawn on a terminal.
func (p *progressPrinter) finish() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}

// isTerminal reports whether w is a character device, such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func evalCmd(g *globals) *cobra.Command {
	var golden, gatePath string
	var asJSON, baseline bool
	var k int
	cmd := &cobra.Command{
		Use:   "eval --golden FILE.jsonl [--json] [--k 10] [--gate FILE] [--baseline]",
		Short: "Score the answering pipeline on a golden set against the data dir",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if golden == "" {
				return kefu.Errorf(kefu.EInvalid, "--golden FILE.jsonl is required")
			}
			cases, err := eval.LoadFile(golden)
			if err != nil {
				return err
			}
			var gate *eval.Gate
			if gatePath != "" {
				gt, err := eval.LoadGate(gatePath)
				if err != nil {
					return err
				}
				gate = &gt
			}
			cfg, err := g.config()
			if err != nil {
				return err
			}
			a, server, err := g.openOrServer(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			var pipeline eval.Answerer = server
			var empty bool
			if server != nil {
				st, err := server.status(cmd.Context())
				if err != nil {
					return err
				}
				empty = st.Documents == 0
			} else {
				defer a.Close()
				pipeline = a.pipeline
				if empty, err = a.storeIsEmpty(cmd.Context()); err != nil {
					return err
				}
			}
			if empty {
				return kefu.Errorf(kefu.EInvalid, "the data dir %s holds no documents: run kefu ingest first", cfg.DataDir)
			}
			var opts []eval.Option
			if baseline {
				var chunks []kefu.Chunk
				if server != nil {
					chunks, err = server.chunks(cmd.Context())
				} else {
					chunks, err = allChunks(cmd.Context(), a.store)
				}
				if err != nil {
					return err
				}
				opts = append(opts, eval.WithBaseline(chunks))
			}
			report, err := eval.Run(cmd.Context(), pipeline, cases, k, opts...)
			if err != nil {
				return err
			}
			if asJSON {
				if err := json.NewEncoder(g.stdout).Encode(report); err != nil {
					return err
				}
			} else {
				printReport(g, report)
			}
			if gate != nil {
				if bad := gate.Check(report); len(bad) > 0 {
					fmt.Fprintf(g.stderr, "eval gate %s FAILED:\n  %s\n", gatePath, strings.Join(bad, "\n  "))
					return exitError{"eval gate failed"}
				}
				fmt.Fprintf(g.stderr, "eval gate %s passed\n", gatePath)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&golden, "golden", "", "golden set (JSONL)")
	f.BoolVar(&asJSON, "json", false, "print one JSON object with every metric")
	f.IntVar(&k, "k", 10, "retrieval depth for hit@k")
	f.StringVar(&gatePath, "gate", "", "regression gate (JSON min/max thresholds); exit 1 when violated")
	f.BoolVar(&baseline, "baseline", false, "also score plain BM25 over the same chunks (embedded store only)")
	return cmd
}

// allChunks reads every chunk of the store for the eval baseline; only the
// embedded store can list them.
func allChunks(ctx context.Context, s chunkStore) ([]kefu.Chunk, error) {
	lister, ok := s.(interface {
		Chunks(ctx context.Context, fn func(kefu.Chunk) error) error
	})
	if !ok {
		return nil, kefu.Errorf(kefu.EInvalid, "--baseline is not supported for qdrant: it reads every chunk, which only the embedded store lists")
	}
	var out []kefu.Chunk
	err := lister.Chunks(ctx, func(c kefu.Chunk) error {
		out = append(out, c)
		return nil
	})
	return out, err
}

func printReport(g *globals, r eval.Report) {
	w := g.stdout
	fmt.Fprintf(w, "cases                 %d (%d with evidence)\n", r.Cases, r.RetrievalCases)
	fmt.Fprintf(w, "hit@1 / @5 / @10      %.3f / %.3f / %.3f\n", r.HitAt1, r.HitAt5, r.HitAt10)
	fmt.Fprintf(w, "mrr@10                %.3f\n", r.MRRAt10)
	if r.RecallCases > 0 {
		fmt.Fprintf(w, "recall@10 (docs)      %.3f (%d cases)\n", r.RecallAt10, r.RecallCases)
	}
	if b := r.Baseline; b != nil {
		fmt.Fprintf(w, "BM25 hit@1 / @5 / @10 %.3f / %.3f / %.3f (baseline over %d chunks)\n", b.HitAt1, b.HitAt5, b.HitAt10, b.Chunks)
		fmt.Fprintf(w, "BM25 mrr@10           %.3f\n", b.MRRAt10)
		if b.RecallCases > 0 {
			fmt.Fprintf(w, "BM25 recall@10 (docs) %.3f\n", b.RecallAt10)
		}
		fmt.Fprintf(w, "kefu below BM25       %d cases\n", len(b.KefuWorse))
	}
	fmt.Fprintf(w, "answer rate           %.3f (%.3f of the cases that expect an answer)\n", r.AnswerRate, r.AnswerRateExpectAnswer)
	if r.EscalateCases > 0 {
		fmt.Fprintf(w, "unknown rate          %.3f of the %d cases that expect a handoff\n", r.UnknownRateExpectEscalate, r.EscalateCases)
	}
	fmt.Fprintf(w, "answer includes       %.3f\n", r.AnswerIncludesRate)
	fmt.Fprintf(w, "expect accuracy       %.3f\n", r.ExpectAccuracy)
	fmt.Fprintf(w, "escalation P / R      %.3f / %.3f\n", r.EscalationPrecision, r.EscalationRecall)
	fmt.Fprintf(w, "refusal accuracy      %.3f (false refusals %d)\n", r.RefusalAccuracy, r.FalseRefusals)
	fmt.Fprintf(w, "forbidden hits        %d\n", r.ForbiddenHits)
	if r.IntentCases > 0 {
		fmt.Fprintf(w, "intent accuracy       %.3f (%d cases)\n", r.IntentAccuracy, r.IntentCases)
	}
	if r.EligibilityCases > 0 {
		fmt.Fprintf(w, "eligibility accuracy  %.3f (%d cases)\n", r.EligibilityAccuracy, r.EligibilityCases)
	}
	if r.ActionCases > 0 {
		fmt.Fprintf(w, "action accuracy       %.3f (%d cases)\n", r.ActionAccuracy, r.ActionCases)
	}
	if r.AngerCases > 0 {
		fmt.Fprintf(w, "anger recall / prec.  %.3f / %.3f (%d angry)\n", r.AngerRecall, r.AngerPrecision, r.AngerCases)
	}
	if r.AttackCases > 0 {
		fmt.Fprintf(w, "attack block rate     %.3f (%d attacks)\n", r.AttackBlockRate, r.AttackCases)
	}
	if r.BenignCases > 0 {
		fmt.Fprintf(w, "benign false refusals %.3f (%d benign)\n", r.BenignFalseRefusals, r.BenignCases)
	}
	fmt.Fprintf(w, "latency p50 / p95     %.2f ms / %.2f ms\n", r.LatencyMsP50, r.LatencyMsP95)
	if len(r.Failures) > 0 {
		fmt.Fprintf(w, "failures (%d):\n", len(r.Failures))
		for _, f := range r.Failures {
			fmt.Fprintf(w, "  %s: %s\n", f.ID, strings.Join(f.Reasons, "; "))
		}
	}
}

func askCmd(g *globals) *cobra.Command {
	var customer, locale, product string
	var explain bool
	cmd := &cobra.Command{
		Use:   `ask [--customer ID] [--product ID] "question"`,
		Short: "Answer one question from the terminal, with citations",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			question := strings.TrimSpace(strings.Join(args, " "))
			if question == "" {
				return kefu.Errorf(kefu.EInvalid, "the question is empty")
			}
			if customer != "" && !auth.ValidCustomerID(customer) {
				return kefu.Errorf(kefu.EInvalid, "customer id %q has characters outside A-Z a-z 0-9 _ . @ -", customer)
			}
			product = strings.TrimSpace(product)
			if err := kefu.CheckProductID(product); err != nil {
				return err
			}
			cfg, err := g.config()
			if err != nil {
				return err
			}
			a, server, err := g.openOrServer(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			var pipeline eval.Answerer = server
			if server == nil {
				defer a.Close()
				pipeline = a.pipeline
			}
			res, err := rag.Collect(pipeline.Stream(cmd.Context(), rag.Turn{CustomerID: customer, Message: question, Locale: locale, Channel: "cli", ProductID: product}))
			if err != nil {
				return err
			}
			w := g.stdout
			fmt.Fprintln(w, res.Answer)
			if len(res.Citations) > 0 {
				fmt.Fprintln(w)
				for _, c := range res.Citations {
					fmt.Fprintf(w, "[%d] %s (%s)\n", c.N, c.Title, c.Source)
				}
			}
			fmt.Fprintf(g.stderr, "\nintent=%s locale=%s decision=%s backend=%s", res.Meta.Intent, res.Meta.Locale, res.Meta.Decision, res.Meta.Backend)
			if res.Escalation != nil {
				fmt.Fprintf(g.stderr, " escalation=%s", res.Escalation.Reason)
			}
			fmt.Fprintln(g.stderr)
			if explain {
				fmt.Fprintf(g.stderr, "query: %s\n", res.Meta.Query)
				for i, h := range res.Meta.Retrieved {
					fmt.Fprintf(g.stderr, "%2d. %-40s fused=%.4f lexical=%.3f dense=%.3f  %s\n", i+1, h.Chunk.ID, h.Score, h.Lexical, h.Dense, snippet(h.Chunk.Text, 70))
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&explain, "explain", false, "also print the retrieved chunks with their scores")
	cmd.Flags().StringVar(&customer, "customer", "", "ask as this authenticated shopper (customer id)")
	cmd.Flags().StringVar(&locale, "locale", "", "en or zh (default: detected)")
	cmd.Flags().StringVar(&product, "product", "", "ask from this product's page (a document id or the product id set at ingest)")
	return cmd
}

func tokenCmd(g *globals) *cobra.Command {
	var customer string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "token --customer ID [--ttl 24h]",
		Short: "Mint a shopper token signed with the configured secret (for demos and tests)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if customer == "" {
				return kefu.Errorf(kefu.EInvalid, "--customer ID is required")
			}
			if ttl <= 0 {
				return kefu.Errorf(kefu.EInvalid, "--ttl must be positive")
			}
			cfg, err := g.config()
			if err != nil {
				return err
			}
			maxTTL := cfg.Auth.TokenMaxTTL
			if maxTTL <= 0 {
				maxTTL = auth.DefaultMaxTTL
			}
			if ttl > maxTTL {
				return kefu.Errorf(kefu.EInvalid, "--ttl %s is longer than auth.token_max_ttl (%s): the server would refuse the token", ttl, maxTTL)
			}
			secret, err := tokenSecret(cfg)
			if err != nil {
				return err
			}
			tok, err := auth.MintWith(auth.Secret{ID: cfg.Auth.TokenSecretID, Key: secret}, customer, ttl, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, tok)
			return nil
		},
	}
	cmd.Flags().StringVar(&customer, "customer", "", "customer id the token asserts")
	cmd.Flags().DurationVar(&ttl, "ttl", 24*time.Hour, "how long the token is valid, at most auth.token_max_ttl")
	return cmd
}

func snippet(s string, n int) string {
	r := []rune(strings.Join(strings.Fields(s), " "))
	if len(r) > n {
		return string(r[:n]) + "…"
	}
	return string(r)
}

// readBounded reads a file of at most limit bytes.
func readBounded(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(raw)) > limit {
		return nil, kefu.Errorf(kefu.ETooLarge, "%s is larger than %d MiB, the most that goes through the server", name, limit>>20)
	}
	return raw, nil
}
