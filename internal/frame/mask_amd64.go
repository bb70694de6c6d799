package frame

// maskBlocks XORs b, whose length is a multiple of 64, with key (8 bytes, little-endian)
// repeated (mask_amd64.s): 128 bytes an iteration in 32-byte AVX2 registers where the CPU and
// the OS support them and b is long enough to pay for the switch, 64 bytes in 16-byte SSE2
// registers otherwise.
//
//go:noescape
func maskBlocks(b []byte, key uint64)

// useAVX2 is read by maskBlocks; the tests clear it to run the SSE2 loop.
var useAVX2 = hasAVX2()

// hasAVX2 reports whether the CPU has AVX2 and the OS saves the YMM registers (CPUID and
// XGETBV, as the Intel SDM §14.3 describes; the standard library's internal/cpu cannot be
// imported).
func hasAVX2() bool {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const osxsave, avx = 1 << 27, 1 << 28
	if ecx1&osxsave == 0 || ecx1&avx == 0 {
		return false
	}
	if xcr0, _ := xgetbv(); xcr0&6 != 6 { // XMM and YMM state enabled by the OS
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<5) != 0
}

func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)

func xgetbv() (eax, edx uint32)
