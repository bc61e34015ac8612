package sqlpool

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sqlpool/sqlpool/internal/sqltext"
)

// This file is the one table of the pool's settings. Each setting is
// written once, here: its DSN parameter, its Go option, its default as the
// README shows it, its meaning, how a DSN value is read, and how the value
// in force is shown (Snapshot.Settings). The DSN parser (applyParams), the
// snapshot, the README's settings table and the package documentation all
// come from it; tests hold the README and doc.go to it. The defaults
// themselves are defaultConfig's, and config.validate checks what one
// setting cannot check alone.

// settingID indexes settings; config.set records which were given.
type settingID uint8

const (
	sMaxConns settingID = iota
	sMinConns
	sMinIdleConns
	sMaxConnLifetime
	sMaxConnLifetimeJitter
	sMaxConnIdleTime
	sHealthCheckPeriod
	sAcquireTimeout
	sPingIdleAfter
	sPingTimeout
	sValidationQuery
	sReuse
	sStmtCacheSize
	sLeakThreshold
	sLeakReclaim
	sOnLeak
	sLogger
	sName
	sShare
	sResetSession
	sResetQuery
	sInitSQL
	sAfterConnect
	sTracing
	sQueryText
	sSQLCommenter
	sTracerProvider
	sMeterProvider
	numSettings
)

// setting describes one pool setting.
type setting struct {
	param  string // the DSN parameter; "" for a setting of Go only
	option string // the Go option
	def    string // the default, as the README's table writes it
	doc    string // its meaning, as the README's table writes it (Markdown)
	values string // what a DSN value may be, for the package documentation

	// parse reads a DSN value into c, or fails with an error naming the
	// parameter and the fix. nil for a setting of Go only.
	parse func(s *setting, c *config, v string) error
	// emptyHint is the "write ..." part of the error for an empty value;
	// "" means an empty value is allowed (and parsed).
	emptyHint string
	// show is the value in force as a DSN would write it, for
	// Snapshot.Settings; "" leaves the setting out. nil: never shown.
	show func(ps *poolState) string
	// dur is the field of a duration setting, which must be >= 0.
	dur func(c *config) *time.Duration
}

