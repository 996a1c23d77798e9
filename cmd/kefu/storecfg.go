package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/seal"
	"github.com/kefuhq/kefu/store"
	"github.com/kefuhq/kefu/store/postgres"
)

// StoreConfig is the conversation store's encryption and retention. The
// encryption keys come from the environment or a file, never kefu.yaml.
type StoreConfig struct {
	// Provider is where conversations, tickets, the outbox, feedback and
	// the audit log live: providerEmbedded (the data dir's file, one
	// process) or providerPostgres (shared by any number of replicas).
	Provider          string          `yaml:"provider"`
	Postgres          PostgresConfig  `yaml:"postgres"`
	EncryptionKeyFile string          `yaml:"encryption_key_file"`
	Retention         RetentionConfig `yaml:"retention"`
	// EncryptionKey in kefu.yaml is refused; the environment's is kept in
	// encryptionKey.
	EncryptionKey string `yaml:"encryption_key"`
	encryptionKey string
}

// PostgresConfig is the PostgreSQL conversation store's connection. The
// DSN may hold a password, so it comes from the environment or a file,
// never kefu.yaml.
type PostgresConfig struct {
	DSN      string `yaml:"dsn"`
	DSNFile  string `yaml:"dsn_file"`
	MaxConns int    `yaml:"max_conns"`
	dsn      string
}

// Conversation store providers.
const (
	providerEmbedded = "embedded"
	providerPostgres = "postgres"
)

// RetentionConfig is how long each class of data is kept, and how often
// kefu serve removes what has outlived its window.
type RetentionConfig struct {
	Chats    time.Duration `yaml:"chats"`
	Tickets  time.Duration `yaml:"tickets"`
	Audit    time.Duration `yaml:"audit"`
	Feedback time.Duration `yaml:"feedback"`
	Outbox   time.Duration `yaml:"outbox"`
	Interval time.Duration `yaml:"interval"`
}

// Default retention windows: chats 180 days (the demo shop's privacy
// notice), tickets 2 years, audit 3 years.
const (
	defaultRetentionChats    = 180 * 24 * time.Hour
	defaultRetentionTickets  = 2 * 365 * 24 * time.Hour
	defaultRetentionAudit    = 3 * 365 * 24 * time.Hour
	defaultRetentionInterval = time.Hour
)

// LogValue keeps the keys out of any log line that prints the config.
func (s StoreConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.String("provider", s.Provider), slog.Bool("postgres_dsn_set", s.Postgres.dsn != "" || s.Postgres.DSNFile != ""),
		slog.Bool("encryption_key_set", s.encryptionKey != ""), slog.String("encryption_key_file", s.EncryptionKeyFile),
		slog.Duration("retention_chats", s.Retention.Chats), slog.Duration("retention_tickets", s.Retention.Tickets),
		slog.Duration("retention_audit", s.Retention.Audit))
}

func (s *StoreConfig) fillDefaults() {
	if s.Provider == "" {
		s.Provider = providerEmbedded
	}
	r := &s.Retention
	for _, d := range []struct {
		field *time.Duration
		def   time.Duration
	}{{&r.Chats, defaultRetentionChats}, {&r.Tickets, defaultRetentionTickets}, {&r.Audit, defaultRetentionAudit}, {&r.Interval, defaultRetentionInterval}} {
		if *d.field == 0 {
			*d.field = d.def
		}
	}
	if r.Feedback == 0 {
		r.Feedback = r.Chats
	}
	if r.Outbox == 0 {
		r.Outbox = r.Chats
	}
}

