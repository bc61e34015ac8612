package leak

// haveFP says that callersFP is implemented: on amd64, where every Go frame
// keeps a frame pointer.
const haveFP = true

// callersFP stores into pcs the return addresses of its caller's caller and
// above, leaving out skip frames, by walking frame pointers; it returns how
// many it stored. Physical frames only: inlined calls share their caller's
// frame, and runtime.CallersFrames expands them.
//
//go:noescape
func callersFP(skip int, pcs []uintptr) int
