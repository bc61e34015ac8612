package leakdetect

import "strconv"

// Frame is one frame of a stack in a Report.
type Frame struct {
	Function string `json:"function"` // package path-qualified, as runtime.Frame.Function
	File     string `json:"file"`
	Line     int    `json:"line"`
}

// Location returns "file:line".
func (f Frame) Location() string { return f.File + ":" + strconv.Itoa(f.Line) }

// String returns "function (file:line)".
func (f Frame) String() string { return f.Function + " (" + f.Location() + ")" }
