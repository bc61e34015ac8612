//go:build !amd64

package leak

const haveFP = false

func callersFP(skip int, pcs []uintptr) int {
	panic("leakdetect: no frame-pointer unwinding on this architecture")
}