// settings are the pool's settings, in the README's order.
var settings = [numSettings]setting{
	sMaxConns: {
		param: "pool_max_conns", option: "WithMaxConns", def: "max(10, number of CPUs)",
		values: "a whole number, 1 to 100000",
		doc:    "hard cap on physical connections, idle, in use and being dialed; at most 100000",
		parse:  intParam(func(c *config) *int { return &c.maxConns }), emptyHint: "e.g. pool_max_conns=10",
		show: func(ps *poolState) string { return strconv.Itoa(ps.cfg.maxConns) },
	},
	sMinConns: {
		param: "pool_min_conns", option: "WithMinConns", def: "0",
		values: "a whole number, 0 to pool_max_conns",
		doc:    "connections kept open by the health check",
		parse:  intParam(func(c *config) *int { return &c.minConns }), emptyHint: "e.g. pool_min_conns=2",
		show: func(ps *poolState) string { return strconv.Itoa(ps.cfg.minConns) },
	},
	sMinIdleConns: {
		param: "pool_min_idle_conns", option: "WithMinIdleConns", def: "0",
		values: "a whole number, 0 to pool_max_conns",
		doc:    "idle connections kept ready, within the cap",
		parse:  intParam(func(c *config) *int { return &c.minIdleConns }), emptyHint: "e.g. pool_min_idle_conns=2",
		show: func(ps *poolState) string { return strconv.Itoa(ps.cfg.minIdleConns) },
	},
	sMaxConnLifetime: durationSetting("pool_max_conn_lifetime", "WithMaxConnLifetime", "1h",
		"a connection is closed when released or found idle after this (never while in use)",
		"30m", "1h30m", func(c *config) *time.Duration { return &c.maxConnLifetime }),
	sMaxConnLifetimeJitter: {
		param: "pool_max_conn_lifetime_jitter", option: "WithMaxConnLifetimeJitter", def: "lifetime ÷ 10",
		values: "a duration (5m, 90s), 0 or more",
		doc:    "a random 0..jitter added to each connection's lifetime",
		parse:  durationParam("5m", "90s", func(c *config) *time.Duration { return &c.maxConnLifetimeJitter }), emptyHint: "e.g. pool_max_conn_lifetime_jitter=5m",
		show: func(ps *poolState) string { return formatDuration(ps.cfg.lifetimeJitter()) },
		dur:  func(c *config) *time.Duration { return &c.maxConnLifetimeJitter },
	},
	sMaxConnIdleTime: durationSetting("pool_max_conn_idle_time", "WithMaxConnIdleTime", "30m",
		"idle connections older than this are closed, not below `pool_min_conns`",
		"30m", "1h", func(c *config) *time.Duration { return &c.maxConnIdleTime }),
	sHealthCheckPeriod: durationSetting("pool_health_check_period", "WithHealthCheckPeriod", "1m",
		"how often the background check retires, pings (keepalive) and refills",
		"1m", "30s", func(c *config) *time.Duration { return &c.healthCheckPeriod }),
	sAcquireTimeout: durationSetting("pool_acquire_timeout", "WithAcquireTimeout", "30s",
		"how long an operation waits for a connection, on top of its context; also the bound on each dial, kept even by drivers that ignore contexts during their handshake (lib/pq)",
		"30s", "1m", func(c *config) *time.Duration { return &c.acquireTimeout }),
	sPingIdleAfter: {
		param: "pool_ping_idle_after", option: "WithPingIdleAfter", def: "1s",
		values: "a duration, 0 or more; 0 pings before every hand-out",
		doc:    "ping a connection before hand-out when it has been idle this long; `0` = always",
		parse: func(s *setting, c *config, v string) error {
			// Negative means "never ping" in Go; in a DSN it is more
			// likely a typo than a choice.
			var d time.Duration
			if err := parseDuration(s.param, v, "1s", "500ms", &d); err != nil {
				return err
			}
			if d < 0 {
				return fmt.Errorf("sqlpool: pool_ping_idle_after must be >= 0 (0 pings before every hand-out), got %v", d)
			}
			c.pingIdleAfter = d
			return nil
		},
		emptyHint: "e.g. pool_ping_idle_after=1s",
		show: func(ps *poolState) string {
			if ps.cfg.pingIdleAfter < 0 {
				return "never" // Go only: WithPingIdleAfter(-1)
			}
			return formatDuration(ps.cfg.pingIdleAfter)
		},
	},
	sPingTimeout: durationSetting("pool_ping_timeout", "WithPingTimeout", "5s",
		"bound on each validation ping, kept even by drivers that ignore contexts (lib/pq's `Ping`): a connection whose ping overruns it is given up, as on a network that went silent",
		"5s", "500ms", func(c *config) *time.Duration { return &c.pingTimeout }),
	sValidationQuery: {
		param: "pool_validation_query", option: "WithValidationQuery", def: "none",
		values: "a statement; empty for driver.Pinger only",
		doc:    "statement that validates connections of drivers without `driver.Pinger`",
		// An empty value is the default, "use driver.Pinger only", and
		// overrides WithValidationQuery.
		parse: stringParam(func(c *config) *string { return &c.validationQuery }),
		show:  func(ps *poolState) string { return ps.shownStatement(ps.cfg.validationQuery) },
	},
	sReuse: {
		param: "pool_reuse", option: "WithFIFOReuse", def: "`lifo`",
		values: "lifo or fifo",
		doc:    "`lifo` reuses the most recently used idle connection (a small warm set; idle timeout retires the rest), `fifo` the least recently used",
		parse: func(s *setting, c *config, v string) error {
			if v != "lifo" && v != "fifo" {
				return fmt.Errorf("sqlpool: %s: %q is not lifo or fifo", s.param, echoParam(v))
			}
			c.reuseFIFO = v == "fifo"
			return nil
		},
		emptyHint: "pool_reuse=lifo or pool_reuse=fifo",
		show: func(ps *poolState) string {
			if ps.cfg.reuseFIFO {
				return "fifo"
			}
			return "lifo"
		},
	},
	sStmtCacheSize: {
		param: "pool_stmt_cache_size", option: "WithStmtCacheSize", def: "256, 0 for SQLite",
		values: "a whole number, 0 or more",
		doc:    "prepared statements kept per physical connection (on MySQL at most half of the server's `max_prepared_stmt_count` over `pool_max_conns`); `0` = a statement lives for one hand-out",
		parse:  intParam(func(c *config) *int { return &c.stmtCacheSize }), emptyHint: "e.g. pool_stmt_cache_size=256",
		show: func(ps *poolState) string {
			n := ps.cfg.stmtCacheSize
			if l := ps.stmtLimit.Load(); l > 0 {
				n = min(n, int(l-1)) // bounded by the server (stmtCacheSize)
			}
			return strconv.Itoa(n)
		},
	},
	sLeakThreshold: durationSetting("pool_leak_threshold", "WithLeakThreshold", "2m",
		"report a connection the application holds longer than this ([Leak detection](#leak-detection)); `0` = off",
		"30s", "5m", func(c *config) *time.Duration { return &c.leakThreshold }),
	sLeakReclaim: boolSetting("pool_leak_reclaim", "WithLeakReclaim", "`false`",
		"`true`: also close a leaked connection after the threshold and free its slot",
		func(c *config) *bool { return &c.leakReclaim }),
	sOnLeak: {
		option: "WithOnLeak", def: "none",
		doc: "a function given each leak report, besides the log line",
	},
	sLogger: {
		option: "WithLogger", def: "`slog.Default()`",
		doc: "the logger of leak reports and of the pool's warnings",
	},
	sName: {
		param: "pool_name", option: "WithName", def: "driver name and a number",
		values:    "any text",
		doc:       "the pool's name in errors, `Stat` and metrics; `sql.DB`s opened with the same DSN and name share the pool",
		parse:     stringParam(func(c *config) *string { return &c.name }),
		emptyHint: "e.g. pool_name=orders",
		show:      func(ps *poolState) string { return ps.name },
	},
	sShare: boolSetting("pool_share", "WithShare", "`false`",
		"`true`: every `sql.Open` of the same DSN shares one pool, closed with the last `sql.DB` (never for an in-memory SQLite database)",
		func(c *config) *bool { return &c.share }),
	sResetSession: boolSetting("pool_reset_session", "WithResetSession", "`true`",
		"reset a session before it serves a connection that must not see its state ([Sessions](#sessions)); `false`: sessions pass on, as in a transaction pooler",
		func(c *config) *bool { return &c.resetSession }),
	sResetQuery: {
		param: "pool_reset_query", option: "WithResetQuery", def: "none",
		values: "statements; empty for the database's own reset",
		doc:    "statements that reset a session instead of the database's own reset ([Sessions](#sessions))",
		// An empty value is the default, the database's own reset.
		parse: stringParam(func(c *config) *string { return &c.resetQuery }),
		show:  func(ps *poolState) string { return ps.shownStatement(ps.cfg.resetQuery) },
	},
	sInitSQL: {
		param: "pool_init_sql", option: "WithInitSQL", def: "none",
		values: "statements, separated by \";\"",
		doc:    "statements, separated by `;`, run on every new session: after each dial and each reset",
		parse: func(s *setting, c *config, v string) error {
			if len(sqltext.Split(v, sqltext.Options{})) == 0 {
				return errors.New(`sqlpool: pool_init_sql holds no statement; give the statements every new session runs, separated by ";"`)
			}
			c.initSQL = []string{v}
			return nil
		},
		emptyHint: "e.g. pool_init_sql=SET search_path = app",
		show:      func(ps *poolState) string { return ps.shownStatement(strings.Join(ps.cfg.initSQL, "; ")) },
	},
	sAfterConnect: {
		option: "WithAfterConnect", def: "none",
		doc: "a function given the driver's connection after each dial and each reset, after `pool_init_sql`",
	},
	sTracing: {
		param: "pool_tracing", option: "WithTracing", def: "`true`",
		values: "true or false",
		doc:    "`false` turns OpenTelemetry spans and metrics off entirely ([OpenTelemetry](#opentelemetry))",
		parse: func(s *setting, c *config, v string) error {
			on, err := parseBool(s.param, v)
			c.tracingOff = !on
			return err
		},
		emptyHint: "pool_tracing=true or pool_tracing=false",
		show:      func(ps *poolState) string { return strconv.FormatBool(!ps.cfg.tracingOff) },
	},
	sQueryText: {
		param: "pool_trace_query_text", option: "WithQueryText", def: "`auto`",
		values: "auto, sanitized or off",
		doc:    "`db.query.text` on spans: `auto` (statements with arguments as they are, others with literals as `?`), `sanitized` (literals as `?` always), `off`",
		parse: func(s *setting, c *config, v string) error {
			i := slices.Index(queryTextNames[:], v)
			if i < 0 {
				return fmt.Errorf("sqlpool: %s: %q is not auto, sanitized or off", s.param, echoParam(v))
			}
			c.queryText = QueryText(i)
			return nil
		},
		emptyHint: "pool_trace_query_text=auto, pool_trace_query_text=sanitized or pool_trace_query_text=off",
		show:      func(ps *poolState) string { return ps.cfg.queryText.String() },
	},
	sSQLCommenter: boolSetting("pool_sqlcommenter", "WithSQLCommenter", "`false`",
		"`true` appends `/*traceparent='…'*/` to Exec and Query statements without a comment",
		func(c *config) *bool { return &c.sqlCommenter }),
	sTracerProvider: {
		option: "WithTracerProvider", def: "the global provider",
		doc: "the OpenTelemetry tracer provider of the pool's spans",
	},
	sMeterProvider: {
		option: "WithMeterProvider", def: "the global provider",
		doc: "the OpenTelemetry meter provider of the pool's metrics",
	},
}

