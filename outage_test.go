package sqlpool_test

// Outages: the database goes away (a restart, a failover) and comes back,
// through a fault-injecting proxy between the pool and the real PostgreSQL,
// which itself is never touched. While the database cannot be reached the
// pool keeps redialing with backoff (25ms doubling to 1s), whether or not
// anyone waits; callers wait up to pool_acquire_timeout or their context's
// deadline and then fail with the last dial error; once the outage has
// outlasted the acquire timeout, new callers fail at once
// (sqlpool.ErrUnavailable) until a dial succeeds.

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"net/url"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sqlpool/sqlpool"
	"github.com/sqlpool/sqlpool/internal/faultproxy"
	"github.com/sqlpool/sqlpool/internal/testdb"
	"github.com/sqlpool/sqlpool/pool"
)

// openBehindProxy opens a sqlpool DB through inner on the test database, but
// reached through a new fault proxy, with a unique application_name
// (returned) and the given pool_* parameters.
func openBehindProxy(t *testing.T, inner string, params ...string) (*sql.DB, *faultproxy.Proxy, string) {
	t.Helper()
	u, err := url.Parse(testdb.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), "5432")
	}
	px := faultproxy.Start(t, target)
	u.Host = px.Addr()
	app := testdb.AppName(t)
	dsn := inner + ":" + testdb.WithParams(u.String(), append([]string{"application_name", app}, params...)...)
	db, err := sql.Open("sqlpool", dsn)
	if err != nil {
		t.Fatalf("sql.Open: %v", err)
	}
	// Registered after the proxy's cleanup, so it runs first: the pool
	// closes before the proxy does.
	t.Cleanup(func() { db.Close() })
	return db, px, app
}

// cutAndRefuse simulates the database going away: new connections are refused and
// every open one is cut.
func cutAndRefuse(px *faultproxy.Proxy) {
	px.Refuse(true)
	px.CutAll()
}

func outageSelect1(ctx context.Context, db *sql.DB) error {
	var one int
	return db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// carriesDialError reports whether err carries the error of a dial through
// a refusing proxy: the connection reset, a *net.OpError, which both lib/pq
// and pgx keep in their connect errors and sqlpool wraps with %w.
func carriesDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op)
}

// dialsPerAttempt is how many TCP connections one failed connection attempt
// of the inner driver makes to a refusing server: pgx closes a connection
// that failed during startup with pgconn's asyncClose, which sends a
// CancelRequest over a connection of its own (with an empty key: the server
// never sent one) before it gives up.
var dialsPerAttempt = map[string]int64{"postgres": 1, "pgx": 2}

// cancelsPerBrokenConn is how many extra TCP connections the inner driver
// makes for each connection cut under it: pgx sends a CancelRequest when it
// closes a connection that failed mid-query.
var cancelsPerBrokenConn = map[string]int64{"postgres": 0, "pgx": 1}

