package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kefuhq/kefu/store/postgres"
)

func migrateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply the PostgreSQL conversation store's pending schema migrations",
		Long: "Applies the schema migrations embedded in this binary to the database store.postgres.dsn names " +
			"(kefu serve applies them on start too; replicas starting together migrate once, under a lock). " +
			"The embedded store needs none: it upgrades itself when it opens.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.config()
			if err != nil {
				return err
			}
			if cfg.Store.Provider != providerPostgres {
				fmt.Fprintln(g.stdout, "store.provider is embedded: nothing to migrate (the embedded store upgrades itself when it opens)")
				return nil
			}
			dsn, err := postgresDSN(cfg.Store.Postgres)
			if err != nil {
				return err
			}
			from, to, err := postgres.Migrate(cmd.Context(), dsn)
			if err != nil {
				return err
			}
			if from == to {
				fmt.Fprintf(g.stdout, "schema is at version %d: nothing to apply\n", to)
				return nil
			}
			fmt.Fprintf(g.stdout, "schema migrated from version %d to %d\n", from, to)
			return nil
		},
	}
}