// settingByParam finds the setting of a DSN parameter.
var settingByParam = func() map[string]settingID {
	m := make(map[string]settingID)
	for i := range settings {
		if s := &settings[i]; s.param != "" {
			m[s.param] = settingID(i)
		}
	}
	return m
}()

// poolParamNames are the DSN parameters, sorted, for error messages.
var poolParamNames = slices.Sorted(maps.Keys(settingByParam))

func durationSetting(param, option, def, doc, example, example2 string, field func(c *config) *time.Duration) setting {
	return setting{
		param: param, option: option, def: def, doc: doc, values: "a duration (" + example + ", " + example2 + "), 0 or more; 0 turns it off",
		parse: durationParam(example, example2, field), emptyHint: "e.g. " + param + "=" + example,
		show: func(ps *poolState) string { return formatDuration(*field(&ps.cfg)) },
		dur:  field,
	}
}

func boolSetting(param, option, def, doc string, field func(c *config) *bool) setting {
	return setting{
		param: param, option: option, def: def, doc: doc, values: "true or false",
		parse: func(s *setting, c *config, v string) error {
			b, err := parseBool(s.param, v)
			*field(c) = b
			return err
		},
		emptyHint: param + "=true or " + param + "=false",
		show:      func(ps *poolState) string { return strconv.FormatBool(*field(&ps.cfg)) },
	}
}

