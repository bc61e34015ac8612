// Package tracing gives a sqlpool pool its OpenTelemetry spans and metrics,
// named by the database semantic conventions.
//
// It uses the OpenTelemetry API only. Unless Config names providers, it
// takes the global ones (otel.GetTracerProvider, otel.GetMeterProvider), so
// an application that installs an SDK gets sqlpool's telemetry with no more
// code. While the global providers are still OpenTelemetry's defaults, which
// record nothing, an operation costs one look at each global provider: no
// span is started and no measurement made.
package tracing

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/semconv/v1.43.0/dbconv"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/sqlpool/sqlpool/internal/sqltext"
)

// ScopeName is the instrumentation scope of sqlpool's tracer and meter.
const ScopeName = "github.com/sqlpool/sqlpool"

// The default global providers, as OpenTelemetry installs them before an
// application sets its own: while they are in place, nothing is recorded.
var (
	defaultTracerProvider = otel.GetTracerProvider()
	defaultMeterProvider  = otel.GetMeterProvider()
)

// QueryText says what db.query.text shows.
type QueryText uint8

const (
	// QueryTextAuto records parameterized text (an operation with
	// arguments) as it is, and text without arguments with its literals
	// replaced by "?": the semantic conventions' default.
	QueryTextAuto QueryText = iota
	// QueryTextSanitized replaces literals by "?" in every text.
	QueryTextSanitized
	// QueryTextOff records no query text.
	QueryTextOff
)

// ParseQueryText reads the names "auto", "sanitized" and "off".
func ParseQueryText(s string) (QueryText, error) {
	switch s {
	case "auto":
		return QueryTextAuto, nil
	case "sanitized":
		return QueryTextSanitized, nil
	case "off":
		return QueryTextOff, nil
	}
	return 0, fmt.Errorf("%q is not auto, sanitized or off", s)
}

func (q QueryText) String() string {
	switch q {
	case QueryTextSanitized:
		return "sanitized"
	case QueryTextOff:
		return "off"
	}
	return "auto"
}

// maxQueryText bounds db.query.text, in bytes.
const maxQueryText = 2048

// PoolStats is what the pool's metrics observe.
type PoolStats struct {
	Idle, InUse      int64
	Max, MinIdle     int64
	Pending          int64 // requests waiting for a connection
	Timeouts         int64 // acquires that failed on the acquire timeout
	Leaks            int64 // connections reported as leaked
	PrePingFailures  int64 // idle connections that failed validation
	Destroyed        []int64
	DestroyedReasons []string // names of Destroyed's entries
	Alerts           []int64  // 1 for an alert that fires, 0 for one that does not
	AlertNames       []string // names of Alerts' entries, the same at each call
}

// Config configures a pool's telemetry.
type Config struct {
	// TracerProvider and MeterProvider default to the global ones.
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider

	QueryText QueryText
	// SQLCommenter appends the span's traceparent to the text of Exec and
	// Query statements that carry no comment, as /*traceparent='…'*/.
	SQLCommenter bool

	// The database, as the semantic conventions name it.
	System        string // db.system.name
	Namespace     string // db.namespace
	ServerAddress string // server.address
	ServerPort    int    // server.port
	PoolName      string // db.client.connection.pool.name

	// DoubleQuotedStrings sanitizes "..." as a literal (MySQL).
	DoubleQuotedStrings bool

	// ErrorType, if set, names the errors the caller knows (its own, a
	// driver's error numbers) for error.type and db.response.status_code;
	// it returns "" for the others.
	ErrorType func(err error) (errType, status string)
}

// Telemetry is one pool's tracer and instruments.
type Telemetry struct {
	cfg      Config
	tracer   trace.Tracer
	globalTP bool // the tracer is the global provider's
	globalMP bool
	noopTP   bool // the tracer provider is the API's no-op one
	noopMP   bool

	base     atomic.Pointer[[]attribute.KeyValue] // db.system.name, db.namespace, server.*
	target   string                               // the second word of span names
	names    map[string]string                    // operation name → span name
	poolOpt  metric.MeasurementOption
	sanitize sqltext.Options

	opDuration dbconv.ClientOperationDuration
	createTime dbconv.ClientConnectionCreateTime
	waitTime   dbconv.ClientConnectionWaitTime
	useTime    dbconv.ClientConnectionUseTime
	meter      metric.Meter
	reg        metric.Registration
}

