package main

import (
	"net/url"
	"regexp"
	"strings"
	"time"
)

// This file edits sqlpool DSNs the way the demo needs: reading and setting
// parameters, taking the pool_* ones out for the raw driver, and masking
// passwords for printing. Three inner DSN shapes are handled, as sqlpool
// itself does: query form (URLs, SQLite URIs, go-sql-driver/mysql DSNs),
// and libpq's keyword=value form.

// splitDSN splits "<inner driver>:<inner DSN>" at the first ':'.
func splitDSN(dsn string) (driverName, inner string, ok bool) {
	driverName, inner, ok = strings.Cut(dsn, ":")
	if !ok || driverName == "" || strings.HasPrefix(inner, "//") {
		return "", "", false
	}
	return driverName, inner, true
}

var keywordStart = regexp.MustCompile(`^\s*[A-Za-z_][A-Za-z0-9_.]*\s*=`)

// isKeywordDSN reports whether s is libpq's "host=h dbname=d" form.
func isKeywordDSN(s string) bool { return keywordStart.MatchString(s) }

// queryStart returns the index of the '?' that starts s's query, or -1. It
// skips a URL's userinfo and a mysql DSN's user:password@, whose passwords
// may hold a raw '?'.
func queryStart(s string) int {
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
	} else if slash := strings.LastIndexByte(s, '/'); slash >= 0 && strings.Contains(s[:slash], "@") {
		from = slash + 1 // mysql: user:pass@tcp(host)/db?params
	}
	q := strings.IndexByte(s[from:], '?')
	if q < 0 {
		return -1
	}
	return from + q
}

// param is one parameter of a DSN: its raw text and its unescaped key and
// value.
type param struct{ raw, key, value string }

