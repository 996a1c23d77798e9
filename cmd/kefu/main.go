// Command kefu is the one binary of the kefu customer-service assistant:
// kefu serve | ingest | eval | ask | token | fake-llm | bench. main only parses flags and the
// configuration and wires packages together; every subcommand is a function
// that tests call directly.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/ingest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot(os.Stdout, os.Stderr, os.Getenv).ExecuteContext(ctx)
	stop()
	if err != nil {
		var exit exitError
		if !errors.As(err, &exit) {
			fmt.Fprintln(os.Stderr, "kefu:", errorText(err))
		}
		os.Exit(1)
	}
}

// exitError ends the process with status 1 after the command has already
// reported why (an ingest with failed files, a failed eval gate).
type exitError struct{ msg string }

func (e exitError) Error() string { return e.msg }

// errorText shows an application error's message (and its cause, for the
// operator at the terminal) and any other error as is.
func errorText(err error) string {
	var ke *kefu.Error
	if errors.As(err, &ke) && ke.Err != nil {
		return ke.Message + ": " + ke.Err.Error()
	}
	if errors.As(err, &ke) {
		return ke.Message
	}
	return err.Error()
}

// globals are the flags every command takes.
type globals struct {
	configPath string
	dataDir    string
	stdout     io.Writer
	stderr     io.Writer
	getenv     func(string) string
}

func (g *globals) config() (Config, error) {
	path := g.configPath
	if path == "" {
		path = g.getenv("KEFU_CONFIG")
	}
	if path == "" {
		if _, err := os.Stat("kefu.yaml"); err == nil {
			path = "kefu.yaml"
		}
	}
	cfg, err := LoadConfig(path, g.getenv)
	if err != nil {
		return cfg, err
	}
	if g.dataDir != "" {
		cfg.DataDir = g.dataDir
	}
	return cfg, nil
}

// openApp reads the configuration and opens the stack it describes; the
// caller closes it.
func (g *globals) openApp() (*app, error) {
	cfg, err := g.config()
	if err != nil {
		return nil, err
	}
	return openApp(cfg, g.stderr)
}

func newRoot(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	g := &globals{stdout: stdout, stderr: stderr, getenv: getenv}
	root := &cobra.Command{
		Use:           "kefu",
		Short:         "kefu answers shoppers from the shop's own knowledge, with citations",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&g.configPath, "config", "", "configuration file (default: $KEFU_CONFIG, else ./kefu.yaml if present)")
	root.PersistentFlags().StringVar(&g.dataDir, "data-dir", "", "data directory (overrides data_dir and KEFU_DATA_DIR)")
	root.AddCommand(serveCmd(g), ingestCmd(g), evalCmd(g), askCmd(g), tokenCmd(g), fakeLLMCmd(g), benchCmd(g), pdfWorkerCmd())
	root.AddCommand(customerCmd(g), retentionCmd(g), auditCmd(g), keysCmd(g), migrateCmd(g))
	return root
}

// pdfWorkerCmd is kefu pdf-worker, hidden: the process ingest starts to
// read one PDF (request and PDF on stdin, text on stdout), so that a
// crafted PDF's memory and time stay bounded in a process of its own.
func pdfWorkerCmd() *cobra.Command {
	return &cobra.Command{
		Use:    ingest.PDFWorkerCommand,
		Short:  "Read one PDF's text from stdin (started by ingest)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if code := ingest.ServePDFWorker(cmd.InOrStdin(), cmd.OutOrStdout()); code != 0 {
				return exitError{"pdf worker failed"}
			}
			return nil
		},
	}
}
