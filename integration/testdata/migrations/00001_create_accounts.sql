-- +goose Up
CREATE TABLE goose_accounts (
    id INTEGER PRIMARY KEY,
    email VARCHAR(100) NOT NULL
);

-- +goose Down
DROP TABLE goose_accounts;