func (s StoreConfig) problems() []string {
	var problems []string
	if s.EncryptionKey != "" {
		problems = append(problems, "store.encryption_key is a secret: set KEFU_ENCRYPTION_KEY or store.encryption_key_file, not kefu.yaml")
	}
	switch s.Provider {
	case providerEmbedded:
	case providerPostgres:
		if s.Postgres.dsn == "" && s.Postgres.DSNFile == "" {
			problems = append(problems, "store.provider postgres needs KEFU_POSTGRES_DSN or store.postgres.dsn_file")
		}
		if s.encryptionKey == "" && s.EncryptionKeyFile == "" {
			problems = append(problems, "store.provider postgres needs KEFU_ENCRYPTION_KEY or store.encryption_key_file, the same on every replica (a key generated into one data dir would be one replica's only)")
		}
	default:
		problems = append(problems, fmt.Sprintf("store.provider %q is not embedded or postgres", s.Provider))
	}
	if s.Postgres.DSN != "" {
		problems = append(problems, "store.postgres.dsn may hold a password: set KEFU_POSTGRES_DSN or store.postgres.dsn_file, not kefu.yaml")
	}
	if s.Postgres.dsn != "" && s.Postgres.DSNFile != "" {
		problems = append(problems, "KEFU_POSTGRES_DSN and store.postgres.dsn_file are both set; keep one")
	}
	if s.Postgres.MaxConns < 0 || s.Postgres.MaxConns > 1000 {
		problems = append(problems, fmt.Sprintf("store.postgres.max_conns %d is not between 0 and 1000", s.Postgres.MaxConns))
	}
	if s.encryptionKey != "" && s.EncryptionKeyFile != "" {
		problems = append(problems, "KEFU_ENCRYPTION_KEY and store.encryption_key_file are both set; keep one")
	}
	if s.encryptionKey != "" {
		if _, err := seal.ParseKeys(s.encryptionKey); err != nil {
			problems = append(problems, "KEFU_ENCRYPTION_KEY: "+err.Error())
		}
	}
	r := s.Retention
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"chats", r.Chats}, {"tickets", r.Tickets}, {"audit", r.Audit}, {"feedback", r.Feedback}, {"outbox", r.Outbox}, {"interval", r.Interval}} {
		if d.v < 0 {
			problems = append(problems, fmt.Sprintf("store.retention.%s %s is negative", d.name, d.v))
		}
	}
	if r.Interval > 0 && r.Interval < time.Minute {
		problems = append(problems, fmt.Sprintf("store.retention.interval %s is shorter than a minute", r.Interval))
	}
	return problems
}

// retention is the store's view of the windows.
func (r RetentionConfig) retention() store.Retention {
	return store.Retention{Chats: r.Chats, Tickets: r.Tickets, Audit: r.Audit, Feedback: r.Feedback, Outbox: r.Outbox}
}

// storeKeys returns the encryption keys, the current first, and the file
// they live in ("" when they come from the environment): KEFU_ENCRYPTION_KEY,
// else store.encryption_key_file, else <data_dir>/encryption.key, generated
// when it does not exist.
func storeKeys(cfg Config) (keys [][]byte, file string, err error) {
	switch {
	case cfg.Store.encryptionKey != "":
		keys, err := seal.ParseKeys(cfg.Store.encryptionKey)
		if err != nil {
			return nil, "", fmt.Errorf("KEFU_ENCRYPTION_KEY: %w", err)
		}
		return keys, "", nil
	case cfg.Store.EncryptionKeyFile != "":
		keys, err := seal.LoadKeyFile(cfg.Store.EncryptionKeyFile)
		if err != nil {
			return nil, "", fmt.Errorf("store.encryption_key_file: %w", err)
		}
		return keys, cfg.Store.EncryptionKeyFile, nil
	}
	file = filepath.Join(cfg.DataDir, store.KeyFileName)
	keys, err = seal.LoadOrCreateKeyFile(file)
	return keys, file, err
}

// openConversations opens the conversation store of the data dir, sealed
// with the configured keys.
func openConversations(cfg Config) (conversationStore, error) {
	keys, _, err := storeKeys(cfg)
	if err != nil {
		return nil, err
	}
	return openConversationsWith(cfg, keys)
}

func openConversationsWith(cfg Config, keys [][]byte) (conversationStore, error) {
	ring, err := seal.NewKeyring(keys...)
	if err != nil {
		return nil, err
	}
	if cfg.Store.Provider == providerPostgres {
		s, err := openPostgres(cfg, ring)
		if err != nil {
			return nil, err // not a nil *postgres.Store in the interface
		}
		return s, nil
	}
	s, err := store.Open(cfg.DataDir, store.WithKeyring(ring))
	if err != nil && kefu.ErrorCode(err) == kefu.EUnavailable && isLocked(err) {
		return nil, kefu.WrapError(kefu.EUnavailable,
			"the conversation store is in use by a running kefu serve: stop it first, or use the admin API (/v1/admin/...)", err)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// postgresDSN is the configured DSN: KEFU_POSTGRES_DSN or the file's.
func postgresDSN(cfg PostgresConfig) (string, error) {
	if cfg.DSNFile == "" {
		return cfg.dsn, nil
	}
	raw, err := os.ReadFile(cfg.DSNFile)
	if err != nil {
		return "", fmt.Errorf("store.postgres.dsn_file: %w", err)
	}
	return strings.TrimSpace(string(raw)), nil
}

// openPostgres opens the PostgreSQL conversation store, applying its
// pending migrations.
func openPostgres(cfg Config, ring *seal.Keyring) (*postgres.Store, error) {
	dsn, err := postgresDSN(cfg.Store.Postgres)
	if err != nil {
		return nil, err
	}
	return postgres.Open(context.Background(), dsn, ring, postgres.Options{MaxConns: int32(cfg.Store.Postgres.MaxConns)})
}

func isLocked(err error) bool {
	var ke *kefu.Error
	return errors.As(err, &ke) && ke.Message == "the conversation store is in use by another kefu process"
}
