package header

import (
	"strconv"
	"strings"
)

// MaxQuoted bounds how much of a peer's header value Quote shows.
const MaxQuoted = 64

// Quote returns values, a header field's values joined as one list, in
// double quotes, with non-printable and non-ASCII bytes escaped and at most
// MaxQuoted bytes shown, so that a message that quotes a peer's header stays
// on one line and short.
func Quote(values ...string) string {
	v := strings.Join(values, ", ")
	if len(v) > MaxQuoted {
		return strconv.QuoteToASCII(v[:MaxQuoted]) + "..."
	}
	return strconv.QuoteToASCII(v)
}
