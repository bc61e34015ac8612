package bench

import "github.com/sqlpool/sqlpool/internal/pgtemp"

// TempPostgres is a throwaway PostgreSQL server in a temporary directory,
// for the workload that restarts the server: the shared one is never
// stopped.
type TempPostgres = pgtemp.Server

// StartTempPostgres initdbs and starts a server on a free port of
// 127.0.0.1 (see pgtemp.Start).
func StartTempPostgres() (*TempPostgres, error) { return pgtemp.Start(pgtemp.Options{}) }
