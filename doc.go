// Package sqlpool is a database/sql driver that wraps any other driver and
// runs its own pool of physical connections underneath database/sql: hard
// cap, warm minimum, idle timeout, lifetime with jitter, keepalive, pre-ping
// validation of idle connections, an acquire timeout and FIFO waiters.
//
// Switching to it is a change of driver name:
//
//	import (
//		_ "github.com/lib/pq"
//		_ "github.com/sqlpool/sqlpool"
//	)
//
//	db, err := sql.Open("sqlpool", "postgres:postgres://app@db/app?sslmode=disable&pool_max_conns=20")
//
// The DSN is the inner driver's name, a colon, and the inner driver's own DSN
// with pool_* parameters added (URL query form or keyword=value form); they
// are removed before the inner driver sees the DSN. Each sql.DB has a pool
// of its own, which DB.Close closes; sql.DBs opened with the same DSN share
// one with pool_share=true or an explicit pool_name.
//
// database/sql keeps its own free list of connections; sqlpool hands it cheap
// logical connections that borrow a physical connection from the pool on
// their first operation and give it back when database/sql takes them back.
// So every pool policy applies whatever database/sql's own settings are;
// leave SetMaxOpenConns unset and let pool_max_conns be the cap.
package sqlpool
