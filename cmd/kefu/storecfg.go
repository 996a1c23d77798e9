package main

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/seal"
	"github.com/kefuhq/kefu/store"
)

// StoreConfig is the conversation store's encryption and retention. The
// encryption keys come from the environment or a file, never kefu.yaml.
type StoreConfig struct {
	EncryptionKeyFile string          `yaml:"encryption_key_file"`
	Retention         RetentionConfig `yaml:"retention"`
	// EncryptionKey in kefu.yaml is refused; the environment's is kept in
	// encryptionKey.
	EncryptionKey string `yaml:"encryption_key"`
	encryptionKey string
}

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
	return slog.GroupValue(slog.Bool("encryption_key_set", s.encryptionKey != ""), slog.String("encryption_key_file", s.EncryptionKeyFile),
		slog.Duration("retention_chats", s.Retention.Chats), slog.Duration("retention_tickets", s.Retention.Tickets),
		slog.Duration("retention_audit", s.Retention.Audit))
}

func (s *StoreConfig) fillDefaults() {
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
func openConversations(cfg Config) (*store.Bolt, error) {
	keys, _, err := storeKeys(cfg)
	if err != nil {
		return nil, err
	}
	return openConversationsWith(cfg, keys)
}

func openConversationsWith(cfg Config, keys [][]byte) (*store.Bolt, error) {
	ring, err := seal.NewKeyring(keys...)
	if err != nil {
		return nil, err
	}
	s, err := store.Open(cfg.DataDir, store.WithKeyring(ring))
	if err != nil && kefu.ErrorCode(err) == kefu.EUnavailable && isLocked(err) {
		return nil, kefu.WrapError(kefu.EUnavailable,
			"the conversation store is in use by a running kefu serve: stop it first, or use the admin API (/v1/admin/...)", err)
	}
	return s, err
}

func isLocked(err error) bool {
	var ke *kefu.Error
	return errors.As(err, &ke) && ke.Message == "the conversation store is in use by another kefu process"
}
