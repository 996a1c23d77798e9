package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/seal"
	"github.com/kefuhq/kefu/store"
)

// cliActor is who the commands below are in the audit log.
var cliActor = store.AuditRecord{Actor: "kefu-cli", Role: "operator"}

// startStoreJobs runs the conversation store's background work until ctx
// ends or the returned stop is called (which waits for it): re-encrypting
// records not under the current key (left by a rotation or an older kefu),
// and applying retention at start and every store.retention.interval. On a
// store shared by replicas the work runs in one of them at a time (the
// one holding the store's lock for it; another takes over within
// leaderRetry when it stops).
func startStoreJobs(ctx context.Context, cfg Config, convs conversationStore, log *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	job := func(ctx context.Context) { storeJobs(ctx, cfg, convs, log) }
	if ex, ok := convs.(exclusiveRunner); ok {
		wg.Go(func() { ex.RunExclusive(ctx, "store-jobs", leaderRetry, job) })
	} else {
		wg.Go(func() { job(ctx) })
	}
	return func() { cancel(); wg.Wait() }
}

// exclusiveRunner is a store shared by replicas that runs a job in one of
// them at a time (postgres.Store).
type exclusiveRunner interface {
	RunExclusive(ctx context.Context, name string, retry time.Duration, job func(ctx context.Context))
}

// bucketSweeper is a store that keeps shared rate-limit buckets.
type bucketSweeper interface {
	SweepRateBuckets(ctx context.Context) (int64, error)
}

// leaderRetry is how often a replica that does not run the store's jobs
// checks whether the one that does is still there.
const leaderRetry = 15 * time.Second

func storeJobs(ctx context.Context, cfg Config, convs conversationStore, log *slog.Logger) {
	n, err := convs.Reseal(ctx, nil)
	switch {
	case err != nil && ctx.Err() == nil:
		log.Error("re-encrypting stored records failed; the next start tries again", "error", err.Error())
	case n > 0:
		log.Info("stored records re-encrypted under the current key", "records", n)
	}
	ret := cfg.Store.Retention.retention()
	tick := time.NewTicker(cfg.Store.Retention.Interval)
	defer tick.Stop()
	for {
		rep, err := convs.ApplyRetention(ctx, ret, time.Now())
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("applying retention failed", "error", err.Error())
		case rep.Total() > 0:
			log.Info("retention removed expired records", "conversations", rep.Conversations, "messages", rep.Messages,
				"feedback", rep.Feedback, "tickets", rep.Tickets, "outbox_events", rep.OutboxEvents, "audit_records", rep.AuditRecords)
		}
		if sw, ok := convs.(bucketSweeper); ok {
			if _, err := sw.SweepRateBuckets(ctx); err != nil && ctx.Err() == nil {
				log.Warn("dropping idle rate-limit buckets failed", "error", err.Error())
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// The commands below open the conversation store themselves, so they run on
// the data dir of a stopped server; against a running one, use the admin
// API (a running kefu serve holds the store's lock).
const offlineNote = "\n\nRuns on the data dir of a stopped server (a running kefu serve holds the store's lock); against a running server use the admin API."

// withStore opens the configured conversation store, runs fn and closes it.
func withStore(g *globals, fn func(cfg Config, s conversationStore) error) error {
	cfg, err := g.config()
	if err != nil {
		return err
	}
	s, err := openConversations(cfg)
	if err != nil {
		return err
	}
	err = fn(cfg, s)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	return err
}

// report prints v as JSON when asJSON is set, else what text writes.
func report(g *globals, asJSON bool, v any, text func(w io.Writer)) error {
	if asJSON {
		return writeJSON(g.stdout, v)
	}
	text(g.stdout)
	return nil
}

// compact rewrites the store file so that deleted records leave no bytes.
func compact(g *globals, cfg Config) error {
	if cfg.Store.Provider == providerPostgres {
		// PostgreSQL's autovacuum reclaims deleted rows; their sealed
		// bytes are unreadable without the keys in any case.
		return nil
	}
	before, after, err := store.Compact(cfg.DataDir)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stderr, "compacted %s: %d -> %d bytes\n", store.FileName, before, after)
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func customerCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "customer", Short: "Export or erase everything kefu holds about one shopper"}
	var asJSON, doCompact bool
	del := &cobra.Command{
		Use:   "delete CUSTOMER_ID",
		Short: "Erase a shopper's conversations, messages, tickets, feedback and outbox events",
		Long: "Erase a shopper's conversations, messages, tickets, feedback and outbox events. The audit log keeps that " +
			"an erasure happened, with the counts and the shopper as a pseudonym (customer:<sha256 prefix>), not what was erased. " +
			"The store file is then compacted, so that the erased records' bytes leave it." + offlineNote,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var e store.Erasure
			var cfg Config
			err := withStore(g, func(c Config, s conversationStore) error {
				cfg = c
				by := cliActor
				by.At = time.Now()
				var err error
				e, err = s.EraseCustomer(cmd.Context(), args[0], by)
				return err
			})
			if err != nil {
				return err
			}
			err = report(g, asJSON, map[string]any{"customer": store.CustomerRef(args[0]), "erased": e}, func(w io.Writer) {
				fmt.Fprintf(w, "erased %s (%s): %s\n", args[0], store.CustomerRef(args[0]), e)
			})
			if err != nil {
				return err
			}
			if doCompact {
				return compact(g, cfg)
			}
			return nil
		},
	}
	del.Flags().BoolVar(&asJSON, "json", false, "print the counts as JSON")
	del.Flags().BoolVar(&doCompact, "compact", true, "compact the store file afterwards")
	export := &cobra.Command{
		Use:   "export CUSTOMER_ID",
		Short: "Print everything held about a shopper as JSON: every conversation, message, ticket, feedback and outbox event",
		Long:  "Print everything held about a shopper as one JSON document on stdout. The export is recorded in the audit log." + offlineNote,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(g, func(cfg Config, s conversationStore) error {
				ex, err := s.ExportCustomer(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				rec := cliActor
				rec.Action, rec.Target = "customers.export", store.CustomerRef(args[0])
				if err := s.AppendAudit(cmd.Context(), rec); err != nil {
					return err
				}
				return writeJSON(g.stdout, ex)
			})
		},
	}
	cmd.AddCommand(del, export)
	return cmd
}

func retentionCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "retention", Short: "Apply the retention windows (store.retention.*)"}
	var asJSON, doCompact bool
	run := &cobra.Command{
		Use:   "run",
		Short: "Remove what has outlived its retention window now and print what was removed",
		Long:  "Remove what has outlived its retention window (store.retention.*) and print the counts. kefu serve does the same every store.retention.interval." + offlineNote,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var rep store.RetentionReport
			var cfg Config
			err := withStore(g, func(c Config, s conversationStore) error {
				cfg = c
				var err error
				rep, err = s.ApplyRetention(cmd.Context(), c.Store.Retention.retention(), time.Now())
				return err
			})
			if err != nil {
				return err
			}
			err = report(g, asJSON, rep, func(w io.Writer) {
				r := cfg.Store.Retention
				fmt.Fprintf(w, "windows: chats %s, tickets %s, audit %s, feedback %s, outbox %s\nremoved: %s\n",
					r.Chats, r.Tickets, r.Audit, r.Feedback, r.Outbox, rep)
			})
			if err != nil {
				return err
			}
			if doCompact && rep.Total() > 0 {
				return compact(g, cfg)
			}
			return nil
		},
	}
	run.Flags().BoolVar(&asJSON, "json", false, "print the counts as JSON")
	run.Flags().BoolVar(&doCompact, "compact", true, "compact the store file when anything was removed")
	cmd.AddCommand(run)
	return cmd
}

