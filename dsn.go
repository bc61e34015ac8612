package sqlpool

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/sqlpool/sqlpool/internal/kv"
	"github.com/sqlpool/sqlpool/internal/redact"
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
// (lib/pq and net/url quote whole URLs in parse errors), so internal/redact
// scrubs their errors.

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
		return "", "", redact.Error(err, redact.Secrets(inner))
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
	redacted, _ := redact.String(inner, redact.Secrets(inner))
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
	return redact.Error(err, redact.Secrets(inner))
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
	if kv.IsDSN(innerDSN) {
		return extractKeywordPoolParams(innerDSN)
	}
	return extractQueryPoolParams(innerDSN)
}

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

func extractKeywordPoolParams(s string) (string, []dsnParam, error) {
	toks, err := kv.Parse(s)
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
		if strings.HasPrefix(t.Key, poolParamPrefix) {
			params = append(params, dsnParam{t.Key, t.Value})
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
		if strings.HasPrefix(t.Key, poolParamPrefix) {
			continue
		}
		if kept == 0 {
			b.WriteString(s[:toks[0].Start])
		} else if sep := s[toks[i-1].End:t.Start]; sep != "" {
			b.WriteString(sep)
		} else {
			// libpq allows key='a'key2=b; without the quote, a space is
			// needed to keep the settings apart.
			b.WriteByte(' ')
		}
		b.WriteString(s[t.Start:t.End])
		kept++
	}
	if kept > 0 {
		b.WriteString(s[toks[len(toks)-1].End:])
	}
	return b.String(), params, nil
}

// buildConfig applies defaults, then opts, then the DSN's pool_* parameters,
// and validates the result. The inner driver's own defaults (forDriver)
// come once it is known.
func buildConfig(innerDSN string, opts []Option) (config, string, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	clean, params, err := extractPoolParams(innerDSN)
	if err != nil {
		return cfg, "", err
	}
	if err := cfg.applyParams(params); err != nil {
		return cfg, "", err
	}
	if err := cfg.validate(); err != nil {
		return cfg, "", err
	}
	return cfg, clean, nil
}
