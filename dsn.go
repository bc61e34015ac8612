package sqlpool

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sqlpool/sqlpool/internal/sqltext"
	"github.com/sqlpool/sqlpool/tracing"
)

// This file parses sqlpool's DSN, "<inner driver name>:<inner DSN>", and takes
// the pool_* parameters out of the inner DSN before the inner driver sees it.
// Two inner DSN shapes carry parameters:
//
//   - query form: everything with a "?query" part, whatever comes before it:
//     URLs (postgres://u:p@h/db?sslmode=disable), SQLite URIs
//     (file:app.db?_busy_timeout=5000) and go-sql-driver/mysql DSNs
//     (u:p@tcp(h:3306)/db?parseTime=true);
//   - keyword form, libpq's "host=h dbname=d password='a b'".
//
// Parameters that are not pool_* keep their exact text and order: the inner
// driver, not sqlpool, decides what they mean.
//
// Nothing from the DSN except pool_* names and values ever goes into an error
// message: a DSN usually holds a password. Inner drivers are less careful
// (lib/pq and net/url quote whole URLs in parse errors), so secretsIn and
// redactError scrub their errors.

// dsnParam is one pool_* parameter found in a DSN, value already unescaped.
type dsnParam struct{ key, value string }

// errNoDriverName is splitDSN's one error. It never quotes the DSN.
var errNoDriverName = errors.New(`sqlpool: DSN must start with the inner driver's name and a colon, e.g. "postgres:postgres://user@host/db" or "sqlite3:file:app.db"; got no driver name`)

// splitDSN splits "<inner driver name>:<inner DSN>" at the first ':'.
//
// A driver name is letters, digits, '_', '-', '.' and '/' (pgx registers
// itself as "pgx/v5" too). A DSN given without the driver name in front,
// such as "postgres://u@h/db", splits into a valid-looking name and an inner
// DSN starting with "//"; no driver takes that, so it gets the same error.
func splitDSN(dsn string) (driverName, innerDSN string, err error) {
	name, inner, ok := strings.Cut(dsn, ":")
	if !ok || !isDriverName(name) || strings.HasPrefix(inner, "//") {
		return "", "", errNoDriverName
	}
	return name, inner, nil
}

// SplitDSN splits the sqlpool DSN dsn, "<inner driver name>:<inner DSN>",
// into the inner driver's name and the DSN sqlpool hands that driver: the
// inner DSN with every pool_* parameter removed and the rest kept byte for
// byte. It lets a program open the same database without the pool (a
// migration tool, for example):
//
//	name, inner, err := sqlpool.SplitDSN(dsn)
//	if err != nil {
//		return err
//	}
//	raw, err := sql.Open(name, inner)
//
// SplitDSN checks the DSN as sql.Open("sqlpool", dsn) does, and fails with
// the same error where that would fail on the DSN itself: there is no driver
// name in front, or a pool_* parameter is unknown, given twice, malformed or
// out of range. It reads nothing of the inner DSN but the pool_* parameters
// and does not check that the inner driver is registered: sql.Open(name,
// inner) does both. Its errors never hold the DSN's password.
func SplitDSN(dsn string) (driverName, innerDSN string, err error) {
	name, inner, err := splitDSN(dsn)
	if err != nil {
		return "", "", err
	}
	_, clean, err := buildConfig(inner, nil)
	if err != nil {
		// buildConfig quotes only pool_* names and values; a password
		// can still get into one through a broken quote or escape.
		return "", "", redactError(err, secretsIn(inner))
	}
	return name, clean, nil
}

// PoolParams returns the pool_* parameters set in the sqlpool DSN dsn, by
// name, with their values URL-unescaped (query form) or unquoted (keyword
// form). A parameter the DSN does not set is absent from the map, not filled
// in with its default. PoolParams checks the DSN as SplitDSN does and fails
// with the same errors, so every value it returns is valid: a duration
// parses with time.ParseDuration, a count with strconv.Atoi.
func PoolParams(dsn string) (map[string]string, error) {
	if _, _, err := SplitDSN(dsn); err != nil {
		return nil, err
	}
	_, inner, _ := splitDSN(dsn)
	_, params, _ := extractPoolParams(inner) // SplitDSN has read them
	m := make(map[string]string, len(params))
	for _, p := range params {
		m[p.key] = p.value
	}
	return m, nil
}

