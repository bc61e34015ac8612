package sqlpool_test

import (
	"database/sql"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/sqlpool/sqlpool"
	"github.com/sqlpool/sqlpool/internal/testdb"
)

// stock is what the process holds before a test opens a pool, so that the
// test can check, once the pool has closed, that it left nothing behind.
type stock struct {
	goroutines int
	fds        int // -1 where /proc/self/fd cannot be read
	violations int64
}

func takeStock() stock {
	return stock{goroutines: runtime.NumGoroutine(), fds: openFDs(), violations: sqlpool.BindingViolations()}
}

// openFDs counts the process's open file descriptors (sockets included).
func openFDs() int {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(fds)
}

// nothingLeft waits until the process holds no more goroutines and file
// descriptors than at before, and, when admin is not nil, until no server
// backend of application app remains; and it checks that no physical
// connection was bound to two logical ones meanwhile. Call it after the
// pools the test opened have closed.
func nothingLeft(t *testing.T, before stock, admin *sql.DB, app string) {
	t.Helper()
	if n := sqlpool.BindingViolations() - before.violations; n > 0 {
		t.Errorf("%d times a physical connection was bound to two logical connections at once", n)
	}
	testdb.WaitForExplained(t, fmt.Sprintf("goroutines back to %d", before.goroutines), func() bool {
		return runtime.NumGoroutine() <= before.goroutines
	}, func() string {
		buf := make([]byte, 1<<20)
		return string(buf[:runtime.Stack(buf, true)])
	})
	if before.fds >= 0 {
		testdb.WaitForExplained(t, fmt.Sprintf("open file descriptors back to %d", before.fds), func() bool {
			return openFDs() <= before.fds
		}, describeFDs)
	}
	if admin != nil {
		testdb.WaitFor(t, "no backends of "+app, func() bool { return len(testdb.Backends(t, admin, app)) == 0 })
	}
}

func describeFDs() string {
	fds, _ := os.ReadDir("/proc/self/fd")
	var b strings.Builder
	for _, fd := range fds {
		target, _ := os.Readlink("/proc/self/fd/" + fd.Name())
		fmt.Fprintf(&b, "%s -> %s\n", fd.Name(), target)
	}
	return b.String()
}