// TestOutageShorterThanAcquireTimeoutCostsNoErrors: under a steady load of
// 8 goroutines on 4 connections, the database restarts (every session cut,
// new connections refused for 1s). Only the queries in flight at the cut may
// fail, at most one per goroutine; every query that started later waits for
// the database and succeeds. The pool redialed with backoff, so the dials
// during the outage are few.
func TestOutageShorterThanAcquireTimeoutCostsNoErrors(t *testing.T) {
	const (
		clients  = 8
		maxConns = 4
		outage   = time.Second // the scenario: a restart of about a second
		// With backoff 25ms doubling to 1s, a pool redials at 0, 25, 75,
		// 175, 375 and 775ms of a 1s outage: 6 serial attempts, 7 if the
		// window stretches to 1.6s. Before the first failure is known, up to
		// pool_max_conns attempts may start together (one per waiter), each
		// of whose failures doubles the backoff too. A pool without backoff,
		// with 8 goroutines waiting, would make hundreds.
		maxAttempts = maxConns + 7
	)
	for _, inner := range pgDrivers {
		t.Run(inner, func(t *testing.T) {
			db, px, _ := openBehindProxy(t, inner, "pool_max_conns", "4",
				"pool_acquire_timeout", "5s", "pool_ping_idle_after", "0")
			warm(t, db, maxConns)

			var (
				cutDone, upAt          atomic.Int64 // UnixNano; 0 until the cut completed / the database is back
				served, servedAfterUp  atomic.Int64
				inFlightErrs, lateErrs atomic.Int64
				waitedThrough          atomic.Int64 // queries in progress when the database came back, served
				longestWait            atomic.Int64 // ns, of those
			)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var wg sync.WaitGroup
			for range clients {
				wg.Go(func() {
					for ctx.Err() == nil {
						start := time.Now()
						err := outageSelect1(ctx, db)
						end := time.Now()
						if ctx.Err() != nil {
							return
						}
						cut, up := cutDone.Load(), upAt.Load()
						if err != nil {
							if cut == 0 || start.UnixNano() < cut {
								// In flight at the cut: may fail.
								inFlightErrs.Add(1)
								t.Logf("query in flight at the cut: %v", err)
							} else {
								lateErrs.Add(1)
								t.Errorf("query started %v after the cut failed after %v: %v",
									start.Sub(time.Unix(0, cut)).Round(time.Millisecond), end.Sub(start).Round(time.Millisecond), err)
							}
							continue
						}
						served.Add(1)
						switch {
						case up == 0:
						case start.UnixNano() >= up:
							servedAfterUp.Add(1)
						case end.UnixNano() >= up:
							waitedThrough.Add(1)
							for took := int64(end.Sub(start)); ; {
								m := longestWait.Load()
								if took <= m || longestWait.CompareAndSwap(m, took) {
									break
								}
							}
						}
					}
				})
			}
			testdb.WaitFor(t, "a steady load", func() bool { return served.Load() >= 200 })

			before := stat(t, db)
			px.Refuse(true)
			dialsBefore := px.Dials()
			px.CutAll()
			cutDone.Store(time.Now().UnixNano())
			time.Sleep(outage)
			during := stat(t, db)
			dialsDuring := px.Dials() - dialsBefore
			px.Refuse(false)
			upAt.Store(time.Now().UnixNano())

			testdb.WaitFor(t, "queries to be served again after the outage", func() bool {
				return servedAfterUp.Load() >= 200
			})
			cancel()
			wg.Wait()
			for range 10 {
				if err := outageSelect1(context.Background(), db); err != nil {
					t.Fatalf("query after the outage: %v", err)
				}
			}
			after := stat(t, db)

			if n := inFlightErrs.Load() + lateErrs.Load(); n > clients {
				t.Errorf("application errors: got %d, want <= %d (one per goroutine in flight at the cut)", n, clients)
			}
			if during.Waiting == 0 {
				t.Errorf("acquires waiting at the end of the outage: got 0, want > 0")
			}
			if waitedThrough.Load() == 0 {
				t.Errorf("queries in progress when the database came back that then succeeded: got 0, want > 0")
			}
			if got := time.Duration(longestWait.Load()); got < outage/2 {
				t.Errorf("longest wait of a query through the outage: got %v, want >= %v (it waited for the database)", got, outage/2)
			}
			attempts := during.CreateErrorCount + during.CreatedCount - before.CreateErrorCount - before.CreatedCount
			if attempts == 0 || attempts > maxAttempts {
				t.Errorf("dial attempts of the pool during the %v outage: got %d, want 1..%d (backoff, no pile-up)", outage, attempts, maxAttempts)
			}
			// Through the proxy, as the server would count them.
			if max := dialsPerAttempt[inner]*maxAttempts + cancelsPerBrokenConn[inner]*maxConns; dialsDuring > max {
				t.Errorf("TCP connections to the proxy during the %v outage: got %d, want <= %d (backoff, no pile-up)", outage, dialsDuring, max)
			}
			if after.CreatedCount <= before.CreatedCount {
				t.Errorf("connections made after the outage: got 0, want > 0")
			}
			t.Logf("application errors: %d in flight at the cut, %d later; %d queries waited through the outage (longest %v), %d acquires waiting at its end; %d dial attempts by the pool (%d TCP connections) during the %v outage; %d queries served in all",
				inFlightErrs.Load(), lateErrs.Load(), waitedThrough.Load(),
				time.Duration(longestWait.Load()).Round(time.Millisecond), during.Waiting,
				attempts, dialsDuring, outage, served.Load())
		})
	}
}

