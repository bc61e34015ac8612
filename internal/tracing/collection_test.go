package tracing

import "testing"

func TestCollectionNameIsTheOneTableOfASimpleStatement(t *testing.T) {
	for _, tc := range []struct{ query, want string }{
		{"INSERT INTO orders (id) VALUES ($1)", "orders"},
		{"insert into app.orders values (1)", "app.orders"},
		{`INSERT INTO "Orders" VALUES (1)`, "Orders"},
		{"UPDATE orders SET qty = qty + 1 WHERE id = $1", "orders"},
		{"UPDATE ONLY orders SET qty = 1", "orders"},
		{"DELETE FROM orders WHERE id = ?", "orders"},
		{"SELECT item, qty FROM sqlpool_example_orders WHERE order_id = $1", "sqlpool_example_orders"},
		{"SELECT count(*) FROM `shop`.`orders`", "shop.orders"},
		{"/* c */ SELECT x FROM t -- the end", "t"},
		{"SELECT a FROM t1, t2", ""},
		{"SELECT a FROM t1 JOIN t2 ON t1.id = t2.id", ""},
		{"SELECT a FROM (SELECT 1 AS a) s", ""},
		{"SELECT 1", ""},
		{"SELECT 'from' AS s", ""},
		{"SELECT (SELECT max(id) FROM t) AS m", ""},
		{"SELECT x FROM t WHERE y IN (SELECT y FROM u)", "t"},
	} {
		op := operationName(tc.query)
		if got := collectionName(op, tc.query); got != tc.want {
			t.Errorf("collectionName(%q, %q) = %q, want %q", op, tc.query, got, tc.want)
		}
	}
	if got := collectionName("CREATE", "CREATE TABLE t (id int)"); got != "" {
		t.Errorf("CREATE: got %q, want none", got)
	}
}
