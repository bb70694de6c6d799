#include "textflag.h"

// func maskBlocks(b []byte, key uint64)
// XORs b, whose length is a multiple of 64, with key repeated. With AVX2 (·useAVX2) and at
// least 256 bytes: 128 bytes an iteration in four 32-byte registers, the memory operands
// unaligned; then, and otherwise, 64 bytes an iteration in four 16-byte SSE2 registers (SSE2
// is part of every amd64 CPU).
TEXT ·maskBlocks(SB), NOSPLIT, $0-32
	MOVQ b_base+0(FP), DI
	MOVQ b_len+8(FP), CX
	MOVQ key+24(FP), AX
	MOVQ AX, X0
	PUNPCKLQDQ X0, X0
	CMPQ CX, $256
	JB sse
	CMPB ·useAVX2(SB), $0
	JE sse
	VINSERTI128 $1, X0, Y0, Y0

avx:
	VPXOR (DI), Y0, Y1
	VPXOR 32(DI), Y0, Y2
	VPXOR 64(DI), Y0, Y3
	VPXOR 96(DI), Y0, Y4
	VMOVDQU Y1, (DI)
	VMOVDQU Y2, 32(DI)
	VMOVDQU Y3, 64(DI)
	VMOVDQU Y4, 96(DI)
	ADDQ $128, DI
	SUBQ $128, CX
	CMPQ CX, $128
	JAE avx
	VZEROUPPER

sse:
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

// func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL eaxArg+0(FP), AX
	MOVL ecxArg+4(FP), CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET

// func xgetbv() (eax, edx uint32)
TEXT ·xgetbv(SB), NOSPLIT, $0-8
	MOVL $0, CX
	XGETBV
	MOVL AX, eax+0(FP)
	MOVL DX, edx+4(FP)
	RET