// TestOutageLongerThanAcquireTimeoutFailsFastWithLastDialError: with
// pool_acquire_timeout=300ms and the database down, a query waits the
// acquire timeout and fails with sqlpool.ErrAcquireTimeout and the dial
// error. Once the outage has lasted longer than that, 50 concurrent queries
// fail at once with sqlpool.ErrUnavailable, without a pile-up of dials or
// goroutines. When the database returns the pool recovers by itself.
func TestOutageLongerThanAcquireTimeoutFailsFastWithLastDialError(t *testing.T) {
	const (
		acquireTimeout = 300 * time.Millisecond
		concurrent     = 50
		// The pool keeps one redial going while the database is down, one
		// per backoff interval (>= 100ms by then); the fail-fast Acquires
		// add none. The 50 queries take a few ms, and the count ends at the
		// first failed redial after them: 1, or 2 if one was in flight.
		maxAttempts = 2
	)
	for _, inner := range pgDrivers {
		t.Run(inner, func(t *testing.T) {
			ctx := context.Background()
			db, px, _ := openBehindProxy(t, inner, "pool_max_conns", "4",
				"pool_acquire_timeout", acquireTimeout.String(), "pool_ping_idle_after", "0")
			warm(t, db, 2)
			cutAndRefuse(px)

			before := stat(t, db)
			start := time.Now()
			err := outageSelect1(ctx, db)
			waited := time.Since(start)
			if !errors.Is(err, sqlpool.ErrAcquireTimeout) {
				t.Fatalf("query during the outage: got %v, want an error wrapping sqlpool.ErrAcquireTimeout", err)
			}
			if !carriesDialError(err) {
				t.Errorf("acquire timeout error %q does not carry the dial error", err)
			}
			if waited < acquireTimeout || waited > acquireTimeout+time.Second {
				t.Errorf("query failed after %v, want about the acquire timeout %v", waited, acquireTimeout)
			}
			if s := stat(t, db); s.TimeoutCount-before.TimeoutCount != 1 {
				t.Errorf("acquire timeouts: got %d, want 1", s.TimeoutCount-before.TimeoutCount)
			}
			t.Logf("first query failed after %v: %v", waited.Round(time.Millisecond), err)

			testdb.WaitFor(t, "the outage to outlast the acquire timeout", func() bool {
				return errors.Is(outageSelect1(ctx, db), sqlpool.ErrUnavailable)
			})

			goroutines := runtime.NumGoroutine()
			before = stat(t, db)
			dialsBefore := px.Dials()
			var wg sync.WaitGroup
			errs := make([]error, concurrent)
			took := make([]time.Duration, concurrent)
			release := make(chan struct{})
			for i := range concurrent {
				wg.Go(func() {
					<-release
					start := time.Now()
					errs[i] = outageSelect1(ctx, db)
					took[i] = time.Since(start)
				})
			}
			start = time.Now()
			close(release)
			wg.Wait()
			batch := time.Since(start)
			after := stat(t, db)

			for i, err := range errs {
				if !errors.Is(err, sqlpool.ErrUnavailable) {
					t.Errorf("query %d of %d after %v: got %v, want an error wrapping sqlpool.ErrUnavailable", i, concurrent, took[i], err)
				} else if !carriesDialError(err) {
					t.Errorf("query %d: error %q does not carry the dial error", i, err)
				}
			}
			if got := after.UnavailableCount - before.UnavailableCount; got != concurrent {
				t.Errorf("acquires failed at once (UnavailableCount): got %d, want %d", got, concurrent)
			}
			if got := (after.WaitCount - before.WaitCount) + (after.TimeoutCount - before.TimeoutCount); got != 0 {
				t.Errorf("acquires that waited: got %d, want 0", got)
			}
			if batch >= acquireTimeout {
				t.Errorf("%d failing queries took %v, want well under the acquire timeout %v", concurrent, batch, acquireTimeout)
			}
			// The pool's next redial, made once the backoff allows.
			testdb.WaitFor(t, "the next redial", func() bool {
				s := stat(t, db)
				return s.CreateErrorCount > before.CreateErrorCount && s.Constructing == 0
			})
			testdb.WaitFor(t, "goroutines to return to their number before the queries", func() bool {
				return runtime.NumGoroutine() <= goroutines
			})
			attempts := stat(t, db).CreateErrorCount - before.CreateErrorCount
			dials := px.Dials() - dialsBefore
			if attempts > maxAttempts {
				t.Errorf("dial attempts after %d fail-fast queries: got %d, want <= %d (no pile-up)", concurrent, attempts, maxAttempts)
			}
			if max := dialsPerAttempt[inner] * maxAttempts; dials > max {
				t.Errorf("TCP connections to the proxy after %d fail-fast queries: got %d, want <= %d (no pile-up)", concurrent, dials, max)
			}
			slices.Sort(took)
			t.Logf("%d queries failed fast in %v (median %v, max %v); then %d redial attempts (%d TCP connections); e.g. %v",
				concurrent, batch.Round(time.Microsecond), took[concurrent/2].Round(time.Microsecond),
				took[concurrent-1].Round(time.Microsecond), attempts, dials, errs[0])

			px.Refuse(false)
			up := time.Now()
			var failedFast int
			testdb.WaitFor(t, "the pool to recover by itself once the database is back", func() bool {
				err := outageSelect1(ctx, db)
				if err != nil {
					failedFast++
				}
				return err == nil
			})
			t.Logf("recovered %v after the database came back (%d queries failed meanwhile)",
				time.Since(up).Round(time.Millisecond), failedFast)
			for range 10 {
				if err := outageSelect1(ctx, db); err != nil {
					t.Fatalf("query after recovery: %v", err)
				}
			}
		})
	}
}

