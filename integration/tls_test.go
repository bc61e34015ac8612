package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/sqlpool/sqlpool/internal/pgtemp"
)

// selfSignedCert returns a PEM certificate and key for 127.0.0.1 and
// localhost, valid for a day.
func selfSignedCert() (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
}

// tlsServerOptions configures a server with ssl=on, the certificate, and a
// pg_hba.conf that accepts TCP connections over TLS only.
func tlsServerOptions() (pgtemp.Options, error) {
	cert, key, err := selfSignedCert()
	if err != nil {
		return pgtemp.Options{}, err
	}
	return pgtemp.Options{
		Settings: map[string]string{"ssl": "on", "ssl_cert_file": "server.crt", "ssl_key_file": "server.key"},
		Files: map[string][]byte{
			"server.crt": cert,
			"server.key": key,
			"pg_hba.conf": []byte("local all all trust\n" +
				"hostssl all all 127.0.0.1/32 trust\n" +
				"hostnossl all all 127.0.0.1/32 reject\n"),
		},
	}, nil
}

// tlsURL is the server's postgres database with sslmode=require.
func tlsURL(srv *pgtemp.Server) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=require", srv.Port())
}

// TestTLSRequire runs queries over sqlpool with sslmode=require against a
// server with a self-signed certificate that refuses connections without
// TLS, with lib/pq and pgx, and checks that each backend's session is
// encrypted.
func TestTLSRequire(t *testing.T) {
	opts, err := tlsServerOptions()
	if err != nil {
		t.Fatal(err)
	}
	srv := startPostgres(t, opts)
	for _, drv := range []string{"pgx", "postgres"} {
		t.Run(drv, func(t *testing.T) {
			plain := openDB(t, drv+":"+srv.URL()+"&pool_max_conns=1&pool_acquire_timeout=500ms")
			if err := plain.Ping(); err == nil {
				t.Fatal("a connection without TLS was accepted; the server must refuse it")
			}
			db := openDB(t, drv+":"+tlsURL(srv)+"&pool_max_conns=4")
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for w := range 8 {
				wg.Go(func() {
					for i := range 25 {
						var ssl bool
						var n int
						err := db.QueryRow("SELECT ssl, $1::int FROM pg_stat_ssl WHERE pid = pg_backend_pid()", w*100+i).Scan(&ssl, &n)
						if err != nil {
							errs <- err
							return
						}
						if !ssl || n != w*100+i {
							errs <- fmt.Errorf("ssl = %v, n = %d; want true, %d", ssl, n, w*100+i)
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

var (
	benchTLSOnce sync.Once
	benchTLS     *pgtemp.Server
	benchTLSErr  error
)

// BenchmarkTLSConnectionPerRequest measures one SELECT 1 per request with
// database/sql's SetMaxIdleConns(0) (a connection per request, the pattern
// of short-lived handlers and of SetConnMaxLifetime set very low) over TLS:
// raw database/sql opens a TLS connection (TCP, TLS handshake, PostgreSQL
// startup) per request, sqlpool reuses its physical ones.
//
//	cd integration && go test -run '^$' -bench TLSConnectionPerRequest -benchmem .
func BenchmarkTLSConnectionPerRequest(b *testing.B) {
	benchTLSOnce.Do(func() {
		opts, err := tlsServerOptions()
		if err != nil {
			benchTLSErr = err
			return
		}
		if _, err := pgtemp.BinDir(); err != nil {
			benchTLSErr = err
			return
		}
		benchTLS, benchTLSErr = pgtemp.Start(opts)
	})
	if benchTLSErr != nil {
		unavailable(b, benchTLSErr.Error())
	}
	for _, drv := range []string{"pgx", "postgres"} {
		for _, mode := range []string{"raw", "sqlpool"} {
			b.Run(fmt.Sprintf("driver=%s/%s", drv, mode), func(b *testing.B) {
				var db *sql.DB
				var err error
				if mode == "raw" {
					db, err = sql.Open(drv, tlsURL(benchTLS))
				} else {
					db, err = sql.Open("sqlpool", drv+":"+tlsURL(benchTLS)+"&pool_max_conns=4")
				}
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				db.SetMaxIdleConns(0)
				b.ReportAllocs()
				for b.Loop() {
					var one int
					if err := db.QueryRow("SELECT 1").Scan(&one); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestMain stops the benchmark's TLS server, if one was started.
func TestMain(m *testing.M) {
	code := m.Run()
	if benchTLS != nil {
		benchTLS.Stop()
	}
	os.Exit(code)
}
