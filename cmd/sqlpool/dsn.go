package main

import (
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/sqlpool/sqlpool"
)

// This file holds the demo's own DSN editing: adding parameters to an inner
// DSN. Reading a DSN is sqlpool's: SplitDSN for the inner driver's name and
// DSN, PoolParams for the pool_* values, RedactDSN for printing.

// keywordDSN tells libpq's keyword=value form from the query forms by the
// rule sqlpool uses: the DSN starts with a keyword and '='.
var keywordDSN = regexp.MustCompile(`^\s*[A-Za-z_][A-Za-z0-9_.]*\s*=`)

// withParams returns the inner DSN inner with the key, value pairs kv
// appended: " key=value" in keyword form, "?key=value" or "&key=value" in the
// query forms (URLs, go-sql-driver/mysql and SQLite DSNs). It adds, never
// replaces: sqlpool refuses a pool_* parameter given twice, so callers add
// only what inner does not set.
func withParams(inner string, kv ...string) string {
	var b strings.Builder
	b.WriteString(inner)
	keyword := keywordDSN.MatchString(inner)
	// The query is what follows a '?' after the last '@': a password, in a
	// URL or a mysql DSN, may hold a raw '?'.
	sep := "?"
	if strings.Contains(inner[strings.LastIndexByte(inner, '@')+1:], "?") {
		sep = "&"
	}
	for i := 0; i+1 < len(kv); i += 2 {
		k, v := kv[i], kv[i+1]
		if keyword {
			if v == "" || strings.ContainsAny(v, ` '\`) {
				v = "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
			}
			b.WriteString(" " + k + "=" + v)
			continue
		}
		b.WriteString(sep + url.QueryEscape(k) + "=" + url.QueryEscape(v))
		sep = "&"
	}
	return b.String()
}

// setsParam reports whether inner looks as if it sets the parameter key:
// "key=" at its start or after white space, '?' or '&'.
func setsParam(inner, key string) bool {
	return regexp.MustCompile(`(^|[\s?&])` + regexp.QuoteMeta(key) + `\s*=`).MatchString(inner)
}

// durationParam returns the duration the pool_* parameter key is set to in
// params (from sqlpool.PoolParams, which has checked it), or def.
func durationParam(params map[string]string, key string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(params[key]); err == nil {
		return d
	}
	return def
}

// redactInner is sqlpool.RedactDSN for the inner driver's own DSN, which is
// read right only with its driver's name in front: "app:pw@tcp(db)/app"
// alone reads as a sqlpool DSN for a driver named "app".
func redactInner(driverName, inner string) string {
	return strings.TrimPrefix(sqlpool.RedactDSN(driverName+":"+inner), driverName+":")
}