// RedactDSN returns the sqlpool DSN dsn with every password in it replaced
// by "xxxxx", for logs and messages; everything else, pool_* parameters
// included, is kept as written. It finds passwords as sqlpool does to keep
// them out of its own errors: the password of a URL's or a
// go-sql-driver/mysql DSN's user:password@, and the value of a keyword or
// query parameter named password, sslpassword, passwd, pwd or _auth_pass
// (go-sqlite3). Where drivers could read a password differently (a raw '@',
// '/', '?' or space in it), every reading is hidden, so a little more than
// the password may go.
//
// A dsn without a driver name in front ("postgres://app:pw@db/app") is
// redacted as an inner DSN. But an inner DSN that starts with a word and a
// colon, such as mysql's "app:pw@tcp(db)/app", reads as a sqlpool DSN whose
// driver is that word: put the inner driver's name in front to redact it.
// RedactDSN does not check the DSN; it redacts one that sqlpool would reject
// all the same.
func RedactDSN(dsn string) string {
	prefix, inner := "", dsn
	if name, in, err := splitDSN(dsn); err == nil {
		prefix, inner = name+":", in
	}
	redacted, _ := redactString(inner, secretsIn(inner))
	return prefix + redacted
}

// RedactError returns err with the passwords of dsn masked in its message,
// found as RedactDSN finds them: for the errors of an inner driver used
// directly, which may quote its DSN (lib/pq's error for a URL it cannot
// parse quotes the URL whole). sqlpool's own errors need no such care.
// dsn is a sqlpool DSN or an inner one. nil stays nil, and an error whose
// message holds no password comes back as it is; errors.Is and errors.As
// still reach what err wraps, except errors that themselves show a password.
func RedactError(err error, dsn string) error {
	if err == nil {
		return nil
	}
	inner := dsn
	if _, in, serr := splitDSN(dsn); serr == nil {
		inner = in
	}
	return redactError(err, secretsIn(inner))
}

func isDriverName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '_', c == '-', c == '.', c == '/':
		default:
			return false
		}
	}
	return true
}

// poolParamPrefix marks the parameters sqlpool takes out of the inner DSN.
const poolParamPrefix = "pool_"

// extractPoolParams removes every pool_* parameter from the inner DSN and
// returns the DSN the inner driver must see, and the parameters in order.
// Without pool_* parameters it returns innerDSN itself, byte for byte.
//
// In query form, keys and pool_* values are URL-unescaped ('+' is a space);
// in keyword form, values follow libpq's quoting ('...' with \' and \\).
// Errors name the parameter but quote nothing else from the DSN.
func extractPoolParams(innerDSN string) (clean string, params []dsnParam, err error) {
	if isKeywordDSN(innerDSN) {
		return extractKeywordPoolParams(innerDSN)
	}
	return extractQueryPoolParams(innerDSN)
}

// keywordDSNStart is how a libpq keyword=value DSN starts. No URL, SQLite
// URI or mysql DSN starts this way: a scheme or user name is followed by ':'
// or '@', which the first keyword cannot contain.
var keywordDSNStart = regexp.MustCompile(`^\s*[A-Za-z_][A-Za-z0-9_.]*\s*=`)

func isKeywordDSN(s string) bool { return keywordDSNStart.MatchString(s) }

func extractQueryPoolParams(s string) (string, []dsnParam, error) {
	qStart, qEnd := findQuery(s)
	if qStart < 0 {
		return s, nil, nil
	}
	var (
		params []dsnParam
		kept   []string
	)
	for seg := range strings.SplitSeq(s[qStart:qEnd], "&") {
		rawKey, rawValue, _ := strings.Cut(seg, "=")
		key := rawKey
		if strings.ContainsAny(rawKey, "%+") {
			if k, err := url.QueryUnescape(rawKey); err == nil {
				key = k
			} else if strings.HasPrefix(rawKey, poolParamPrefix) {
				return "", nil, fmt.Errorf("sqlpool: %s: the parameter name is not valid URL escaping; write a literal %% as %%25", echoParam(rawKey))
			}
		}
		if !strings.HasPrefix(key, poolParamPrefix) {
			if seg != "" {
				kept = append(kept, seg)
			}
			continue
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			return "", nil, fmt.Errorf("sqlpool: %s: %q is not valid URL escaping; write a literal %% as %%25", echoParam(key), echoParam(rawValue))
		}
		params = append(params, dsnParam{key, value})
	}
	if len(params) == 0 {
		return s, nil, nil
	}
	var b strings.Builder
	b.WriteString(s[:qStart-1]) // up to, not including, the '?'
	if len(kept) > 0 {
		b.WriteByte('?')
		b.WriteString(strings.Join(kept, "&"))
	}
	b.WriteString(s[qEnd:]) // the fragment, if any
	return b.String(), params, nil
}

