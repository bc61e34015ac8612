// Package e2e tests sqlpool as a person uses it, in a real browser: it
// builds the demo (cmd/sqlpool), runs it with a pool under load and a
// connection leaked on purpose, and drives Debian's headless Chromium
// through the dashboard with chromedp, writing the screenshot the README
// shows (docs/dashboard.png).
//
// It is a module of its own so that chromedp never enters sqlpool's
// dependencies. Run it with
//
//	cd e2e && go test -count=1 ./...
//
// It needs /usr/bin/chromium (apt-get install chromium); without it the
// test is skipped, except with CI=true, where it fails.
package e2e
