package sqlpool

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sqlpool/sqlpool/internal/dbtarget"
	"github.com/sqlpool/sqlpool/internal/leak"
	"github.com/sqlpool/sqlpool/internal/tracing"
	"github.com/sqlpool/sqlpool/pool"
)

// The glue between the pool and OpenTelemetry (internal/tracing): the
// spans of operations and dials, and the pool's metrics.

// newTelemetry starts a pool's OpenTelemetry spans and metrics; nil when
// pool_tracing=false. target describes the database for the attributes.
func newTelemetry(cfg *config, pool string, kind driverKind, target dbtarget.Target) (*tracing.Telemetry, error) {
	if cfg.tracingOff {
		return nil, nil
	}
	return tracing.New(tracing.Config{
		TracerProvider:      cfg.tracerProvider,
		MeterProvider:       cfg.meterProvider,
		QueryText:           cfg.queryText.tracing(),
		SQLCommenter:        cfg.sqlCommenter,
		System:              target.System,
		Namespace:           target.Namespace,
		ServerAddress:       target.Address,
		ServerPort:          target.Port,
		PoolName:            pool,
		DoubleQuotedStrings: kind.doubleQuotedStrings(),
		ErrorType:           errorType,
	})
}

// errorType is error.type for the errors sqlpool makes, stable names in
// its own namespace, and for MySQL's, whose number is also the status code
// (tracing knows SQLSTATEs and the context's errors itself); "" for others.
func errorType(err error) (errType, status string) {
	var hook *beforeConnectError
	switch {
	case errors.Is(err, ErrAcquireTimeout):
		return "sqlpool.acquire_timeout", ""
	case errors.Is(err, ErrUnavailable):
		return "sqlpool.unavailable", ""
	case errors.Is(err, ErrPoolClosed):
		return "sqlpool.pool_closed", ""
	case errors.Is(err, ErrReclaimed):
		return "sqlpool.reclaimed", ""
	case errors.Is(err, errReadOnly):
		return "sqlpool.read_only", ""
	case errors.As(err, &hook):
		return "sqlpool.before_connect", ""
	}
	if n, ok := mysqlErrorNumber(err); ok {
		s := strconv.Itoa(int(n))
		return s, s
	}
	return "", ""
}

// observePool registers the metrics of p, whose leak detection is leaks,
// with tel.
func observePool[T any](tel *tracing.Telemetry, p *pool.Pool[T], leaks *leak.Detector, alerts func() (names []string, firing []int64)) error {
	if tel == nil {
		return nil
	}
	reasons := pool.DestroyReasons()
	names := make([]string, len(reasons))
	for i, r := range reasons {
		names[i] = r.String()
	}
	return tel.ObservePool(func() tracing.PoolStats {
		s := p.Stat()
		destroyed := make([]int64, len(reasons))
		for i, r := range reasons {
			destroyed[i] = s.DestroyedCount(r)
		}
		names, firing := alerts()
		return tracing.PoolStats{
			Alerts:           firing,
			AlertNames:       names,
			Idle:             int64(s.Idle),
			InUse:            int64(s.InUse),
			Max:              int64(s.MaxSize),
			MinIdle:          int64(s.MinIdle), // SetMaxConns may have lowered it
			Pending:          int64(s.Waiting),
			Timeouts:         s.TimeoutCount,
			Leaks:            leaks.Leaks(),
			PrePingFailures:  s.DestroyedCount(pool.ReasonCheck),
			Destroyed:        destroyed,
			DestroyedReasons: names,
		}
	})
}

// dialed measures a new physical connection and, while resolveSystem is
// set (the first dial of a MySQL-protocol pool), asks the server whether it
// is MariaDB.
func dialed(ctx context.Context, tel *tracing.Telemetry, resolveSystem *atomic.Bool, ic driver.Conn, took time.Duration) {
	tel.Created(ctx, took)
	if resolveSystem.Load() && resolveSystem.CompareAndSwap(true, false) {
		if v := serverVersion(ctx, ic); strings.Contains(strings.ToLower(v), "mariadb") {
			tel.SetSystem("mariadb")
		}
	}
}

// serverVersion returns SELECT VERSION() on ic, or "" if it cannot tell.
func serverVersion(ctx context.Context, ic driver.Conn) string {
	v, _ := queryValue(ctx, ic, "SELECT VERSION()")
	return v
}

// connTel is a logical connection's part in telemetry: the span that
// database/sql's prepared fallback continues, and what records. Its
// methods are safe with the pool's telemetry off (t nil, pool_tracing=false).
type connTel struct {
	t *tracing.Telemetry // the pool's; nil: pool_tracing=false

	// The span of an Exec or Query answered with driver.ErrSkip, kept for
	// database/sql's prepared fallback.
	skip      tracing.Span
	skipQuery string

	// What recorded when the last operation started, for the measure of
	// the binding's use time at unbind: asking again would read the global
	// providers again. asked is false while no operation has started since
	// the last unbind (Unwrap binds without one).
	state tracing.State
	asked bool
}

// start begins op's span. A span that database/sql's fallback after
// driver.ErrSkip left behind ends first.
//
// This is the one place an operation asks whether anything records: the
// answer means reading the global providers (an application may install
// its own at any time), and while they record nothing that reading is most
// of what telemetry costs. The Span keeps the answer for the operation,
// state for unbind.
func (t *connTel) start(ctx context.Context, op tracing.Op, query string, nargs int) (context.Context, tracing.Span) {
	if t.skip.Active() {
		t.endSkip()
	}
	if t.t == nil { // pool_tracing=false: not even a look at the providers
		t.state, t.asked = 0, true
		return ctx, tracing.Span{}
	}
	st := t.t.State()
	t.state, t.asked = st, true
	if st == 0 {
		return ctx, tracing.Span{}
	}
	return t.t.StartIn(ctx, st, op, query, nargs > 0)
}

// skipped keeps sp, the span of an Exec or Query the connection answered
// with driver.ErrSkip: database/sql now prepares query on this connection,
// runs the statement and closes it, and that is still the same operation,
// with the same span.
func (t *connTel) skipped(sp tracing.Span, query string) {
	t.skip, t.skipQuery = sp, query
}

// takeSkip returns the span kept by skipped if query is its statement.
func (t *connTel) takeSkip(query string) (tracing.Span, bool) {
	if !t.skip.Active() || t.skipQuery != query {
		return tracing.Span{}, false
	}
	sp := t.skip
	t.skip, t.skipQuery = tracing.Span{}, ""
	return sp, true
}

// endSkip ends a kept span whose fallback never came.
func (t *connTel) endSkip() {
	t.skip.End(context.Background(), nil)
	t.skipQuery = ""
}

// done ends what the hand-out's operations left (a kept span whose
// fallback never came), at unbind, and reports whether an operation
// started since the last unbind.
func (t *connTel) done() (asked bool) {
	if t.skip.Active() {
		t.endSkip()
	}
	asked, t.asked = t.asked, false
	return asked
}

// used measures the binding that began at acquired, if anything records.
func (t *connTel) used(asked bool, acquired time.Time) {
	if !asked { // bound by Unwrap, with no operation
		t.state = t.t.State()
	}
	if t.state&tracing.Measuring != 0 {
		t.t.Used(time.Since(acquired))
	}
}

// spanRows is what a query's rows need to end its span.
type spanRows struct {
	span tracing.Span
	n    int64
	err  error
}

func (s *spanRows) next(err error) {
	switch {
	case err == nil:
		s.n++
	case err != io.EOF:
		s.err = err
	}
}