// TestOutageWaitersHonourTheirContextDeadline: with a 10s acquire timeout
// and the database down, a query whose context has a 200ms deadline fails
// with context.DeadlineExceeded at its deadline, not the acquire timeout, and
// its error also carries the last dial error.
func TestOutageWaitersHonourTheirContextDeadline(t *testing.T) {
	const deadline = 200 * time.Millisecond
	for _, inner := range pgDrivers {
		t.Run(inner, func(t *testing.T) {
			db, px, _ := openBehindProxy(t, inner, "pool_max_conns", "4",
				"pool_acquire_timeout", "10s", "pool_ping_idle_after", "0")
			warm(t, db, 2)
			cutAndRefuse(px)

			before := stat(t, db)
			start := time.Now() // before the deadline is set: it runs from here
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			err := outageSelect1(ctx, db)
			waited := time.Since(start)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("query with a %v deadline: got %v, want context.DeadlineExceeded", deadline, err)
			}
			if errors.Is(err, sqlpool.ErrAcquireTimeout) {
				t.Errorf("error %q wraps sqlpool.ErrAcquireTimeout; the context ended first", err)
			}
			if !carriesDialError(err) {
				t.Errorf("error %q does not carry the last dial error", err)
			}
			if waited < deadline || waited > deadline+time.Second {
				t.Errorf("query failed after %v, want about its deadline %v (acquire timeout 10s)", waited, deadline)
			}
			s := stat(t, db)
			if got := s.CanceledCount - before.CanceledCount; got != 1 {
				t.Errorf("acquires ended by their context (CanceledCount): got %d, want 1", got)
			}
			if s.CreateErrorCount == 0 {
				t.Errorf("failed dials: got 0, want > 0")
			}
			t.Logf("failed after %v: %v", waited.Round(time.Millisecond), err)
		})
	}
}