// findQuery returns the query of a query-form DSN as s[start:end] (start is
// just after the '?', end is at the '#' of a fragment or len(s)), or -1, -1.
// Each inner driver finds its query its own way, and passwords are often
// written without percent-encoding, so the search for the '?' starts:
//
//   - in URLs ("://"), after the userinfo: up to the last '@' before the
//     first '/'. net/url also takes the last '@'; stopping only at '/' also
//     skips a raw '?' or '#' in a password, which libpq and pgx accept.
//   - in mysql DSNs (the text before the last '/' contains '@', ends with
//     ')' or is empty), after the last '/', as go-sql-driver/mysql does: its
//     passwords may hold any byte, and its parameter values must escape '/'.
//   - in anything else (SQLite's file:app.db?..., :memory:), at the start,
//     as mattn/go-sqlite3 does, so a query value may contain '/'.
//
// A '#' before the '?' means there is no query.
func findQuery(s string) (start, end int) {
	from := 0
	if i := strings.Index(s, "://"); i >= 0 {
		from = i + len("://")
		auth := s[from:]
		if slash := strings.IndexByte(auth, '/'); slash >= 0 {
			auth = auth[:slash]
		}
		if at := strings.LastIndexByte(auth, '@'); at >= 0 {
			from += at + 1
		}
	} else if slash := strings.LastIndexByte(s, '/'); slash >= 0 {
		if before := s[:slash]; before == "" || strings.HasSuffix(before, ")") || strings.Contains(before, "@") {
			from = slash + 1
		}
	}
	rest := s[from:]
	q := strings.IndexByte(rest, '?')
	if h := strings.IndexByte(rest, '#'); q < 0 || (h >= 0 && h < q) {
		return -1, -1
	}
	start = from + q + 1
	end = len(s)
	if h := strings.IndexByte(s[start:], '#'); h >= 0 {
		end = start + h
	}
	return start, end
}

// kvToken is one keyword=value setting of a libpq keyword DSN.
type kvToken struct {
	start, end int    // the setting's text is s[start:end]
	key        string // as written
	value      string // unquoted and unescaped
	rawValue   string // as written, without the enclosing quotes
}

var errKeywordMissingEquals = errors.New(`a keyword is not followed by "="`)
var errKeywordUnterminated = errors.New("a quoted value has no closing quote")

// parseKeywordDSN splits s as libpq's conninfo_parse does: settings
// separated by white space, "key = value" with optional spaces around '=',
// values either bare (up to white space) or in single quotes, '\' escaping
// the next byte in both. On an error it returns the settings read so far,
// and for an unterminated quote a last setting whose value runs to the end.
func parseKeywordDSN(s string) ([]kvToken, error) {
	var toks []kvToken
	i := 0
	for {
		for i < len(s) && isLibpqSpace(s[i]) {
			i++
		}
		if i == len(s) {
			return toks, nil
		}
		tok, err := parseKeywordSetting(s, i)
		if err == errKeywordMissingEquals {
			return toks, err
		}
		toks = append(toks, tok)
		if err != nil {
			return toks, err
		}
		i = tok.end
	}
}

// parseKeywordSetting reads the setting that starts at s[start], which is
// not white space.
func parseKeywordSetting(s string, start int) (kvToken, error) {
	i := start
	skipSpace := func() {
		for i < len(s) && isLibpqSpace(s[i]) {
			i++
		}
	}
	for i < len(s) && s[i] != '=' && !isLibpqSpace(s[i]) {
		i++
	}
	key := s[start:i]
	skipSpace()
	if i == len(s) || s[i] != '=' {
		return kvToken{}, errKeywordMissingEquals
	}
	i++
	skipSpace()
	quoted := i < len(s) && s[i] == '\''
	if quoted {
		i++
	}
	vstart := i
	var v strings.Builder
	for i < len(s) {
		c := s[i]
		if c == '\\' {
			i++
			if i < len(s) {
				v.WriteByte(s[i])
				i++
			}
			continue
		}
		if quoted && c == '\'' || !quoted && isLibpqSpace(c) {
			break
		}
		v.WriteByte(c)
		i++
	}
	tok := kvToken{start: start, key: key, value: v.String(), rawValue: s[vstart:i]}
	if quoted {
		if i == len(s) {
			tok.end = i
			return tok, errKeywordUnterminated
		}
		i++ // the closing quote
	}
	tok.end = i
	return tok, nil
}