func auditCmd(g *globals) *cobra.Command {
	var q store.AuditQuery
	var since, until string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "audit [--actor NAME] [--action ACTION] [--since TIME] [--until TIME] [--limit N] [--json]",
		Short: "Print the audit log: agent and admin access, failed authentication, erasures, retention runs",
		Long:  "Print the audit log, oldest first; times are RFC 3339. kefu audit verify checks its hash chain." + offlineNote,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, t := range []struct {
				name, v string
				dst     *time.Time
			}{{"since", since, &q.Since}, {"until", until, &q.Until}} {
				if t.v == "" {
					continue
				}
				v, err := time.Parse(time.RFC3339, t.v)
				if err != nil {
					return kefu.Errorf(kefu.EInvalid, "--%s %q is not an RFC 3339 time such as 2026-03-01T09:00:00Z", t.name, t.v)
				}
				*t.dst = v
			}
			if q.Limit < 0 {
				return kefu.Errorf(kefu.EInvalid, "--limit %d is negative", q.Limit)
			}
			want := q.Limit
			return withStore(g, func(cfg Config, s conversationStore) error {
				var out []store.AuditRecord
				page := q
				for {
					page.Limit = store.MaxAuditLimit
					if want > 0 {
						page.Limit = min(store.MaxAuditLimit, want-len(out))
					}
					p, err := s.Audit(cmd.Context(), page)
					if err != nil {
						return err
					}
					out = append(out, p.Records...)
					if p.Next == 0 || (want > 0 && len(out) >= want) {
						break
					}
					page.After = p.Next
				}
				if asJSON {
					return writeJSON(g.stdout, store.AuditPage{Records: out})
				}
				for _, r := range out {
					fmt.Fprintf(g.stdout, "%6d  %s  %-12s %-9s %-20s %s %s\n", r.Seq, r.At.Format(time.RFC3339), r.Actor, r.Role, r.Action, r.Target, r.Detail)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&q.Actor, "actor", "", "only this actor (an API key's name)")
	cmd.Flags().StringVar(&q.Action, "action", "", "only this action (ticket.view, customer.erase, ...)")
	cmd.Flags().StringVar(&since, "since", "", "only records at or after this time")
	cmd.Flags().StringVar(&until, "until", "", "only records before this time")
	cmd.Flags().IntVar(&q.Limit, "limit", 0, "at most this many records (default all)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	var verifyJSON bool
	verify := &cobra.Command{
		Use:   "verify [--json]",
		Short: "Check the audit log's hash chain and report the first broken link",
		Long: "Check the audit log's hash chain: an edited, removed or reordered record breaks it, and the first broken link " +
			"is reported (exit status 1). The head hash printed can be kept elsewhere: a log rewritten whole by someone holding " +
			"the encryption key would end in another head." + offlineNote,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var v store.AuditVerification
			err := withStore(g, func(cfg Config, s conversationStore) error {
				var err error
				v, err = s.VerifyAudit(cmd.Context())
				return err
			})
			if err != nil {
				return err
			}
			err = report(g, verifyJSON, v, func(w io.Writer) {
				if v.Break == nil {
					fmt.Fprintf(w, "audit log intact: %d records (%d to %d), head %s\n", v.Records, v.First, v.Last, v.Head)
				} else {
					fmt.Fprintf(w, "audit log BROKEN at record %d: %s\n(%d records verified before it)\n", v.Break.Seq, v.Break.Reason, v.Records)
				}
			})
			if err != nil {
				return err
			}
			if v.Break != nil {
				return exitError{"the audit log's chain is broken"}
			}
			return nil
		},
	}
	verify.Flags().BoolVar(&verifyJSON, "json", false, "print one JSON object")
	cmd.AddCommand(verify)
	return cmd
}

func keysCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Show and rotate the keys that encrypt the conversation store"}
	status := &cobra.Command{
		Use:   "status",
		Short: "Print the configured keys' ids and how many records each sealed",
		Long:  "Print the configured keys' ids (never the keys) and how many stored records each sealed." + offlineNote,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := g.config()
			if err != nil {
				return err
			}
			keys, file, err := storeKeys(cfg)
			if err != nil {
				return err
			}
			return withStore(g, func(cfg Config, s conversationStore) error {
				st, err := s.SealStatus(cmd.Context())
				if err != nil {
					return err
				}
				printKeys(g.stdout, keys, file, st)
				return nil
			})
		},
	}
	var newKeyFile string
	var resume, doCompact bool
	rotate := &cobra.Command{
		Use:   "rotate [--new-key-file FILE] [--resume]",
		Short: "Make a new key current and re-encrypt every stored record with it",
		Long: "Make a new key current (generated, or the first key of --new-key-file) and re-encrypt every stored record " +
			"with it, in batches; the old keys stay in the key file until every record is re-encrypted, then they are " +
			"dropped and the store file is compacted so that no record sealed with them remains in it. Interrupted, it " +
			"resumes with --resume (kefu serve also finishes the re-encryption in the background). Records written in " +
			"plaintext by an older kefu are encrypted the same way.\n\n" +
			"With the keys in KEFU_ENCRYPTION_KEY, kefu cannot write them: put the new key first in KEFU_ENCRYPTION_KEY, " +
			"the old ones after it (comma-separated), run kefu keys rotate --resume, then remove the old keys." + offlineNote,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return rotateKeys(cmd.Context(), g, newKeyFile, resume, doCompact)
		},
	}
	rotate.Flags().StringVar(&newKeyFile, "new-key-file", "", "take the new key from this file (base64 of 32 bytes) instead of generating one")
	rotate.Flags().BoolVar(&resume, "resume", false, "finish an interrupted rotation to the current key without adding a new one")
	rotate.Flags().BoolVar(&doCompact, "compact", true, "compact the store file when done")
	cmd.AddCommand(status, rotate)
	return cmd
}

