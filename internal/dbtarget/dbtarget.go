// Package dbtarget reads which database a database/sql DSN points at, for the
// OpenTelemetry database semantic-convention attributes db.system.name,
// db.namespace, server.address and server.port.
//
// It knows the DSN formats of lib/pq and pgx (URL and keyword/value),
// go-sql-driver/mysql and mattn/go-sqlite3. It reads environment variables,
// files and services never, so what the driver would take from PGHOST and the
// like is reported as unknown.
//
// A DSN usually holds a password. Parse keeps nothing but the four fields of
// Target, and where a DSN is malformed or ambiguous, for instance a URL whose
// password holds an unescaped '/', it reports less rather than risk reporting
// part of a password as a host or database name.
package dbtarget

import (
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Target describes the database a DSN points at, for telemetry attributes.
type Target struct {
	System    string // db.system.name: "postgresql", "mysql", "sqlite", or "other_sql"
	Namespace string // db.namespace: the database name ("" if unknown)
	Address   string // server.address: host name, IP (no brackets for IPv6), or unix socket path; "" if unknown
	Port      int    // server.port; 0 if unknown or not applicable (unix socket, sqlite)
}

// Parse reads driverName's DSN (the inner driver's own DSN, no "driver:"
// prefix). It never fails and never returns or stores a password or any other
// DSN parameter value besides the four fields.
//
// An unknown driver gives System "other_sql" and nothing else; a DSN the
// driver would reject, or that Parse cannot read safely, gives System alone.
// MySQL DSNs always give "mysql": MariaDB can only be told from the server.
func Parse(driverName, dsn string) Target {
	switch driverName {
	case "postgres", "pgx", "pgx/v5", "postgresql", "cloudsqlpostgres":
		return parsePostgres(dsn)
	case "mysql":
		return parseMySQL(dsn)
	case "sqlite3", "sqlite":
		return parseSQLite(dsn)
	}
	return Target{System: "other_sql"}
}

// pgKeys are the libpq keywords parsePostgres reads; it keeps no others.
var pgKeys = map[string]bool{"host": true, "hostaddr": true, "port": true, "dbname": true}

// parsePostgres reads a libpq connection string, URL or keyword/value.
// Host and port may be comma-separated lists; the first entry is the first
// server tried. A host starting with '/' is a unix socket directory.
func parsePostgres(dsn string) Target {
	t := Target{System: "postgresql"}
	var kv map[string]string
	var ok bool
	if rest, isURL := cutPrefixes(dsn, "postgres://", "postgresql://"); isURL {
		kv, ok = postgresURL(rest)
	} else {
		kv, ok = postgresKeywords(dsn)
	}
	if !ok {
		return t
	}
	t.Namespace = kv["dbname"]
	host := first(kv["host"])
	if host == "" {
		host = first(kv["hostaddr"])
	}
	switch {
	case host == "":
		// libpq would use PGHOST or its default unix socket: unknown.
	case strings.HasPrefix(host, "/"):
		t.Address = host
	default:
		t.Address, t.Port = host, 5432
		if p := first(kv["port"]); p != "" {
			t.Port = parsePort(p)
		}
	}
	return t
}

// postgresURL reads the rest of a postgres:// URL after "://":
// [user[:password]@]host[:port][,host[:port]...][/dbname][?param=value&...].
// Query parameters host, hostaddr, port and dbname override the rest.
func postgresURL(rest string) (map[string]string, bool) {
	// User info ends at an '@' before the first '/'. An '@' after it means
	// a password with an unescaped '/' (or an '@' in the database name or a
	// parameter): too ambiguous to read without risking the password.
	slash := strings.IndexByte(rest, '/')
	if slash < 0 {
		slash = len(rest)
	}
	if strings.Contains(rest[slash:], "@") {
		return nil, false
	}
	// The last '@' rather than the first: a password may hold a raw '@'.
	if at := strings.LastIndexByte(rest[:slash], '@'); at >= 0 {
		rest = rest[at+1:]
	}
	rest, query, _ := strings.Cut(rest, "?")
	hostList, path, _ := strings.Cut(rest, "/")
	firstHost, _, _ := strings.Cut(hostList, ",")

	host, port, ok := splitURLHost(firstHost)
	if !ok {
		return nil, false
	}
	kv := map[string]string{"port": port}
	var err error
	if kv["host"], err = url.PathUnescape(host); err != nil {
		return nil, false
	}
	if kv["dbname"], err = url.PathUnescape(path); err != nil {
		return nil, false
	}
	for pair := range strings.SplitSeq(query, "&") {
		k, v, _ := strings.Cut(pair, "=")
		if k, err = url.QueryUnescape(k); err != nil || !pgKeys[k] {
			continue // only wanted values are ever unescaped
		}
		if kv[k], err = url.QueryUnescape(v); err != nil {
			return nil, false
		}
	}
	return kv, true
}

// splitURLHost splits one "host[:port]" or "[ipv6][:port]" entry of a URL.
func splitURLHost(s string) (host, port string, ok bool) {
	if rest, bracketed := strings.CutPrefix(s, "["); bracketed {
		host, rest, ok = strings.Cut(rest, "]")
		if !ok || host == "" {
			return "", "", false
		}
		if rest == "" {
			return host, "", true
		}
		port, ok = strings.CutPrefix(rest, ":")
		return host, port, ok
	}
	host, port, _ = strings.Cut(s, ":")
	return host, port, true
}

// pgSpace is the whitespace separating libpq keyword/value pairs.
const pgSpace = " \t\n\r\v\f"

// postgresKeywords reads a libpq keyword/value string such as
// "host=db port=5433 password='a b'". Values may be single-quoted, and a
// backslash escapes the next character, quoted or not. Only the pgKeys
// values are kept (and unescaped).
func postgresKeywords(s string) (map[string]string, bool) {
	kv := map[string]string{}
	for {
		s = strings.TrimLeft(s, pgSpace)
		if s == "" {
			return kv, true
		}
		i := strings.IndexAny(s, "="+pgSpace)
		if i <= 0 {
			return nil, false // no '=' or an empty keyword
		}
		key := s[:i]
		afterEq, ok := strings.CutPrefix(strings.TrimLeft(s[i:], pgSpace), "=")
		if !ok {
			return nil, false
		}
		var raw string
		raw, s, ok = cutKeywordValue(strings.TrimLeft(afterEq, pgSpace))
		if !ok {
			return nil, false
		}
		if pgKeys[key] {
			kv[key] = unescapeKeywordValue(raw)
		}
	}
}

// cutKeywordValue cuts the value, still escaped, off the front of s. A value
// is either single-quoted, up to an unescaped quote, or bare, up to whitespace.
func cutKeywordValue(s string) (raw, rest string, ok bool) {
	if q, quoted := strings.CutPrefix(s, "'"); quoted {
		for i := 0; i < len(q); i++ {
			switch q[i] {
			case '\\':
				i++
			case '\'':
				return q[:i], q[i+1:], true
			}
		}
		return "", "", false // unterminated
	}
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\':
			i++
		case strings.IndexByte(pgSpace, s[i]) >= 0:
			return s[:i], s[i:], true
		}
	}
	return s, "", true
}

