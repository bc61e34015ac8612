// Package integration tests sqlpool under the libraries applications put on
// top of database/sql (sqlx, GORM, goose) and beside the infrastructure
// under it (pgx and lib/pq specifics through Raw unwrapping, PgBouncer in
// transaction pooling mode, TLS). It is a module of its own so that none of
// those libraries enters sqlpool's dependencies.
package integration
