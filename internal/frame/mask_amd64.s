#include "textflag.h"

// func maskBlocks(b []byte, key uint64)
// XORs b, whose length is a multiple of 64, with key repeated: 64 bytes an iteration in four
// 16-byte SSE2 registers (SSE2 is part of every amd64 CPU).
TEXT ·maskBlocks(SB), NOSPLIT, $0-32
	MOVQ b_base+0(FP), DI
	MOVQ b_len+8(FP), CX
	MOVQ key+24(FP), AX
	MOVQ AX, X0
	PUNPCKLQDQ X0, X0
	SHRQ $6, CX
	JZ done

loop:
	MOVOU (DI), X1
	MOVOU 16(DI), X2
	MOVOU 32(DI), X3
	MOVOU 48(DI), X4
	PXOR X0, X1
	PXOR X0, X2
	PXOR X0, X3
	PXOR X0, X4
	MOVOU X1, (DI)
	MOVOU X2, 16(DI)
	MOVOU X3, 32(DI)
	MOVOU X4, 48(DI)
	ADDQ $64, DI
	DECQ CX
	JNZ loop

done:
	RET
