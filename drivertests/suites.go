package drivertests

// The suites, and the differences allowed in each.
//
// An allowed difference is a test that passes raw and not through sqlpool
// for a reason that holds for every possible wrapper of the driver, or for
// every pool built the way shared/DESIGN.md fixes it (logical connections
// that bind on their first operation; dials shared by the pool's waiters):
// the test looks at the wrapper itself (the concrete type db.Driver()
// returns, say) or at when the driver dials, not at what the application
// sees of its sessions. A difference that a
// better sqlpool would not have does not belong here: it is a bug to fix.
// An entry covers its test and the parents that fail only because it does.

// MySQLSuite is go-sql-driver/mysql's package test suite.
var MySQLSuite = Suite{
	Name:   "mysql",
	Module: "github.com/go-sql-driver/mysql",
	// TestConnectorReturnsTimeout dials 1.1.1.1:1234, an address off this
	// machine, which the tests here must not send traffic to; where such a
	// connection is answered, the driver then panics on a nil logger in the
	// raw run already, and the panic ends the test binary: none of the
	// tests after it would run. It dials the driver's connector directly,
	// so sqlpool never sees it.
	Skip:       []string{"TestConnectorReturnsTimeout"},
	SkipReason: "dials 1.1.1.1, off this machine (and panics the raw test binary where that is answered); it calls the driver's connector directly, not through database/sql",
	Allowed: []Allowed{
		// (*sql.Conn).Raw hands over the driver.Conn the connector made,
		// which for any wrapper is the wrapper's own type: these tests
		// assert the driver's unexported *mysqlConn on it (and panic).
		{"TestPing/default#01", rawConnType},
		{"TestPing/interpolateParams#01", rawConnType},
		{"TestPing/compress#01", rawConnType},
		{"TestQueryMultipleResults", rawConnType},
		// The pool dials with the values of the caller's context but not
		// its deadline or cancellation (puddle's rule, shared/STYLE.md): a
		// caller who gives up does not waste a dial, the next waiter gets
		// it. The caller still gets its context's error at its deadline;
		// the test also asserts that the inner Connect saw that deadline.
		{"TestConnectorTimeoutsDuringOpen", "asserts the driver's Connect was cut off by the caller's deadline; a pool that shares dials among its waiters dials with its own deadline, and the caller gets context.DeadlineExceeded all the same"},
		// database/sql's Connect gives a logical connection, which binds a
		// physical one at its first operation (shared/DESIGN.md, "The two
		// layers"): sql.DB.Conn alone dials nothing.
		{"TestConnectorTimeoutsWatchCancel", "asserts that DB.Conn itself dials; a pool that lends connections binds one at the first operation"},
	},
}

// rawConnType is the reason of the tests that assert the driver's own
// connection type on what (*sql.Conn).Raw gives them.
const rawConnType = "asserts conn.Raw's connection is the driver's *mysqlConn; through any wrapper it is the wrapper's connection"

// LibPQSuite is lib/pq's package test suite.
var LibPQSuite = Suite{
	Name:   "libpq",
	Module: "github.com/lib/pq",
	// pqtest.DB (and MustDB), which most of the tests open their sql.DB
	// with, is in internal/pqtest, not in a _test.go file.
	Helpers: []string{"internal/pqtest"},
	Allowed: []Allowed{},
}
