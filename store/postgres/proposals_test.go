package postgres_test

import (
	"testing"

	"github.com/kefuhq/kefu/store/postgres"
	"github.com/kefuhq/kefu/store/storetest"
)

var _ storetest.ProposalStore = (*postgres.Store)(nil)

func TestProposalConformance(t *testing.T) {
	storetest.RunProposals(t, func(t *testing.T) storetest.ProposalStore { return openTest(t) })
}