func printKeys(w io.Writer, keys [][]byte, file string, st map[string]int) {
	src := "KEFU_ENCRYPTION_KEY"
	if file != "" {
		src = file
	}
	fmt.Fprintf(w, "keys from %s:\n", src)
	for i, k := range keys {
		role := "current"
		if i > 0 {
			role = "retired, still opens"
		}
		id := seal.FormatID(seal.KeyID(k))
		fmt.Fprintf(w, "  %s  %-22s %d records\n", id, role, st[id])
	}
	var others []string
	for id := range st {
		known := false
		for _, k := range keys {
			known = known || seal.FormatID(seal.KeyID(k)) == id
		}
		if !known {
			others = append(others, id)
		}
	}
	sort.Strings(others)
	for _, id := range others {
		fmt.Fprintf(w, "  %-8s  %-22s %d records\n", id, "not configured", st[id])
	}
}

func rotateKeys(ctx context.Context, g *globals, newKeyFile string, resume, doCompact bool) error {
	cfg, err := g.config()
	if err != nil {
		return err
	}
	keys, file, err := storeKeys(cfg)
	if err != nil {
		return err
	}
	if !resume {
		if file == "" {
			return kefu.Errorf(kefu.EInvalid, "the keys come from KEFU_ENCRYPTION_KEY, which kefu cannot write: put the new key first in it, "+
				"the old ones after it (comma-separated), and run kefu keys rotate --resume")
		}
		next := seal.GenerateKey()
		if newKeyFile != "" {
			given, err := seal.LoadKeyFile(newKeyFile)
			if err != nil {
				return fmt.Errorf("--new-key-file: %w", err)
			}
			next = given[0]
		}
		for _, k := range keys {
			if bytes.Equal(k, next) {
				return kefu.Errorf(kefu.EInvalid, "the new key %s is already configured", seal.FormatID(seal.KeyID(next)))
			}
		}
		// Check first that no server holds the store and the keys open it,
		// so that a refused rotation leaves the key file as it was.
		s, err := openConversationsWith(cfg, keys)
		if err != nil {
			return err
		}
		if err := s.Close(); err != nil {
			return err
		}
		// The new key is written first, the old ones kept after it: a
		// rotation stopped half-way leaves every record readable.
		keys = append([][]byte{next}, keys...)
		if err := seal.WriteKeyFile(file, keys); err != nil {
			return err
		}
		fmt.Fprintf(g.stderr, "new current key %s written to %s\n", seal.FormatID(seal.KeyID(next)), file)
	}
	s, err := openConversationsWith(cfg, keys)
	if err != nil {
		return err
	}
	n, err := s.Reseal(ctx, func(done int) { fmt.Fprintf(g.stderr, "re-encrypted %d records\n", done) })
	if err != nil {
		s.Close()
		return fmt.Errorf("%w (run kefu keys rotate --resume to finish)", err)
	}
	st, err := s.SealStatus(ctx)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	current := seal.FormatID(seal.KeyID(keys[0]))
	for id, count := range st {
		if id != current && count > 0 {
			return fmt.Errorf("%d records are still not under key %s; run kefu keys rotate --resume", count, current)
		}
	}
	fmt.Fprintf(g.stdout, "%d records re-encrypted; every record is under key %s\n", n, current)
	if len(keys) > 1 {
		if file == "" {
			fmt.Fprintf(g.stdout, "remove the keys after the first from KEFU_ENCRYPTION_KEY: nothing needs them any more\n")
		} else {
			if err := seal.WriteKeyFile(file, keys[:1]); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "retired %d old keys from %s\n", len(keys)-1, file)
		}
	}
	if doCompact {
		return compact(g, cfg)
	}
	return nil
}