func intParam(field func(c *config) *int) func(s *setting, c *config, v string) error {
	return func(s *setting, c *config, v string) error {
		n, err := strconv.Atoi(v)
		example := strings.TrimPrefix(s.emptyHint, "e.g. ")
		if errors.Is(err, strconv.ErrRange) {
			return fmt.Errorf("sqlpool: %s: %q is out of range; write e.g. %s", s.param, echoParam(v), example)
		}
		if err != nil {
			return fmt.Errorf("sqlpool: %s: %q is not a whole number; write e.g. %s", s.param, echoParam(v), example)
		}
		*field(c) = n
		return nil
	}
}

func durationParam(example, example2 string, field func(c *config) *time.Duration) func(s *setting, c *config, v string) error {
	return func(s *setting, c *config, v string) error {
		return parseDuration(s.param, v, example, example2, field(c))
	}
}

func stringParam(field func(c *config) *string) func(s *setting, c *config, v string) error {
	return func(s *setting, c *config, v string) error {
		*field(c) = v
		return nil
	}
}

// durationSyntax matches what time.ParseDuration accepts but for range, so
// an overflow is not reported as a missing unit.
var durationSyntax = regexp.MustCompile(`^[-+]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$`)

func parseDuration(param, v, example, example2 string, d *time.Duration) error {
	var err error
	*d, err = time.ParseDuration(v)
	if err != nil && durationSyntax.MatchString(v) {
		return fmt.Errorf("sqlpool: %s: %q is out of range; the longest duration is %v", param, echoParam(v), maxDuration)
	}
	if err != nil {
		return fmt.Errorf("sqlpool: %s: %q is not a duration; write a number and a unit (h, m, s, ms, us or ns), e.g. %s=%s or %s", param, echoParam(v), param, example, example2)
	}
	return nil
}

