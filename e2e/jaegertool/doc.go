// Package jaegertool is a module of its own that holds Jaeger v2 as a Go
// tool (go get -tool github.com/jaegertracing/jaeger/cmd/jaeger@v1.75.0),
// so that its 800 modules stay out of every other go.mod of the project.
// The e2e tests build it from here (go build -o … github.com/jaegertracing/jaeger/cmd/jaeger)
// and run it on loopback with jaeger.yaml.
package jaegertool
