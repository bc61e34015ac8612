#include "textflag.h"

// func callersFP(skip int, pcs []uintptr) int
//
// Walks the frame-pointer chain from its caller's frame, as the runtime's
// execution tracer does (runtime/tracestack.go, fpTracebackPCs): each Go
// frame on amd64 saves the caller's frame pointer at 0(BP) and has its
// return address at 8(BP). It leaves out skip frames, then stores return
// addresses into pcs until pcs is full or the chain ends: at a zero frame
// pointer (the goroutine's first frame), or at one that does not lie above
// the current one by less than 1 MiB (the step from a cgo callback's
// goroutine stack to the C thread's stack, where frame pointers are not to
// be trusted). Assembly, so the goroutine cannot be preempted, nor its stack
// moved, while the chain is read.
TEXT ·callersFP(SB), NOSPLIT|NOFRAME, $0-40
	MOVQ	skip+0(FP), R9
	MOVQ	pcs_base+8(FP), DI
	MOVQ	pcs_len+16(FP), CX
	MOVQ	BP, SI		// the caller's frame
	XORQ	AX, AX		// frames stored
loop:
	CMPQ	AX, CX
	JGE	done
	TESTQ	SI, SI
	JZ	done
	MOVQ	8(SI), DX	// return address into the frame's caller
	TESTQ	R9, R9
	JZ	store
	DECQ	R9
	JMP	next
store:
	MOVQ	DX, (DI)(AX*8)
	INCQ	AX
next:
	MOVQ	0(SI), DX	// the caller's frame pointer
	CMPQ	DX, SI
	JLS	done		// not above this frame
	MOVQ	DX, R8
	SUBQ	SI, R8
	CMPQ	R8, $0x100000
	JAE	done		// too far above: another stack
	TESTQ	$7, DX
	JNZ	done
	MOVQ	DX, SI
	JMP	loop
done:
	MOVQ	AX, ret+32(FP)
	RET