// isLibpqSpace is C's isspace, which libpq uses between settings.
func isLibpqSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func extractKeywordPoolParams(s string) (string, []dsnParam, error) {
	toks, err := parseKeywordDSN(s)
	if err != nil {
		// Let the inner driver report its own DSN's syntax, unless pool
		// settings may be lost in it.
		if !strings.Contains(s, poolParamPrefix) {
			return s, nil, nil
		}
		return "", nil, fmt.Errorf("sqlpool: cannot find the pool_* parameters in the keyword=value DSN: %v; quote values with spaces as key='a b', and write ' and \\ inside quotes as \\' and \\\\", err)
	}
	var params []dsnParam
	for _, t := range toks {
		if strings.HasPrefix(t.key, poolParamPrefix) {
			params = append(params, dsnParam{t.key, t.value})
		}
	}
	if len(params) == 0 {
		return s, nil, nil
	}
	// Keep the other settings' exact text, the white space before the first
	// and after the last, and the separator in front of each kept setting.
	var b strings.Builder
	kept := 0
	for i, t := range toks {
		if strings.HasPrefix(t.key, poolParamPrefix) {
			continue
		}
		if kept == 0 {
			b.WriteString(s[:toks[0].start])
		} else if sep := s[toks[i-1].end:t.start]; sep != "" {
			b.WriteString(sep)
		} else {
			// libpq allows key='a'key2=b; without the quote, a space is
			// needed to keep the settings apart.
			b.WriteByte(' ')
		}
		b.WriteString(s[t.start:t.end])
		kept++
	}
	if kept > 0 {
		b.WriteString(s[toks[len(toks)-1].end:])
	}
	return b.String(), params, nil
}

// paramKind is how a pool_* parameter's value is written.
type paramKind int

const (
	kindInt paramKind = iota
	kindDuration
	kindString
	kindReuse
	kindBool
	kindQueryText
)

// poolParam describes one pool_* parameter: its kind, an example value for
// error messages, and the config field it sets.
type poolParam struct {
	kind     paramKind
	example  string // a typical value
	example2 string // for durations, another, showing a second unit
	setInt   func(c *config, n int)
	setDur   func(c *config, d time.Duration)
	setStr   func(c *config, s string) // kindString and kindReuse
	setBool  func(c *config, b bool)
}

// poolParams are the pool_* parameters, with pgxpool's names where pgxpool
// has the setting. options.go documents each field.
var poolParams = map[string]poolParam{
	"pool_max_conns":                {kind: kindInt, example: "10", setInt: func(c *config, n int) { c.maxConns, c.maxConnsSet = n, true }},
	"pool_min_conns":                {kind: kindInt, example: "2", setInt: func(c *config, n int) { c.minConns = n }},
	"pool_min_idle_conns":           {kind: kindInt, example: "2", setInt: func(c *config, n int) { c.minIdleConns = n }},
	"pool_stmt_cache_size":          {kind: kindInt, example: "256", setInt: func(c *config, n int) { c.stmtCacheSize, c.stmtCacheSet = n, true }},
	"pool_max_conn_lifetime":        {kind: kindDuration, example: "30m", example2: "1h30m", setDur: func(c *config, d time.Duration) { c.maxConnLifetime = d }},
	"pool_max_conn_lifetime_jitter": {kind: kindDuration, example: "5m", example2: "90s", setDur: func(c *config, d time.Duration) { c.maxConnLifetimeJitter, c.jitterSet = d, true }},
	"pool_max_conn_idle_time":       {kind: kindDuration, example: "30m", example2: "1h", setDur: func(c *config, d time.Duration) { c.maxConnIdleTime = d }},
	"pool_health_check_period":      {kind: kindDuration, example: "1m", example2: "30s", setDur: func(c *config, d time.Duration) { c.healthCheckPeriod = d }},
	"pool_acquire_timeout":          {kind: kindDuration, example: "30s", example2: "1m", setDur: func(c *config, d time.Duration) { c.acquireTimeout = d }},
	"pool_ping_idle_after":          {kind: kindDuration, example: "1s", example2: "500ms", setDur: func(c *config, d time.Duration) { c.pingIdleAfter = d }},
	"pool_ping_timeout":             {kind: kindDuration, example: "5s", example2: "500ms", setDur: func(c *config, d time.Duration) { c.pingTimeout = d }},
	"pool_leak_threshold":           {kind: kindDuration, example: "30s", example2: "5m", setDur: func(c *config, d time.Duration) { c.leakThreshold = d }},
	"pool_leak_reclaim":             {kind: kindBool, example: "true", setBool: func(c *config, b bool) { c.leakReclaim = b }},
	"pool_validation_query":         {kind: kindString, example: "SELECT 1", setStr: func(c *config, s string) { c.validationQuery = s }},
	"pool_name":                     {kind: kindString, example: "orders", setStr: func(c *config, s string) { c.name = s }},
	"pool_reuse":                    {kind: kindReuse, example: "fifo", setStr: func(c *config, s string) { c.reuseFIFO = s == "fifo" }},
	"pool_tracing":                  {kind: kindBool, example: "false", setBool: func(c *config, b bool) { c.tracingOff = !b }},
	"pool_trace_query_text":         {kind: kindQueryText, example: "sanitized", setStr: func(c *config, s string) { c.queryText, _ = tracing.ParseQueryText(s) }},
	"pool_sqlcommenter":             {kind: kindBool, example: "true", setBool: func(c *config, b bool) { c.sqlCommenter = b }},
	"pool_share":                    {kind: kindBool, example: "true", setBool: func(c *config, b bool) { c.share = b }},
	"pool_reset_session":            {kind: kindBool, example: "false", setBool: func(c *config, b bool) { c.resetSession = b }},
	"pool_reset_query":              {kind: kindString, example: "DISCARD ALL", setStr: func(c *config, s string) { c.resetQuery = s }},
	"pool_init_sql":                 {kind: kindString, example: "SET search_path = app", setStr: func(c *config, s string) { c.initSQL = []string{s} }},
}

