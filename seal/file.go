package seal

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// LoadKeyFile reads the keys of a key file (ParseKeys' format).
func LoadKeyFile(path string) ([][]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read encryption key file: %w", err)
	}
	keys, err := ParseKeys(string(raw))
	if err != nil {
		return nil, fmt.Errorf("encryption key file %s: %w", filepath.Base(path), err)
	}
	return keys, nil
}

// LoadOrCreateKeyFile reads the key file at path, creating it (mode 0600,
// its directory 0700) with one new key when it does not exist. Two
// processes creating it at once agree on one key.
func LoadOrCreateKeyFile(path string) ([][]byte, error) {
	keys, err := LoadKeyFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return keys, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create encryption key file: %w", err)
	}
	keys = [][]byte{GenerateKey()}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) { // another process created it first
		return LoadKeyFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("create encryption key file: %w", err)
	}
	if _, err := f.WriteString(FormatKeys(keys)); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("write encryption key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("write encryption key file: %w", err)
	}
	return keys, f.Close()
}

// WriteKeyFile replaces the key file at path with keys (mode 0600),
// atomically: a crash leaves the old file or the new one, never a part.
func WriteKeyFile(path string, keys [][]byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".encryption-key-*")
	if err != nil {
		return fmt.Errorf("write encryption key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write encryption key file: %w", err)
	}
	if _, err := tmp.WriteString(FormatKeys(keys)); err != nil {
		tmp.Close()
		return fmt.Errorf("write encryption key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write encryption key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write encryption key file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write encryption key file: %w", err)
	}
	return nil
}