// durationBuckets are the semantic conventions' advice for
// db.client.operation.duration, used for the connection times too.
var durationBuckets = metric.WithExplicitBucketBoundaries(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10)

// New makes a pool's telemetry and registers its asynchronous instruments.
// Close unregisters them.
func New(cfg Config) (*Telemetry, error) {
	t := &Telemetry{cfg: cfg, sanitize: sqltext.Options{DoubleQuotedStrings: cfg.DoubleQuotedStrings, MaxLen: maxQueryText}}
	tp := cfg.TracerProvider
	if tp == nil {
		tp, t.globalTP = otel.GetTracerProvider(), true
	}
	mp := cfg.MeterProvider
	if mp == nil {
		mp, t.globalMP = otel.GetMeterProvider(), true
	}
	// The API's no-op providers record nothing either: skip the work.
	_, t.noopTP = tp.(tracenoop.TracerProvider)
	_, t.noopMP = mp.(metricnoop.MeterProvider)
	t.tracer = tp.Tracer(ScopeName, trace.WithInstrumentationVersion(Version()))

	if cfg.System == "sqlite" && cfg.Namespace != "" {
		// SQLite's namespace is a file: its path changes with the
		// directory (a temporary one each run), and span names and metric
		// attributes would change with it. Its base name does not.
		cfg.Namespace = filepath.Base(cfg.Namespace)
		t.cfg.Namespace = cfg.Namespace
	}
	t.SetSystem(cfg.System)
	switch {
	case cfg.Namespace != "":
		t.target = cfg.Namespace
	case cfg.ServerAddress != "" && cfg.ServerPort > 0:
		t.target = cfg.ServerAddress + ":" + strconv.Itoa(cfg.ServerPort)
	case cfg.ServerAddress != "":
		t.target = cfg.ServerAddress
	}
	t.names = make(map[string]string, len(operations)+len(ownOps))
	for _, op := range append(operations[:len(operations):len(operations)], ownOps[:]...) {
		t.names[op] = t.spanName(op)
	}
	t.poolOpt = metric.WithAttributeSet(attribute.NewSet(semconv.DBClientConnectionPoolName(cfg.PoolName)))

	m := mp.Meter(ScopeName, metric.WithInstrumentationVersion(Version()))
	var err error
	if t.opDuration, err = dbconv.NewClientOperationDuration(m, durationBuckets); err != nil {
		return nil, err
	}
	if t.createTime, err = dbconv.NewClientConnectionCreateTime(m, durationBuckets); err != nil {
		return nil, err
	}
	if t.waitTime, err = dbconv.NewClientConnectionWaitTime(m, durationBuckets); err != nil {
		return nil, err
	}
	if t.useTime, err = dbconv.NewClientConnectionUseTime(m, durationBuckets); err != nil {
		return nil, err
	}
	t.meter = m
	return t, nil
}

// Close unregisters the pool's asynchronous instruments.
func (t *Telemetry) Close() error {
	if t == nil || t.reg == nil {
		return nil
	}
	return t.reg.Unregister()
}

// SetSystem changes db.system.name, once the server has told what it is
// (MariaDB answers the MySQL protocol).
func (t *Telemetry) SetSystem(system string) {
	cfg := t.cfg
	base := []attribute.KeyValue{semconv.DBSystemNameKey.String(system)}
	if cfg.Namespace != "" {
		base = append(base, semconv.DBNamespace(cfg.Namespace))
	}
	if cfg.ServerAddress != "" {
		base = append(base, semconv.ServerAddress(cfg.ServerAddress))
		if cfg.ServerPort > 0 {
			base = append(base, semconv.ServerPort(cfg.ServerPort))
		}
	}
	t.base.Store(&base)
}

