-- +goose Up
ALTER TABLE goose_accounts ADD COLUMN balance INTEGER NOT NULL DEFAULT 0;
INSERT INTO goose_accounts (id, email, balance) VALUES (1, 'ada@example.com', 100);

-- +goose Down
ALTER TABLE goose_accounts DROP COLUMN balance;
