package leakdetect

import (
	"runtime"
	"strconv"
	"strings"
)

// MaxDepth is how many frames a Stack keeps. Capturing costs about as much
// per frame as it keeps, so it is bounded; 32 frames reach past
// database/sql's own (about ten for a QueryRow) into the application's.
const MaxDepth = 32

// Stack is a call stack captured as program counters only; it is symbolized
// when it is read, not when it is captured. The zero value is an empty stack.
// A Stack is a value: copying one copies its frames.
type Stack struct {
	pcs [MaxDepth]uintptr
	n   int
}

// Capture records the stack of its caller, leaving out skip frames: with 0
// the stack starts at the function that calls Capture, with 1 at that
// function's caller. It does not allocate.
func (s *Stack) Capture(skip int) {
	// For runtime.Callers, 0 is Callers itself and 1 is Capture.
	s.n = runtime.Callers(skip+2, s.pcs[:])
}

// Len returns how many frames the stack holds (before inlined calls are
// expanded).
func (s *Stack) Len() int { return s.n }

// Reset empties the stack.
func (s *Stack) Reset() { s.n = 0 }

// PCs returns the captured program counters, as runtime.Callers returns them.
func (s *Stack) PCs() []uintptr { return s.pcs[:s.n] }

// Frame is one symbolized frame of a Stack.
type Frame struct {
	Function string `json:"function"` // package path-qualified, as runtime.Frame.Function
	File     string `json:"file"`
	Line     int    `json:"line"`
}

// Location returns "file:line".
func (f Frame) Location() string { return f.File + ":" + strconv.Itoa(f.Line) }

// String returns "function (file:line)".
func (f Frame) String() string { return f.Function + " (" + f.Location() + ")" }

// Frames symbolizes the stack, inlined calls included, innermost first.
func (s *Stack) Frames() []Frame {
	if s.n == 0 {
		return nil
	}
	out := make([]Frame, 0, s.n)
	frames := runtime.CallersFrames(s.pcs[:s.n])
	for {
		f, more := frames.Next()
		if f.Function != "" || f.File != "" {
			out = append(out, Frame{Function: f.Function, File: f.File, Line: f.Line})
		}
		if !more {
			return out
		}
	}
}

// Origin returns the index in frames of the first frame that is not inside
// one of the library packages: a frame whose function name starts with one
// of the prefixes and which is not in a _test.go file (so a library's own
// tests count as callers). It returns -1 when every frame is a library's.
func Origin(frames []Frame, libraries []string) int {
	for i, f := range frames {
		if !isLibrary(f, libraries) {
			return i
		}
	}
	return -1
}

func isLibrary(f Frame, libraries []string) bool {
	switch {
	case strings.HasPrefix(f.Function, "runtime."):
		return true
	case strings.HasSuffix(f.File, "_test.go"):
		return false
	}
	for _, p := range libraries {
		if strings.HasPrefix(f.Function, p) {
			return true
		}
	}
	return false
}