// unescapeKeywordValue drops each backslash and keeps the byte after it.
func unescapeKeywordValue(raw string) string {
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		if raw[i] == '\\' {
			if i++; i == len(raw) {
				break // libpq drops a trailing backslash
			}
		}
		b.WriteByte(raw[i])
	}
	return b.String()
}

// parseMySQL reads a go-sql-driver/mysql DSN,
// [user[:password]@][net[(addr)]]/dbname[?param=value&...], the way the
// driver's ParseDSN does: the last '/' starts the database name, and the last
// '@' before it ends the user info, so a password may hold '@' and '/'.
func parseMySQL(dsn string) Target {
	t := Target{System: "mysql"}
	slash := strings.LastIndexByte(dsn, '/')
	if slash < 0 && dsn != "" {
		return t // the driver rejects a DSN without '/'
	}
	var left, right string
	if slash >= 0 {
		left, right = dsn[:slash], dsn[slash+1:]
	}
	// Parameter values are query-escaped, so an '@' after the last '/' means
	// a password holding a '/' with no database part after it: ambiguous.
	if strings.Contains(right, "@") {
		return t
	}
	if at := strings.LastIndexByte(left, '@'); at >= 0 {
		left = left[at+1:]
	}
	network, addr := left, ""
	if i := strings.IndexByte(left, '('); i >= 0 {
		if !strings.HasSuffix(left, ")") {
			return t // the driver rejects "tcp(host" and the like
		}
		network, addr = left[:i], left[i+1:len(left)-1]
	}
	dbname, _, _ := strings.Cut(right, "?")
	dbname, err := url.PathUnescape(dbname)
	if err != nil {
		return t
	}
	t.Namespace = dbname
	switch network {
	case "unix":
		t.Address = addr
		if addr == "" {
			t.Address = "/tmp/mysql.sock" // the driver's default
		}
	case "", "tcp":
		if addr == "" {
			addr = "127.0.0.1:3306" // the driver's default
		}
		t.Address, t.Port = splitHostPort(addr, 3306)
	default: // tcp4, tcp6 or a network registered with mysql.RegisterDialContext
		t.Address, t.Port = splitHostPort(addr, 0)
	}
	return t
}