func (t *Telemetry) spanName(op string) string {
	switch {
	case op != "" && t.target != "":
		return op + " " + t.target
	case op != "":
		return op
	case t.target != "":
		return t.target
	}
	return t.cfg.System
}

// State says what records at one moment: spans (Tracing), measurements
// (Measuring), both, or nothing (0).
type State uint8

const (
	Tracing State = 1 << iota
	Measuring
)

// State reads the providers and says what they record now: nothing while
// they are the default global ones (or the API's no-op ones), or t is nil.
// An application may install global providers at any moment, so the answer
// holds for one operation. Reading them is most of what an operation costs
// while nothing records, so an operation reads them once: it passes the
// State to StartIn, whose Span keeps it for Waited and End, and keeps it
// for anything else it measures (Used).
func (t *Telemetry) State() State {
	if t == nil {
		return 0
	}
	var st State
	if t.tracing() {
		st |= Tracing
	}
	if t.measuring() {
		st |= Measuring
	}
	return st
}

// Active reports whether anything is recorded (State is not 0).
func (t *Telemetry) Active() bool { return t.State() != 0 }

// tracing reports whether spans are recorded at all: false while the
// tracer is the default global provider's.
func (t *Telemetry) tracing() bool {
	return !t.noopTP && (!t.globalTP || otel.GetTracerProvider() != defaultTracerProvider)
}

// measuring is tracing for the meter.
func (t *Telemetry) measuring() bool {
	return !t.noopMP && (!t.globalMP || otel.GetMeterProvider() != defaultMeterProvider)
}

// Op is an operation that gets a span.
type Op uint8

const (
	OpExec Op = iota
	OpQuery
	OpPrepare
	OpBegin
	OpCommit
	OpRollback
	OpPing
	OpConnect
)

// ownOps are db.operation.name of the operations that are not statements.
var ownOps = [...]string{OpPrepare: "PREPARE", OpBegin: "BEGIN", OpCommit: "COMMIT", OpRollback: "ROLLBACK", OpPing: "PING", OpConnect: "CONNECT"}

var clientKind = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}

// Span is an operation's span and measurements. The zero Span records
// nothing; its methods may be called on it.
type Span struct {
	t       *Telemetry
	span    trace.Span // nil when not tracing
	start   time.Time  // zero when neither tracing nor measuring
	op      string     // db.operation.name
	measure bool       // the State at the start had Measuring
}

// Start begins op's span, a child of the span in ctx, and returns the
// context the operation runs in. query is the statement ("" for Begin,
// Commit, Rollback, Ping, Connect); hasArgs says whether it has arguments.
// While nothing records it returns the zero Span.
func (t *Telemetry) Start(ctx context.Context, op Op, query string, hasArgs bool) (context.Context, Span) {
	return t.StartIn(ctx, t.State(), op, query, hasArgs)
}

// StartIn is Start in state st, which the caller read with State for this
// operation. The Span keeps st, so Waited and End do not read the providers
// again.
func (t *Telemetry) StartIn(ctx context.Context, st State, op Op, query string, hasArgs bool) (context.Context, Span) {
	if st == 0 || t == nil {
		return ctx, Span{}
	}
	tracing, measuring := st&Tracing != 0, st&Measuring != 0
	s := Span{t: t, start: time.Now(), measure: measuring}
	if op == OpExec || op == OpQuery {
		s.op = operationName(query)
	} else {
		s.op = ownOps[op]
	}
	// A dial gets a span only in the trace of the operation that waits for
	// it: a background dial (the warm minimum, a retry during an outage)
	// would each make a one-span trace of its own. Its time is measured
	// all the same (Created).
	if !tracing || op == OpConnect && !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx, s
	}
	name, ok := t.names[s.op]
	if !ok {
		name = t.spanName(s.op)
	}
	ctx, s.span = t.tracer.Start(ctx, name, clientKind...)
	if !s.span.IsRecording() {
		return ctx, s
	}
	base := *t.base.Load()
	attrs := make([]attribute.KeyValue, 0, len(base)+3)
	attrs = append(attrs, base...)
	if s.op != "" {
		attrs = append(attrs, semconv.DBOperationName(s.op))
	}
	if table := collectionName(s.op, query); table != "" {
		attrs = append(attrs, semconv.DBCollectionName(table))
	}
	if text := t.queryText(query, hasArgs); text != "" {
		attrs = append(attrs, semconv.DBQueryText(text))
	}
	s.span.SetAttributes(attrs...)
	return ctx, s
}

