package sqlpoolprom

import "github.com/sqlpool/sqlpool"

// WithSnapshots makes the collector read f instead of sqlpool.Snapshots, so
// that a test can give it pools in any state.
func WithSnapshots(f func() []sqlpool.Snapshot) Option {
	return func(c *config) { c.snapshots = f }
}