// poolParamNames is poolParams' keys, sorted, for error messages.
var poolParamNames = slices.Sorted(maps.Keys(poolParams))

// durationSyntax matches what time.ParseDuration accepts but for range, so
// an overflow is not reported as a missing unit.
var durationSyntax = regexp.MustCompile(`^[-+]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$`)

// applyParams applies params to c (on top of whatever c holds), rejecting
// unknown names, malformed values and duplicates. Ranges are validate's job,
// except that a negative pool_ping_idle_after, which means "never ping" in
// Go, is refused here: in a DSN it is more likely a typo than a choice.
func (c *config) applyParams(params []dsnParam) error {
	seen := make(map[string]bool, len(params))
	for _, p := range params {
		def, ok := poolParams[p.key]
		if !ok {
			return unknownParamError(p.key)
		}
		if seen[p.key] {
			return fmt.Errorf("sqlpool: %s is given twice; keep one", p.key)
		}
		seen[p.key] = true

		// An empty pool_validation_query is allowed: it is the default,
		// "use driver.Pinger only", and overrides WithValidationQuery; so is
		// an empty pool_reset_query, the database's own reset.
		if p.value == "" && p.key != "pool_validation_query" && p.key != "pool_reset_query" {
			switch def.kind {
			case kindReuse:
				return fmt.Errorf("sqlpool: %s has no value; write %s=lifo or %s=fifo", p.key, p.key, p.key)
			case kindBool:
				return fmt.Errorf("sqlpool: %s has no value; write %s=true or %s=false", p.key, p.key, p.key)
			case kindQueryText:
				return fmt.Errorf("sqlpool: %s has no value; write %s=auto, %s=sanitized or %s=off", p.key, p.key, p.key, p.key)
			}
			return fmt.Errorf("sqlpool: %s has no value; write e.g. %s=%s", p.key, p.key, def.example)
		}

		switch def.kind {
		case kindInt:
			n, err := strconv.Atoi(p.value)
			if errors.Is(err, strconv.ErrRange) {
				return fmt.Errorf("sqlpool: %s: %q is out of range; write e.g. %s=%s", p.key, echoParam(p.value), p.key, def.example)
			}
			if err != nil {
				return fmt.Errorf("sqlpool: %s: %q is not a whole number; write e.g. %s=%s", p.key, echoParam(p.value), p.key, def.example)
			}
			def.setInt(c, n)
		case kindDuration:
			d, err := time.ParseDuration(p.value)
			if err != nil && durationSyntax.MatchString(p.value) {
				return fmt.Errorf("sqlpool: %s: %q is out of range; the longest duration is %v", p.key, echoParam(p.value), maxDuration)
			}
			if err != nil {
				return fmt.Errorf("sqlpool: %s: %q is not a duration; write a number and a unit (h, m, s, ms, us or ns), e.g. %s=%s or %s", p.key, echoParam(p.value), p.key, def.example, def.example2)
			}
			if d < 0 && p.key == "pool_ping_idle_after" {
				return fmt.Errorf("sqlpool: pool_ping_idle_after must be >= 0 (0 pings before every hand-out), got %v", d)
			}
			def.setDur(c, d)
		case kindString:
			if p.key == "pool_init_sql" && len(sqltext.Split(p.value, sqltext.Options{})) == 0 {
				return fmt.Errorf(`sqlpool: pool_init_sql holds no statement; give the statements every new session runs, separated by ";"`)
			}
			def.setStr(c, p.value)
		case kindReuse:
			if p.value != "lifo" && p.value != "fifo" {
				return fmt.Errorf("sqlpool: %s: %q is not lifo or fifo", p.key, echoParam(p.value))
			}
			def.setStr(c, p.value)
		case kindQueryText:
			if _, err := tracing.ParseQueryText(p.value); err != nil {
				return fmt.Errorf("sqlpool: %s: %q is not auto, sanitized or off", p.key, echoParam(p.value))
			}
			def.setStr(c, p.value)
		case kindBool:
			b, err := strconv.ParseBool(p.value)
			if err != nil {
				return fmt.Errorf("sqlpool: %s: %q is not true or false", p.key, echoParam(p.value))
			}
			def.setBool(c, b)
		}
	}
	return nil
}

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