func (t *Telemetry) queryText(query string, hasArgs bool) string {
	switch {
	case query == "" || t.cfg.QueryText == QueryTextOff:
		return ""
	case hasArgs && t.cfg.QueryText == QueryTextAuto:
		return sqltext.Truncate(query, maxQueryText)
	}
	return sqltext.Sanitize(query, t.sanitize)
}

// Active reports whether s belongs to a Telemetry (records or measures).
func (s *Span) Active() bool { return s.t != nil }

// Recording reports whether the span records.
func (s *Span) Recording() bool { return s.span != nil && s.span.IsRecording() }

// Waited notes how long the operation waited for a physical connection.
// The wait is also measured as db.client.connection.wait_time.
func (s *Span) Waited(ctx context.Context, d time.Duration) {
	if s.t == nil {
		return
	}
	if s.Recording() {
		s.span.SetAttributes(attribute.Float64(AttrWaitTime, d.Seconds()))
	}
	if s.measure {
		s.t.waitTime.Inst().Record(ctx, d.Seconds(), s.t.poolOpt)
	}
}

// AttrWaitTime is the span attribute with the seconds the operation waited
// for a connection from the pool, when it had to take one.
const AttrWaitTime = "sqlpool.connection.wait_time"

// Elapsed returns the time since the span started (0 for the zero Span).
func (s *Span) Elapsed() time.Duration {
	if s.start.IsZero() {
		return 0
	}
	return time.Since(s.start)
}

// Comment returns query with the span's traceparent appended as an
// sqlcommenter comment, if Config.SQLCommenter is on and query has no
// comment of its own; otherwise query.
func (s *Span) Comment(query string) string {
	if s.span == nil { // not tracing: inlined, every operation asks
		return query
	}
	return s.comment(query)
}

func (s *Span) comment(query string) string {
	if !s.t.cfg.SQLCommenter {
		return query
	}
	sc := s.span.SpanContext()
	if !sc.IsValid() || strings.Contains(query, "/*") || strings.Contains(query, "--") {
		return query
	}
	return query + " /*traceparent='00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + sc.TraceFlags().String() + "'*/"
}

// End ends the span: err is the operation's error (driver.ErrSkip is not
// one).
func (s *Span) End(ctx context.Context, err error) { s.end(ctx, err, -1) }

// EndRows ends a query's span when its rows are closed: rows is how many
// were read, err the error that ended them, if any.
func (s *Span) EndRows(ctx context.Context, rows int64, err error) { s.end(ctx, err, rows) }

func (s *Span) end(ctx context.Context, err error, rows int64) {
	if s.t == nil {
		return
	}
	t := s.t
	if err == driver.ErrSkip {
		err = nil
	}
	var errType, status string
	if err != nil {
		errType, status = t.errorType(err)
	}
	if s.Recording() {
		if rows >= 0 {
			s.span.SetAttributes(semconv.DBResponseReturnedRows(int(rows)))
		}
		if err != nil {
			s.span.SetAttributes(semconv.ErrorTypeKey.String(errType))
			if status != "" {
				s.span.SetAttributes(semconv.DBResponseStatusCode(status))
			}
			// The message may quote values (invalid input syntax for
			// type integer: "secret"): what it quotes is hidden.
			s.span.SetStatus(codes.Error, ErrorText(err.Error()))
		}
	}
	if s.span != nil {
		s.span.End()
	}
	// A dial is measured as db.client.connection.create_time (Created), not
	// as an operation.
	if s.measure && s.op != ownOps[OpConnect] {
		base := *t.base.Load()
		attrs := make([]attribute.KeyValue, 0, len(base)+3)
		attrs = append(attrs, base...)
		if s.op != "" {
			attrs = append(attrs, semconv.DBOperationName(s.op))
		}
		if err != nil {
			attrs = append(attrs, semconv.ErrorTypeKey.String(errType))
			if status != "" {
				attrs = append(attrs, semconv.DBResponseStatusCode(status))
			}
		}
		t.opDuration.Inst().Record(ctx, time.Since(s.start).Seconds(), metric.WithAttributes(attrs...))
	}
	*s = Span{}
}

