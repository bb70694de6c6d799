package frame

// maskBlocks XORs b, whose length is a multiple of 64, with key (8 bytes, little-endian)
// repeated (mask_amd64.s).
//
//go:noescape
func maskBlocks(b []byte, key uint64)