// secretKeys are the parameters, in keyword or query form, whose values are
// passwords (compared case-insensitively: sqlserver's keys are). _auth_pass
// is go-sqlite3's, for a database with user authentication.
var secretKeys = []string{"password", "sslpassword", "passwd", "pwd", "_auth_pass"}

func isSecretKey(k string) bool {
	return slices.ContainsFunc(secretKeys, func(s string) bool { return strings.EqualFold(s, k) })
}

// secretsIn returns the secret strings (passwords) that appear in an inner
// DSN, in every form a driver accepts, so errors can be scrubbed: as written,
// percent-decoded and re-encoded for URL passwords, unquoted and as written
// for keyword values, and each of these as Go's %q prints it. Where the DSN
// is ambiguous (a raw '@', '/', '?' or '#' in a URL password, a space in an
// unquoted keyword password), it returns every candidate the drivers'
// parsers could pick, and the pieces they could quote: a wrong candidate
// only hides a little too much of an error message. The result has no empty
// strings and no duplicates, longest first.
func secretsIn(innerDSN string) []string {
	var out []string
	add := func(s string) {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	addEscaped := func(raw string) {
		add(raw)
		if dec, err := url.PathUnescape(raw); err == nil {
			add(dec)
			// The form url.URL.String and url.UserPassword print.
			_, enc, _ := strings.Cut(url.UserPassword("", dec).String(), ":")
			add(enc)
		}
		if dec, err := url.QueryUnescape(raw); err == nil {
			add(dec)
		}
	}

	// A raw '@', '/', '?' or '#' splits a URL password for some parser,
	// which may then quote a piece: net/url reads "u:pa/ss@h" as host "u",
	// port "pa", and says `invalid port ":pa"`; pgx reads "u:pa@ss@h" as host
	// "ss@h", and its own redaction of a broken URL may mask half a password.
	addURLPassword := func(raw string) {
		addEscaped(raw)
		for _, piece := range strings.FieldsFunc(raw, func(r rune) bool { return strings.ContainsRune("@/?#", r) }) {
			addEscaped(piece)
		}
	}

	if strings.Contains(innerDSN, "://") || strings.HasPrefix(innerDSN, "//") {
		for _, u := range urlUserinfos(innerDSN) {
			_, pw, ok := strings.Cut(u, ":")
			if !ok {
				continue
			}
			addURLPassword(pw)
		}
	}

	// go-sql-driver/mysql: [user[:password]@][net[(addr)]]/dbname[?params].
	// Its ParseDSN takes the last '/', then the last '@' before it, then the
	// first ':' before that, so the password may hold any byte. Whatever the
	// DSN's form, this reading is one more candidate, but in a URL it reads
	// "//user:password" or "//user", which the URL readings cover better.
	end := strings.LastIndexByte(innerDSN, '/')
	if end < 0 {
		end = len(innerDSN)
	}
	if at := strings.LastIndexByte(innerDSN[:end], '@'); at >= 0 {
		if _, pw, ok := strings.Cut(innerDSN[:at], ":"); ok && !strings.HasPrefix(pw, "//") {
			add(pw)
		}
	}

	// password=... in a query, as pgx and sqlserver accept. Drivers disagree
	// on where a query starts when a password holds a raw '?' or '@', and on
	// whether '#' ends it, so look at every piece after a '?' or '&'. A raw
	// '&' in the password makes its tail a parameter without '=', which pgx
	// quotes.
	queryForm := !isKeywordDSN(innerDSN)
	if queryForm {
		pieces := strings.FieldsFunc(innerDSN, func(r rune) bool { return r == '?' || r == '&' })
		for i, piece := range pieces {
			rawKey, rawValue, ok := strings.Cut(piece, "=")
			if !ok {
				continue
			}
			key, err := url.QueryUnescape(rawKey)
			if err != nil {
				key = rawKey
			}
			if !isSecretKey(key) {
				continue
			}
			addURLPassword(rawValue)
			if i+1 < len(pieces) && !strings.Contains(pieces[i+1], "=") {
				addURLPassword(pieces[i+1])
			}
		}
	}

	// Keyword settings, whatever the form (a keyword DSN may fail to parse
	// before its password): a secret key at the start or after a separator
	// (white space, '?', '&', ';', or the closing quote of the setting
	// before), read as libpq would. libpq reads "password=pa ss" as password "pa" and
	// a keyword "ss" missing its "=", and quotes "ss"; an unterminated quote
	// may be a password with a space, whose words pgx may quote.
	for i := 0; i < len(innerDSN); i++ {
		if i > 0 && !isLibpqSpace(innerDSN[i-1]) && !strings.ContainsRune("?&;'", rune(innerDSN[i-1])) {
			continue
		}
		if !slices.ContainsFunc(secretKeys, func(k string) bool {
			return len(innerDSN)-i >= len(k) && strings.EqualFold(innerDSN[i:i+len(k)], k)
		}) {
			continue
		}
		tok, err := parseKeywordSetting(innerDSN, i)
		if err == errKeywordMissingEquals || !isSecretKey(tok.key) {
			continue
		}
		value, rawValue := tok.value, tok.rawValue
		if queryForm && i > 0 && (innerDSN[i-1] == '?' || innerDSN[i-1] == '&') {
			// A query parameter: the query readings above have its
			// value, up to the next '&' and the piece after it. Read
			// on to white space, it would take the parameters after it
			// too, and RedactDSN would hide them.
			value, _, _ = strings.Cut(value, "&")
			rawValue, _, _ = strings.Cut(rawValue, "&")
		}
		add(value)
		add(rawValue)
		if err == errKeywordUnterminated {
			for _, w := range strings.FieldsFunc(tok.value, func(r rune) bool { return r < 0x80 && isLibpqSpace(byte(r)) }) {
				add(w)
			}
			continue
		}
		if w := strayKeywordAt(innerDSN, tok.end); w != "" {
			add(w)
		}
	}

	// ADO/ODBC style, "server=h;user id=u;password=p;".
	if strings.Contains(innerDSN, ";") {
		for part := range strings.SplitSeq(innerDSN, ";") {
			if k, v, ok := strings.Cut(part, "="); ok && isSecretKey(strings.TrimSpace(k)) {
				add(strings.TrimSpace(v))
			}
		}
	}

	// As %q prints them: net/url and most drivers quote what they reject.
	for _, s := range out {
		if q := strconv.Quote(s); q[1:len(q)-1] != s {
			add(q[1 : len(q)-1])
		}
	}

	slices.SortStableFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// strayKeywordAt returns the word at or after s[i] (after white space) if
// libpq would take it for a keyword without "=", else "".
func strayKeywordAt(s string, i int) string {
	for i < len(s) && isLibpqSpace(s[i]) {
		i++
	}
	start := i
	for i < len(s) && s[i] != '=' && !isLibpqSpace(s[i]) {
		i++
	}
	word := s[start:i]
	for i < len(s) && isLibpqSpace(s[i]) {
		i++
	}
	if i < len(s) && s[i] == '=' {
		return ""
	}
	return word
}

// urlUserinfos returns the userinfo of a URL DSN ("user:password") as each
// parser sees it; for a well-formed URL they all agree. The authority starts
// after "scheme://", or after a leading "//" as in net/url.
func urlUserinfos(s string) []string {
	var out []string
	rest, ok := strings.CutPrefix(s, "//")
	if !ok {
		rest = s[strings.Index(s, "://")+len("://"):]
	}

	// libpq and pgx: the first '@' if it comes before the first '/'.
	if j := strings.IndexAny(rest, "@/"); j >= 0 && rest[j] == '@' {
		out = append(out, rest[:j])
	}
	// net/url (lib/pq, most others): the authority ends at the first '#',
	// '?' or '/', and the userinfo at its last '@'.
	auth := rest
	if j := strings.IndexAny(auth, "#?/"); j >= 0 {
		auth = auth[:j]
	}
	if j := strings.LastIndexByte(auth, '@'); j >= 0 {
		out = append(out, auth[:j])
	}
	// A password with a raw '?' or '#': the last '@' before the first '/'
	// (what findQuery skips).
	auth = rest
	if j := strings.IndexByte(auth, '/'); j >= 0 {
		auth = auth[:j]
	}
	if j := strings.LastIndexByte(auth, '@'); j >= 0 {
		out = append(out, auth[:j])
	}
	// A password with a raw '/' (base64 has them): the last '@' of all,
	// unless that '@' is in a query value.
	if j := strings.LastIndexByte(rest, '@'); j >= 0 && !queryParamStart.MatchString(rest[:j]) {
		out = append(out, rest[:j])
	}
	return out
}

// queryParamStart finds a "?key=" or "&key=" in a URL.
var queryParamStart = regexp.MustCompile(`[?&][^?&#=]*=`)

// redactMask replaces each run of secret text in a redacted message.
const redactMask = "xxxxx"

// redactedError is an error whose message had secrets taken out. Unwrap
// returns what the original wraps, redacted the same way: the driver's error
// itself often quotes the secret (net/url's *url.Error quotes the whole URL),
// and errors.Unwrap, errors.As and error reporters that walk the chain would
// show it. Errors without a secret in their message come back as they are,
// so errors.Is(err, driver.ErrBadConn) works; the original is not reachable.
type redactedError struct {
	msg     string
	err     error // the original
	secrets []string
}

func (e *redactedError) Error() string { return e.msg }

// GoString is what %#v prints: the message only, never the original or
// the secrets.
func (e *redactedError) GoString() string {
	return fmt.Sprintf("&sqlpool.redactedError{msg:%q}", e.msg)
}

// showsSecret reports whether err, or an error it wraps, shows a secret
// where its message does not: in its fields, as %#v prints them (pgx's
// *pgconn.ParseConfigError masks the password in its message but keeps
// the connection string in a field).
func showsSecret(err error, secrets []string) bool {
	return anyInChain(err, func(e error) bool {
		if _, ok := e.(*redactedError); ok {
			return false
		}
		for _, form := range []string{e.Error(), fmt.Sprintf("%#v", e), fmt.Sprintf("%+v", e)} {
			if _, changed := redactString(form, secrets); changed {
				return true
			}
		}
		return false
	})
}
func (e *redactedError) Unwrap() error { return redactError(errors.Unwrap(e.err), e.secrets) }

// redactedErrors is a redactedError whose original wraps several errors.
type redactedErrors struct{ redactedError }

func (e *redactedErrors) Unwrap() []error {
	errs := e.err.(interface{ Unwrap() []error }).Unwrap()
	out := make([]error, 0, len(errs))
	for _, err := range errs {
		if err != nil {
			out = append(out, redactError(err, e.secrets))
		}
	}
	return out
}

// redactError returns err with every secret replaced by "xxxxx" in its
// message. nil stays nil, and an error that shows no secret, in its message
// or as %#v prints it or any error it wraps, is returned unchanged: the
// driver's own error value, for errors.As and type assertions.
func redactError(err error, secrets []string) error {
	if err == nil || len(secrets) == 0 {
		return err
	}
	msg := err.Error()
	red, changed := redactString(msg, secrets)
	if !changed && !showsSecret(err, secrets) {
		return err
	}
	e := redactedError{msg: red, err: err, secrets: secrets}
	if _, ok := err.(interface{ Unwrap() []error }); ok {
		return &redactedErrors{e}
	}
	return &e
}

// redactString replaces every run of text covered by an occurrence of a secret in
// s with redactMask. Marking first and replacing once means overlapping
// secrets, or one inside another, leave no piece of either behind.
func redactString(s string, secrets []string) (string, bool) {
	var covered []bool
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		for from := 0; from < len(s); {
			i := strings.Index(s[from:], sec)
			if i < 0 {
				break
			}
			if covered == nil {
				covered = make([]bool, len(s))
			}
			i += from
			for k := i; k < i+len(sec); k++ {
				covered[k] = true
			}
			from = i + 1
		}
	}
	if covered == nil {
		return s, false
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if !covered[i] {
			b.WriteByte(s[i])
			i++
			continue
		}
		b.WriteString(redactMask)
		for i < len(s) && covered[i] {
			i++
		}
	}
	return b.String(), true
}