// Created measures a physical connection's dial.
func (t *Telemetry) Created(ctx context.Context, d time.Duration) {
	if t == nil || !t.measuring() {
		return
	}
	t.createTime.Inst().Record(ctx, d.Seconds(), t.poolOpt)
}

// Used measures how long a physical connection was used before it went back
// to the pool. It does not read the providers: the caller decides, with the
// State of its last operation (Measuring). Measuring while nothing measures
// is harmless, only wasted: the instruments then drop what they get.
func (t *Telemetry) Used(d time.Duration) {
	if t == nil {
		return
	}
	t.useTime.Inst().Record(context.Background(), d.Seconds(), t.poolOpt)
}

// errorType returns error.type for err and the database's status code
// (db.response.status_code), if the error carries one: the SQLSTATE of
// PostgreSQL errors, the error number of MySQL's.
func (t *Telemetry) errorType(err error) (errType, status string) {
	if f := t.cfg.ErrorType; f != nil {
		if typ, status := f(err); typ != "" {
			return typ, status
		}
	}
	var state interface{ SQLState() string }
	if errors.As(err, &state) {
		if s := state.SQLState(); s != "" {
			return s, s
		}
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "context.DeadlineExceeded", ""
	case errors.Is(err, context.Canceled):
		return "context.Canceled", ""
	case errors.Is(err, driver.ErrBadConn):
		return "driver.ErrBadConn", ""
	}
	var named interface{ ErrorType() string }
	if errors.As(err, &named) {
		return named.ErrorType(), ""
	}
	return goErrorType(err), ""
}

// goErrorType is the Go type of the error at the bottom of err's chain of
// wrappers (fmt.Errorf's, errors.Join's), where the kind of failure is
// (*net.OpError, say); "_OTHER", the conventions' fallback, for an error
// that is only text (errors.New).
func goErrorType(err error) string {
	for {
		var next error
		switch e := err.(type) {
		case interface{ Unwrap() error }:
			next = e.Unwrap()
		case interface{ Unwrap() []error }:
			if errs := e.Unwrap(); len(errs) > 0 {
				next = errs[len(errs)-1] // fmt.Errorf("%w: %w") puts the cause last
			}
		}
		if next == nil {
			break
		}
		if !isWrapper(err) {
			return fmt.Sprintf("%T", err) // a type of its own that wraps
		}
		err = next
	}
	if isWrapper(err) || fmt.Sprintf("%T", err) == "*errors.errorString" {
		return "_OTHER"
	}
	return fmt.Sprintf("%T", err)
}

// isWrapper reports whether err is one of the standard library's wrappers,
// whose type says nothing.
func isWrapper(err error) bool {
	switch fmt.Sprintf("%T", err) {
	case "*fmt.wrapError", "*fmt.wrapErrors", "*errors.joinError":
		return true
	}
	return false
}

// Version is the version of the sqlpool module as the program was built
// with it, for the instrumentation scope; "(devel)" when it is the main
// module or unknown.
func Version() string {
	versionOnce.Do(func() {
		version = "(devel)"
		bi, ok := debug.ReadBuildInfo()
		if !ok {
			return
		}
		for _, m := range bi.Deps {
			if m.Path == ScopeName {
				if m.Replace != nil && m.Replace.Version != "" {
					version = m.Replace.Version
				} else if m.Version != "" {
					version = m.Version
				}
				return
			}
		}
		if bi.Main.Path == ScopeName && bi.Main.Version != "" {
			version = bi.Main.Version
		}
	})
	return version
}

var (
	versionOnce sync.Once
	version     string
)
