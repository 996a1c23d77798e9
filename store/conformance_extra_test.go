package store_test

import (
	"testing"

	"github.com/kefuhq/kefu/seal"
	"github.com/kefuhq/kefu/store"
	"github.com/kefuhq/kefu/store/storetest"
)

var (
	_ storetest.ProposalStore = (*store.Bolt)(nil)
	_ storetest.PeriodStore   = (*store.Bolt)(nil)
	_ storetest.ResealStore   = (*store.Bolt)(nil)
)

func TestBoltProposalConformance(t *testing.T) {
	storetest.RunProposals(t, func(t *testing.T) storetest.ProposalStore { return openTest(t, t.TempDir()) })
}

func TestBoltPeriodConformance(t *testing.T) {
	storetest.RunPeriod(t, func(t *testing.T) storetest.PeriodStore { return openTest(t, t.TempDir()) })
}

func TestBoltResealConformance(t *testing.T) {
	storetest.RunReseal(t, func(t *testing.T) storetest.Opener {
		dir := t.TempDir()
		return func(ring *seal.Keyring) (storetest.ResealStore, error) {
			s, err := store.Open(dir, store.WithKeyring(ring))
			if err != nil {
				return nil, err
			}
			return s, nil
		}
	})
}