func parseBool(param, v string) (bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("sqlpool: %s: %q is not true or false", param, echoParam(v))
	}
	return b, nil
}

// applyParams applies params to c (on top of whatever c holds), rejecting
// unknown names, empty and malformed values and duplicates. Ranges are
// validate's job.
func (c *config) applyParams(params []dsnParam) error {
	seen := make(map[string]bool, len(params))
	for _, p := range params {
		id, ok := settingByParam[p.key]
		if !ok {
			return unknownParamError(p.key)
		}
		s := &settings[id]
		if seen[p.key] {
			return fmt.Errorf("sqlpool: %s is given twice; keep one", p.key)
		}
		seen[p.key] = true
		if p.value == "" && s.emptyHint != "" {
			return fmt.Errorf("sqlpool: %s has no value; write %s", p.key, s.emptyHint)
		}
		if err := s.parse(s, c, p.value); err != nil {
			return err
		}
		c.mark(id)
	}
	return nil
}

// mark records that the setting id was given, by an option or in the DSN.
func (c *config) mark(id settingID) { c.set |= 1 << id }

// isSet reports whether the setting id was given.
func (c *config) isSet(id settingID) bool { return c.set&(1<<id) != 0 }

// settingsInForce returns the pool's settings in force, defaults included,
// as DSN parameters, in the README's order.
func (ps *poolState) settingsInForce() []Setting {
	out := make([]Setting, 0, numSettings)
	for i := range settings {
		s := &settings[i]
		if s.param == "" || s.show == nil {
			continue
		}
		if v := s.show(ps); v != "" {
			out = append(out, Setting{Name: s.param, Value: v})
		}
	}
	return out
}

// shownStatement is a statement setting as a snapshot shows it (see
// statementText); "" when not set.
func (ps *poolState) shownStatement(q string) string {
	if q == "" {
		return ""
	}
	if s := ps.statementText(q); s != "" {
		return s
	}
	return "(hidden: pool_trace_query_text=off)"
}

// settingsTable is the README's settings table, in Markdown.
func settingsTable() string {
	var b strings.Builder
	b.WriteString("| parameter | Go option | default | meaning |\n| --- | --- | --- | --- |\n")
	for i := range settings {
		s := &settings[i]
		param := ""
		if s.param != "" {
			param = "`" + s.param + "`"
		}
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s |\n", param, s.option, s.def, s.doc)
	}
	return b.String()
}

// settingsDoc is the list of DSN parameters in the package documentation
// (doc.go), as pgxpool's ParseConfig documents its own: each parameter,
// what it may be, and its default.
func settingsDoc() string {
	var b strings.Builder
	for i := range settings {
		s := &settings[i]
		if s.param == "" {
			continue
		}
		fmt.Fprintf(&b, "//	%s: %s (default %s)\n", s.param, s.values, strings.Trim(s.def, "`"))
	}
	return b.String()
}
