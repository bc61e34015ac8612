package sqlpool

import (
	"errors"
	"fmt"
	"maps"
	"math"
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
	show func(v inForce) string
	// dur is the field of a duration setting, which must be >= 0.
	dur func(c *config) *time.Duration
}

// inForce is what a setting's show reads: the pool's configuration and what
// the pool has learned since.
type inForce struct {
	cfg       *config
	name      string
	maxConns  int                   // pool_max_conns in force, after SetMaxConns
	minConns  int                   // pool_min_conns in force, after SetMinConns
	stmtLimit int64                 // the server's bound on the statement cache, 0 if none
	statement func(q string) string // a statement setting as shown; "" when unset
}

// settings are the pool's settings, in the README's order.
var settings = [numSettings]setting{
	sMaxConns: {
		param: "pool_max_conns", option: "WithMaxConns", def: "max(10, number of CPUs)",
		values: "a whole number, 1 to 100000",
		doc:    "hard cap on physical connections, idle, in use and being dialed; at most 100000",
		parse:  intParam(func(c *config) *int { return &c.maxConns }), emptyHint: "e.g. pool_max_conns=10",
		show: func(v inForce) string { return strconv.Itoa(v.maxConns) },
	},
	sMinConns: {
		param: "pool_min_conns", option: "WithMinConns", def: "0",
		values: "a whole number, 0 to pool_max_conns",
		doc:    "connections kept open by the health check",
		parse:  intParam(func(c *config) *int { return &c.minConns }), emptyHint: "e.g. pool_min_conns=2",
		show: func(v inForce) string { return strconv.Itoa(v.minConns) },
	},
	sMinIdleConns: {
		param: "pool_min_idle_conns", option: "WithMinIdleConns", def: "0",
		values: "a whole number, 0 to pool_max_conns",
		doc:    "idle connections kept ready, within the cap",
		parse:  intParam(func(c *config) *int { return &c.minIdleConns }), emptyHint: "e.g. pool_min_idle_conns=2",
		show: func(v inForce) string { return strconv.Itoa(v.cfg.minIdleConns) },
	},
	sMaxConnLifetime: durationSetting("pool_max_conn_lifetime", "WithMaxConnLifetime", "1h",
		"a connection is closed when released or found idle after this (never while in use)",
		"30m", "1h30m", func(c *config) *time.Duration { return &c.maxConnLifetime }),
	sMaxConnLifetimeJitter: {
		param: "pool_max_conn_lifetime_jitter", option: "WithMaxConnLifetimeJitter", def: "lifetime ÷ 10",
		values: "a duration (5m, 90s), 0 or more",
		doc:    "a random 0..jitter added to each connection's lifetime",
		parse:  durationParam("5m", "90s", func(c *config) *time.Duration { return &c.maxConnLifetimeJitter }), emptyHint: "e.g. pool_max_conn_lifetime_jitter=5m",
		show: func(v inForce) string { return formatDuration(v.cfg.lifetimeJitter()) },
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
		show: func(v inForce) string {
			if v.cfg.pingIdleAfter < 0 {
				return "never" // Go only: WithPingIdleAfter(-1)
			}
			return formatDuration(v.cfg.pingIdleAfter)
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
		show:  func(v inForce) string { return v.statement(v.cfg.validationQuery) },
	},
	sRequireWritable: boolSetting("pool_require_writable", "WithRequireWritable", "`false`",
		"`true`: every validation (pre-ping, keepalive, new dial) also checks that the server accepts writes, and a connection to a read-only one is closed ([Failover](#failover))",
		func(c *config) *bool { return &c.requireWritable }),
	sEvictCodes: {
		param: "pool_evict_codes", option: "WithEvictCodes", def: "none",
		values: "server error codes, separated by \",\"",
		doc:    "server error codes, separated by `,` (SQLSTATEs, SQLSTATE classes, MySQL error numbers), that also close the connection they came on, besides the read-only and connection-fatal ones ([Failover](#failover))",
		parse: func(s *setting, c *config, v string) error {
			c.evictCodes = strings.Split(v, ",")
			return nil
		},
		emptyHint: "e.g. pool_evict_codes=40001,1205",
		show:      func(v inForce) string { return strings.Join(v.cfg.evictCodes, ",") },
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
		show: func(v inForce) string {
			if v.cfg.reuseFIFO {
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
		show: func(v inForce) string {
			n := v.cfg.stmtCacheSize
			if l := v.stmtLimit; l > 0 {
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
	sAlertUtilization: {
		param: "pool_alert_utilization", option: "WithAlertUtilization", def: "0.8",
		values: "a number from 0 to 1; 0 turns it off",
		doc:    "alert when this share of `pool_max_conns` is in use on average over `pool_alert_window` ([Monitoring](#monitoring)); `0` = off",
		parse: func(s *setting, c *config, v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 || f > 1 || math.IsNaN(f) {
				return fmt.Errorf("sqlpool: %s: %q is not a number from 0 to 1; write e.g. %s=0.8 (80%% of pool_max_conns), or 0 for no utilization alert", s.param, echoParam(v), s.param)
			}
			c.alertUtilization = f
			return nil
		},
		emptyHint: "e.g. pool_alert_utilization=0.8",
		show:      func(v inForce) string { return strconv.FormatFloat(v.cfg.alertUtilization, 'g', -1, 64) },
	},
	sAlertWait: durationSetting("pool_alert_wait", "WithAlertWait", "250ms",
		"alert when the p99 wait for a connection over `pool_alert_window` is longer than this; `0` = off",
		"250ms", "1s", func(c *config) *time.Duration { return &c.alertWait }),
	sAlertWindow: durationSetting("pool_alert_window", "WithAlertWindow", "1m",
		"the span every alert reads, and the least time between two changes of one alert (each steady state logs once); `0` turns alerts off",
		"1m", "30s", func(c *config) *time.Duration { return &c.alertWindow }),
	sOnAlert: {
		option: "WithOnAlert", def: "none",
		doc: "a function given each alert as it fires and clears, besides the log line",
	},
	sName: {
		param: "pool_name", option: "WithName", def: "driver name and a number",
		values:    "any text",
		doc:       "the pool's name in errors, `Stat` and metrics; `sql.DB`s opened with the same DSN and name share the pool",
		parse:     stringParam(func(c *config) *string { return &c.name }),
		emptyHint: "e.g. pool_name=orders",
		show:      func(v inForce) string { return v.name },
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
		show:  func(v inForce) string { return v.statement(v.cfg.resetQuery) },
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
		show:      func(v inForce) string { return v.statement(strings.Join(v.cfg.initSQL, "; ")) },
	},
	sAfterConnect: {
		option: "WithAfterConnect", def: "none",
		doc: "a function given the driver's connection after each dial and each reset, after `pool_init_sql`",
	},
	sBeforeConnect: {
		option: "WithBeforeConnect", def: "none",
		doc: "a function that returns the inner DSN each dial uses: fresh credentials per connection ([Failover](#failover))",
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
		show:      func(v inForce) string { return strconv.FormatBool(!v.cfg.tracingOff) },
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
		show:      func(v inForce) string { return v.cfg.queryText.String() },
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
		show: func(v inForce) string { return formatDuration(*field(v.cfg)) },
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
		show:      func(v inForce) string { return strconv.FormatBool(*field(v.cfg)) },
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

// dsnParam is one pool_* parameter found in a DSN, value already unescaped.
type dsnParam struct{ key, value string }

func unknownParamError(key string) error {
	known := strings.Join(poolParamNames, ", ")
	if best, ok := closestParamName(key); ok {
		return fmt.Errorf("sqlpool: unknown DSN parameter %s; did you mean %s? (known: %s)", echoParam(key), best, known)
	}
	return fmt.Errorf("sqlpool: unknown DSN parameter %s (known: %s)", echoParam(key), known)
}

// closestParamName returns the known name nearest to key, if it is at most 3
// edits away. Ties go to the first name in sorted order.
func closestParamName(key string) (string, bool) {
	const maxDist = 3
	best, bestDist := "", maxDist+1
	for _, name := range poolParamNames {
		if max(len(name)-len(key), len(key)-len(name)) >= bestDist {
			continue // the distance is at least the length difference
		}
		if d := editDistance(key, name); d < bestDist {
			best, bestDist = name, d
		}
	}
	return best, best != ""
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// echoParam shortens a pool_* name or value quoted in an error message, so a
// runaway value (an unterminated quote that swallowed the rest of the DSN,
// say) is not printed whole.
func echoParam(s string) string {
	const limit = 64
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && s[cut]&0xC0 == 0x80 { // don't split a UTF-8 sequence
		cut--
	}
	return s[:cut] + "..."
}

// validate checks the settings together. Each error names the DSN parameter,
// the value and what is allowed.
func (c *config) validate() error {
	maxConns := fmt.Sprint(c.maxConns) // as min > max errors show it
	if !c.isSet(sMaxConns) {
		maxConns += ", the default: " + settings[sMaxConns].def
	}
	switch {
	case c.maxConns < 1:
		return fmt.Errorf("sqlpool: pool_max_conns must be >= 1, got %d", c.maxConns)
	case c.maxConns > maxPoolConns:
		return fmt.Errorf("sqlpool: pool_max_conns must be <= %d, got %d; lower it to what the database server accepts", maxPoolConns, c.maxConns)
	case c.minConns < 0:
		return fmt.Errorf("sqlpool: pool_min_conns must be >= 0, got %d", c.minConns)
	case c.minConns > c.maxConns:
		return fmt.Errorf("sqlpool: pool_min_conns (%d) must not exceed pool_max_conns (%s); lower pool_min_conns or raise pool_max_conns", c.minConns, maxConns)
	case c.minIdleConns < 0:
		return fmt.Errorf("sqlpool: pool_min_idle_conns must be >= 0, got %d", c.minIdleConns)
	case c.minIdleConns > c.maxConns:
		return fmt.Errorf("sqlpool: pool_min_idle_conns (%d) must not exceed pool_max_conns (%s); lower pool_min_idle_conns or raise pool_max_conns", c.minIdleConns, maxConns)
	case c.stmtCacheSize < 0:
		return fmt.Errorf("sqlpool: pool_stmt_cache_size must be >= 0, got %d", c.stmtCacheSize)
	case c.leakReclaim && c.leakThreshold == 0:
		return fmt.Errorf("sqlpool: pool_leak_reclaim=true needs leak detection; set pool_leak_threshold > 0 (e.g. pool_leak_threshold=5m) or drop pool_leak_reclaim")
	case c.resetQuery != "" && !c.resetSession:
		return fmt.Errorf("sqlpool: pool_reset_query is set but pool_reset_session=false turns session resets off; drop one of them")
	}
	for _, code := range c.evictCodes {
		if !evictCodeSyntax.MatchString(normalCode(code)) {
			return fmt.Errorf("sqlpool: pool_evict_codes: %q is not a server error code; write SQLSTATEs (40001), SQLSTATE classes (40) or MySQL error numbers (1205), separated by \",\"", echoParam(code))
		}
	}
	for i := range settings {
		if s := &settings[i]; s.dur != nil && *s.dur(c) < 0 {
			return fmt.Errorf("sqlpool: %s must be >= 0 (0 turns it off), got %v", s.param, *s.dur(c))
		}
	}
	// Each connection lives for the lifetime plus a random part of the
	// jitter: the sum must be a time.Duration, or it wraps to a negative
	// lifetime and every connection is retired as soon as it is released.
	if life, jitter := c.maxConnLifetime, c.lifetimeJitter(); life > 0 && life > maxDuration-jitter {
		if c.isSet(sMaxConnLifetimeJitter) {
			return fmt.Errorf("sqlpool: pool_max_conn_lifetime (%v) plus pool_max_conn_lifetime_jitter (%v) exceeds the longest duration, %v; lower them, or write pool_max_conn_lifetime=0 for no limit", life, jitter, maxDuration)
		}
		return fmt.Errorf("sqlpool: pool_max_conn_lifetime (%v) plus its default jitter, a tenth of it (%v), exceeds the longest duration, %v; lower it, or write pool_max_conn_lifetime=0 for no limit", life, jitter, maxDuration)
	}
	return nil
}

// maxDuration is the longest time.Duration.
const maxDuration = time.Duration(1<<63 - 1)

// formatDuration writes d as a DSN would: "1h" rather than time's "1h0m0s".
func formatDuration(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
