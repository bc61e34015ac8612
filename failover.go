package sqlpool

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"

	"github.com/sqlpool/sqlpool/internal/dbtarget"
)

// Riding out a failover: the server errors that close the connection they
// came on (eviction), and the check that a connection's server accepts
// writes (pool_require_writable). After a failover behind a stable address
// (DNS, a virtual IP, a Kubernetes Service, PgBouncer), the old primary
// often stays reachable as a read-only node: its connections pass every
// ping and fail every write. An evicted connection is destroyed when it
// comes back, and the pool checks its idle ones before their next use.

// evictSQLStates are the PostgreSQL SQLSTATEs that evict, whatever the
// settings: a write on a read-only node (25006 read_only_sql_transaction),
// and the server ending the session (57P01 admin_shutdown, 57P02
// crash_shutdown, 57P03 cannot_connect_now, 57P05 idle_session_timeout).
// Class 08 (connection exception) evicts too, and 0A000 when the server
// says it is in recovery (SET TRANSACTION READ WRITE on a standby).
var evictSQLStates = map[string]bool{
	"25006": true, "57P01": true, "57P02": true, "57P03": true, "57P05": true,
}

// evictMySQLErrors are the MySQL and MariaDB error numbers that evict: a
// write on a read-only server (1290 ER_OPTION_PREVENTS_STATEMENT under
// --read-only, 1792 in a read-only transaction, 1836 ER_READ_ONLY_MODE,
// 1874 InnoDB read-only), the server going away (1053 shutdown in progress,
// 1927 connection killed, 3032 offline mode, 4031 disconnected for
// inactivity; 2006 and 2013, the client's own "gone away" and "lost
// connection", where a driver reports them).
var evictMySQLErrors = map[uint16]bool{
	1053: true, 1290: true, 1792: true, 1836: true, 1874: true, 1927: true,
	2006: true, 2013: true, 3032: true, 4031: true,
}

// evictCodeSyntax is what pool_evict_codes takes, once normalCode has
// upper-cased it: a SQLSTATE class (two characters), a SQLSTATE (five) or
// a MySQL error number (one to five digits).
var evictCodeSyntax = regexp.MustCompile(`^([0-9A-Z]{2}|[0-9A-Z]{5}|[0-9]{1,5})$`)

func normalCode(code string) string { return strings.ToUpper(strings.TrimSpace(code)) }

// evictSet is pool_evict_codes as a set; nil if none were given.
func evictSet(codes []string) map[string]bool {
	if len(codes) == 0 {
		return nil
	}
	set := make(map[string]bool, len(codes))
	for _, c := range codes {
		set[normalCode(c)] = true
	}
	return set
}

// evicts reports whether err, an operation's error, says the connection
// must not be used again: the server is read-only or ended the session, or
// the error has one of extra's codes (pool_evict_codes).
func evicts(err error, extra map[string]bool) bool {
	if code, ok := sqlState(err); ok {
		switch {
		case evictSQLStates[code], strings.HasPrefix(code, "08"):
			return true
		case code == "0A000" && strings.Contains(err.Error(), "during recovery"):
			return true
		}
		return extra[code] || len(code) == 5 && extra[code[:2]]
	}
	if n, ok := mysqlErrorNumber(err); ok {
		return evictMySQLErrors[n] || extra[strconv.Itoa(int(n))]
	}
	return false
}

// errReadOnly is a dial's error when pool_require_writable=true and the
// server it reached accepts no writes. It is transient: after a failover
// the address soon leads to the new primary.
var errReadOnly = errors.New("sqlpool: the server accepts no writes (a standby, or a read-only primary), and pool_require_writable=true")

// readOnlyQuery returns the statement that answers 1 on a server that
// accepts no writes and 0 on one that does, or "" where sqlpool does not
// know how to ask.
func (k driverKind) readOnlyQuery() string {
	switch k {
	case kindLibPQ, kindPgx:
		// transaction_read_only is on in a standby's sessions too, and
		// wherever default_transaction_read_only is on (how a primary is
		// demoted without a restart).
		return "SELECT (pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on')::int"
	case kindMySQL:
		return "SELECT @@global.read_only OR @@global.innodb_read_only"
	}
	return ""
}

// checkWritable asks ic's server whether it accepts writes, within ctx even
// if the driver ignores it (see bounded). It returns errReadOnly if not, the
// query's error if it failed, and, when ctx ended first, a channel that
// receives the query's outcome once the driver lets go of ic.
func (ps *poolState) checkWritable(ctx context.Context, ic driver.Conn) (error, <-chan outcome[string]) {
	r, late := bounded(ctx, func(ctx context.Context) (string, error) {
		return queryValue(ctx, ic, ps.kind.readOnlyQuery())
	})
	switch {
	case late != nil:
		return fmt.Errorf("sqlpool: checking that the server accepts writes: %w", r.err), late
	case r.err != nil:
		return r.err, nil
	case r.v != "0":
		return fmt.Errorf("%w (pool %s%s)", errReadOnly, ps.name, serverOf(ps.target)), nil
	}
	return nil, nil
}

// serverOf is ", server host:port" as far as the DSN names it, or "".
func serverOf(t dbtarget.Target) string {
	switch {
	case t.Address == "":
		return ""
	case t.Port == 0:
		return ", server " + t.Address
	}
	return ", server " + net.JoinHostPort(t.Address, strconv.Itoa(t.Port))
}