// TestOutageRefillsMinConnsWhenTheDatabaseReturns: a pool keeping 3
// connections warm loses them all in an outage; its health check notices,
// and when the database returns the pool opens 3 again by itself, with no
// application activity, as pg_stat_activity shows.
func TestOutageRefillsMinConnsWhenTheDatabaseReturns(t *testing.T) {
	const minConns = 3
	for _, inner := range pgDrivers {
		t.Run(inner, func(t *testing.T) {
			db, px, app := openBehindProxy(t, inner, "pool_max_conns", "4",
				"pool_min_conns", "3", "pool_health_check_period", "100ms")
			admin := testdb.Admin(t)
			ready := func() bool {
				s := stat(t, db)
				return s.Idle == minConns && s.Total == minConns
			}
			testdb.WaitFor(t, "3 idle connections at start", ready)
			var first []int
			testdb.WaitFor(t, "3 backends at start", func() bool {
				first = testdb.Backends(t, admin, app)
				return len(first) == minConns
			})

			before := stat(t, db)
			cutAndRefuse(px)
			testdb.WaitFor(t, "the health check to find the connections dead and fail to redial", func() bool {
				s := stat(t, db)
				return s.Idle == 0 && s.CreateErrorCount > before.CreateErrorCount
			})
			testdb.WaitFor(t, "the cut backends to leave pg_stat_activity", func() bool {
				return len(testdb.Backends(t, admin, app)) == 0
			})
			px.Refuse(false)
			up := time.Now()

			testdb.WaitFor(t, "3 idle connections again", ready)
			refilled := time.Since(up)
			var again []int
			testdb.WaitFor(t, "3 new backends", func() bool {
				again = testdb.Backends(t, admin, app)
				return len(again) == minConns
			})
			for _, pid := range again {
				if slices.Contains(first, pid) {
					t.Errorf("backend %d from before the outage still listed", pid)
				}
			}
			after := stat(t, db)
			if after.AcquireCount != before.AcquireCount {
				t.Errorf("acquires: got %d, want none (no application activity)", after.AcquireCount-before.AcquireCount)
			}
			if got := after.CreatedCount - before.CreatedCount; got != minConns {
				t.Errorf("connections made after the outage: got %d, want %d", got, minConns)
			}
			if px.Active() != minConns {
				t.Errorf("proxied connections: got %d, want %d", px.Active(), minConns)
			}
			t.Logf("refilled %d connections %v after the database came back; %d failed dials, %d destroyed by check",
				minConns, refilled.Round(time.Millisecond), after.CreateErrorCount-before.CreateErrorCount,
				after.DestroyedCount(pool.ReasonCheck)-before.DestroyedCount(pool.ReasonCheck))
		})
	}
}

// TestOutageBlipWhoseWaiterGaveUpDoesNotFailAcquiresAfterRecovery: the
// database is unreachable for a moment (a dial fails) and the only caller
// waiting gives up (its context ends). The database then stays reachable
// for longer than pool_acquire_timeout. The next query must be served: the
// pool kept redialing while the database could not be reached, so it knows
// the outage ended, rather than judging by the failure of a dial it stopped
// retrying when its waiter left ("making a resource has failed for 450ms").
func TestOutageBlipWhoseWaiterGaveUpDoesNotFailAcquiresAfterRecovery(t *testing.T) {
	const acquireTimeout = 300 * time.Millisecond
	for _, inner := range pgDrivers {
		t.Run(inner, func(t *testing.T) {
			db, px, _ := openBehindProxy(t, inner, "pool_max_conns", "2",
				"pool_acquire_timeout", acquireTimeout.String())
			px.Refuse(true)
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			err := outageSelect1(ctx, db)
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) || !carriesDialError(err) {
				t.Fatalf("query during the blip: got %v, want context.DeadlineExceeded with the dial error", err)
			}
			px.Refuse(false)
			// The scenario: the database has been back for longer than the
			// acquire timeout when the next query comes.
			time.Sleep(acquireTimeout + 100*time.Millisecond)

			if err := outageSelect1(context.Background(), db); err != nil {
				t.Errorf("query %v after the database came back: %v", acquireTimeout+100*time.Millisecond, err)
			}
			s := stat(t, db)
			t.Logf("after the blip: %d failed dials, %d made, %d acquires failed fast", s.CreateErrorCount, s.CreatedCount, s.UnavailableCount)
		})
	}
}