// splitHostPort splits "host:port" or "[ipv6]:port"; an address without a
// port is all host, with port defaultPort.
func splitHostPort(addr string, defaultPort int) (string, int) {
	if host, port, err := net.SplitHostPort(addr); err == nil {
		return host, parsePort(port)
	}
	if strings.HasPrefix(addr, "[") && strings.HasSuffix(addr, "]") {
		addr = addr[1 : len(addr)-1]
	}
	return addr, defaultPort
}

// parseSQLite reads a mattn/go-sqlite3 DSN: a file name or a "file:" URI,
// either with optional "?params". In-memory databases have no Namespace.
func parseSQLite(dsn string) Target {
	t := Target{System: "sqlite"}
	name, query, _ := strings.Cut(dsn, "?")
	if rest, isURI := strings.CutPrefix(name, "file:"); isURI {
		name, _, _ = strings.Cut(rest, "#")
		// file://[localhost]/path: drop the authority, keep the path.
		if auth, ok := strings.CutPrefix(name, "//"); ok {
			name = ""
			if i := strings.IndexByte(auth, '/'); i >= 0 {
				name = auth[i:]
			}
		}
		if unescaped, err := url.PathUnescape(name); err == nil {
			name = unescaped
		}
		// SQLite honours mode=memory and vfs=memdb in URIs only;
		// mattn/go-sqlite3 drops the query of a plain file name.
		query, _, _ = strings.Cut(query, "#")
		for pair := range strings.SplitSeq(query, "&") {
			if pair == "mode=memory" || pair == "vfs=memdb" {
				return t
			}
		}
	}
	if name != ":memory:" {
		t.Namespace = name
	}
	return t
}

// cutPrefixes is strings.CutPrefix for the first of prefixes s starts with.
func cutPrefixes(s string, prefixes ...string) (string, bool) {
	for _, p := range prefixes {
		if rest, ok := strings.CutPrefix(s, p); ok {
			return rest, true
		}
	}
	return s, false
}

// first returns the first entry of a comma-separated list.
func first(list string) string {
	s, _, _ := strings.Cut(list, ",")
	return s
}

// parsePort reads a TCP port; anything else, and port 0, is 0 (unknown).
func parsePort(s string) int {
	p, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0
	}
	return int(p)
}
