package store_test

import (
	"testing"

	"github.com/kefuhq/kefu/store"
	"github.com/kefuhq/kefu/store/storetest"
)

var _ storetest.PrivacyStore = (*store.Bolt)(nil)

func TestBoltPrivacyConformance(t *testing.T) {
	storetest.RunPrivacy(t, func(t *testing.T) storetest.PrivacyStore { return openTest(t, t.TempDir()) })
}
