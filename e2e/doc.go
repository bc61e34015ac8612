// Package e2e tests sqlpool as a person uses it, with real programs: it
// builds the demo (cmd/sqlpool), runs it with a pool under load and a
// connection leaked on purpose, and a pool too small for its load, and
// drives Debian's headless Chromium through the dashboard with chromedp
// (the leak's stack, the sizing advice, the alerts firing and their marks
// on the chart), writing the screenshot the README shows
// (docs/dashboard.png); and it builds Jaeger v1.75.0 (jaegertool/,
// once per machine, into the user's cache directory), starts it with
// examples/jaeger/jaeger.yaml, runs examples/jaeger and the demo against
// it and reads their traces back through Jaeger's query API.
//
// It is a module of its own so that chromedp never enters sqlpool's
// dependencies, and jaegertool another, for Jaeger's. Run it with
//
//	cd e2e && go test -count=1 ./...
//
// It needs /usr/bin/chromium (apt-get install chromium); without it the
// test is skipped, except with CI=true, where it fails.
package e2e
