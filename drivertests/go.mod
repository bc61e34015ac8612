module github.com/sqlpool/sqlpool/drivertests

go 1.26.0

// The harness builds the drivers' suites against the sqlpool source in the
// repository (or SQLPOOL_SRC); it does not import sqlpool itself.
replace github.com/sqlpool/sqlpool => ../

require (
	github.com/go-sql-driver/mysql v1.10.1
	github.com/lib/pq v1.12.3
)

require filippo.io/edwards25519 v1.2.0 // indirect
