package deflate

import "math"

// DEFLATE code tables shared by the encoder and the decoder (RFC 1951 §3.2.5).

const (
	maxMatch    = 258 // longest back-reference (RFC 1951 §3.2.5)
	minMatch    = 4   // shortest match the encoder looks for (3 is allowed)
	maxDistance = 1 << 15

	endBlock   = 256 // end-of-block symbol
	numLitLen  = 286 // literal/length symbols that may appear in data
	numDist    = 30  // distance symbols that may appear in data
	numCodeLen = 19  // code length alphabet (RFC 1951 §3.2.7)
	maxBits    = 15  // longest literal/length or distance code
	maxCLBits  = 7   // longest code length code
)

// Base values and extra bit counts of length symbols 257..285.
var (
	lengthBase = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
		35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
		3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase = [30]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
		257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
		7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}

	// codeLenOrder is the order in which code length code lengths are sent
	// (RFC 1951 §3.2.7).
	codeLenOrder = [numCodeLen]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
)

// Encoder lookups: lengthCode[len-3] is the length symbol minus 257;
// distCode maps dist-1 to a distance symbol (distCodeLo below 256,
// distCodeHi by (dist-1)>>7 above).
var (
	lengthCode [256]uint8
	distCodeLo [256]uint8
	distCodeHi [256]uint8
)

// Fixed Huffman code lengths (RFC 1951 §3.2.6).
var (
	fixedLitLen  [288]uint8
	fixedDistLen [30]uint8

	fixedLitCodes  [288]hcode
	fixedDistCodes [numDist]hcode
)

func init() {
	for c := 0; c < 28; c++ {
		for k := 0; k < 1<<lengthExtra[c]; k++ {
			lengthCode[int(lengthBase[c])-3+k] = uint8(c)
		}
	}
	lengthCode[255] = 28 // 258 has its own symbol, 285
	for c := 0; c < numDist; c++ {
		for k := 0; k < 1<<distExtra[c]; k++ {
			d := int(distBase[c]) - 1 + k
			if d < 256 {
				distCodeLo[d] = uint8(c)
			} else {
				distCodeHi[d>>7] = uint8(c)
			}
		}
	}
	for i := range 288 {
		switch {
		case i < 144:
			fixedLitLen[i] = 8
		case i < 256:
			fixedLitLen[i] = 9
		case i < 280:
			fixedLitLen[i] = 7
		default:
			fixedLitLen[i] = 8
		}
	}
	for i := range 30 {
		fixedDistLen[i] = 5
	}
	assignCodes(fixedLitLen[:], fixedLitCodes[:]) // all 288: 286 and 287 shift the 9-bit codes
	assignCodes(fixedDistLen[:], fixedDistCodes[:])
	for i := range log2Frac {
		log2Frac[i] = uint16(math.Round(256 * math.Log2(1+float64(i)/256)))
	}
	initDecoders()
}

// distSymbol returns the distance symbol for a distance 1..32768.
func distSymbol(dist int) int {
	if d := dist - 1; d < 256 {
		return int(distCodeLo[d])
	} else {
		return int(distCodeHi[d>>7])
	}
}