// params returns the parameters of an inner DSN, in order.
func params(inner string) []param {
	var out []param
	if isKeywordDSN(inner) {
		for _, tok := range keywordTokens(inner) {
			k, v, _ := strings.Cut(tok, "=")
			v = strings.TrimSpace(v)
			if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
				v = strings.NewReplacer(`\'`, `'`, `\\`, `\`).Replace(v[1 : len(v)-1])
			}
			out = append(out, param{raw: tok, key: strings.TrimSpace(k), value: v})
		}
		return out
	}
	q := queryStart(inner)
	if q < 0 {
		return nil
	}
	query := inner[q+1:]
	if h := strings.IndexByte(query, '#'); h >= 0 {
		query = query[:h]
	}
	for seg := range strings.SplitSeq(query, "&") {
		if seg == "" {
			continue
		}
		k, v, _ := strings.Cut(seg, "=")
		if uk, err := url.QueryUnescape(k); err == nil {
			k = uk
		}
		if uv, err := url.QueryUnescape(v); err == nil {
			v = uv
		}
		out = append(out, param{raw: seg, key: k, value: v})
	}
	return out
}

// keywordTokens splits a keyword=value DSN into its key=value tokens,
// keeping single-quoted values (which may hold spaces) whole. It tolerates
// spaces around '='.
func keywordTokens(s string) []string {
	var (
		toks   []string
		cur    strings.Builder
		quoted bool
	)
	flush := func() {
		if cur.Len() > 0 {
			toks = append(toks, cur.String())
			cur.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted && c == '\\' && i+1 < len(s):
			cur.WriteByte(c)
			i++
			cur.WriteByte(s[i])
		case c == '\'':
			quoted = !quoted
			cur.WriteByte(c)
		case !quoted && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			// "key = value": the token goes on across spaces around '='.
			rest := strings.TrimLeft(s[i:], " \t\n\r")
			if strings.HasSuffix(cur.String(), "=") || strings.HasPrefix(rest, "=") {
				continue
			}
			flush()
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return toks
}

// getParam returns the value of the last parameter named key.
func getParam(inner, key string) (string, bool) {
	var (
		v  string
		ok bool
	)
	for _, p := range params(inner) {
		if p.key == key {
			v, ok = p.value, true
		}
	}
	return v, ok
}

// rebuild returns inner with its parameters replaced by keep (raw texts).
func rebuild(inner string, keep []string) string {
	if isKeywordDSN(inner) {
		return strings.Join(keep, " ")
	}
	q := queryStart(inner)
	if q < 0 {
		if len(keep) == 0 {
			return inner
		}
		return inner + "?" + strings.Join(keep, "&")
	}
	frag := ""
	if h := strings.IndexByte(inner[q:], '#'); h >= 0 {
		frag = inner[q+h:]
	}
	if len(keep) == 0 {
		return inner[:q] + frag
	}
	return inner[:q] + "?" + strings.Join(keep, "&") + frag
}

// filterParams returns inner without the parameters drop selects.
func filterParams(inner string, drop func(key string) bool) string {
	var keep []string
	changed := false
	for _, p := range params(inner) {
		if drop(p.key) {
			changed = true
			continue
		}
		keep = append(keep, p.raw)
	}
	if !changed {
		return inner
	}
	return rebuild(inner, keep)
}

// setParam returns inner with key set to value, replacing any earlier value
// (sqlpool refuses a pool_* parameter given twice).
func setParam(inner, key, value string) string {
	var keep []string
	for _, p := range params(inner) {
		if p.key != key {
			keep = append(keep, p.raw)
		}
	}
	if isKeywordDSN(inner) {
		if value == "" || strings.ContainsAny(value, ` '\`) {
			value = "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(value) + "'"
		}
		return rebuild(inner, append(keep, key+"="+value))
	}
	return rebuild(inner, append(keep, url.QueryEscape(key)+"="+url.QueryEscape(value)))
}

// withoutPoolParams returns the inner DSN the raw driver takes: inner
// without sqlpool's pool_* parameters.
func withoutPoolParams(inner string) string {
	return filterParams(inner, func(k string) bool { return strings.HasPrefix(k, "pool_") })
}

// durationParam returns the duration in key, or def when it is absent or
// not a duration (sqlpool would have refused the DSN then).
func durationParam(inner, key string, def time.Duration) time.Duration {
	if v, ok := getParam(inner, key); ok {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

const mask = "xxxxx" // what url.URL.Redacted puts in place of a password

var (
	keywordPassword = regexp.MustCompile(`(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S*)`)
	secretKey       = regexp.MustCompile(`(?i)pass|pwd|secret|token`)
)

// redactInner returns an inner DSN fit for printing: the password of a URL
// (url.URL.Redacted), of a mysql user:password@, of a keyword password=, and
// the value of any query parameter whose name looks secret (_auth_pass).
func redactInner(inner string) string {
	switch {
	case isKeywordDSN(inner):
		return keywordPassword.ReplaceAllString(inner, "${1}"+mask)
	case strings.Contains(inner, "://"):
		if u, err := url.Parse(inner); err == nil {
			inner = u.Redacted()
		} else {
			inner = maskUserinfo(inner, strings.Index(inner, "://")+len("://"))
		}
	default:
		inner = maskUserinfo(inner, 0)
	}
	var keep []string
	changed := false
	for _, p := range params(inner) {
		if secretKey.MatchString(p.key) && p.value != "" {
			k, _, _ := strings.Cut(p.raw, "=")
			keep = append(keep, k+"="+mask)
			changed = true
			continue
		}
		keep = append(keep, p.raw)
	}
	if changed {
		inner = rebuild(inner, keep)
	}
	return inner
}

// maskUserinfo masks the password in "user:password@" starting at from, if
// there is one before the first '/' (URLs) or the last '/' (mysql DSNs).
func maskUserinfo(s string, from int) string {
	rest := s[from:]
	end := len(rest)
	if from > 0 {
		if slash := strings.IndexByte(rest, '/'); slash >= 0 {
			end = slash
		}
	} else if slash := strings.LastIndexByte(rest, '/'); slash >= 0 {
		end = slash
	}
	at := strings.LastIndexByte(rest[:end], '@')
	if at < 0 {
		return s
	}
	colon := strings.IndexByte(rest[:at], ':')
	if colon < 0 {
		return s
	}
	return s[:from+colon+1] + mask + s[from+at:]
}

// redactDSN returns a sqlpool DSN fit for printing.
func redactDSN(dsn string) string {
	name, inner, ok := splitDSN(dsn)
	if !ok {
		return "(not a sqlpool DSN)"
	}
	return name + ":" + redactInner(inner)
}
