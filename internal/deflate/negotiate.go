package deflate

import (
	"errors"
	"strconv"
	"strings"

	"github.com/wsx-go/wsx/internal/header"
)

// ExtensionName is the extension token of RFC 7692 §7.
const ExtensionName = "permessage-deflate"

// Extension parameter names (RFC 7692 §7.1).
const (
	serverNoContextTakeover = "server_no_context_takeover"
	clientNoContextTakeover = "client_no_context_takeover"
	serverMaxWindowBits     = "server_max_window_bits"
	clientMaxWindowBits     = "client_max_window_bits"
)

// Defaults for a zero Config.
const (
	// DefaultWindowBits is the window of our own compressor: 16 KiB of
	// history keeps a connection with context takeover under 64 KiB even
	// when the peer uses the full 32 KiB window we must then keep to
	// inflate.
	DefaultWindowBits = 14
	// DefaultThreshold is the payload size below which a message is sent
	// uncompressed: shorter messages gain little and cost a Huffman header.
	DefaultThreshold = 128
)

// Params are negotiated permessage-deflate parameters (RFC 7692 §7.1),
// as one side will apply them: a side may compress with a smaller window
// than it announced or was allowed, so each side's Params record its own
// compression window.
type Params struct {
	// No context takeover for the messages the server / the client sends
	// (§7.1.1).
	ServerNoContextTakeover, ClientNoContextTakeover bool
	// Window bits (8..15) of the messages the server / the client sends;
	// 15 when no parameter limits it (§7.1.2).
	ServerMaxWindowBits, ClientMaxWindowBits int
}

// Config is what one side is willing to do. The zero value is usable.
// "Peer" fields ask the other side to limit itself, which saves memory
// here: its history is what we keep to inflate.
type Config struct {
	// Level is the compression level, BestSpeed..BestCompression;
	// 0 means DefaultCompression.
	Level int
	// Threshold is the payload size below which messages are sent
	// uncompressed: 0 means DefaultThreshold, a negative value compresses
	// every message.
	Threshold int
	// WindowBits limits the window of our compressor, 8..15; 0 means
	// DefaultWindowBits. The peer may lower it further.
	WindowBits int
	// PeerWindowBits asks the peer to compress with at most this window,
	// 8..15; 0 means 15 (no request). A server can only ask a client that
	// offered client_max_window_bits (§7.1.2.2).
	PeerWindowBits int
	// NoContextTakeover makes our compressor start every message with an
	// empty window; it is announced to the peer.
	NoContextTakeover bool
	// PeerNoContextTakeover asks the peer not to use context takeover, so
	// that we keep no history for inflating.
	PeerNoContextTakeover bool
}

func (c Config) windowBits() int {
	if c.WindowBits == 0 {
		return DefaultWindowBits
	}
	return clampBits(c.WindowBits)
}

// offeredClientBits is the client_max_window_bits value a client's offer carries, or 0 for
// the parameter without a value. Only a window the application chose is announced: some servers
// (Node's ws with clientMaxWindowBits set) refuse an offer whose value is below their own
// setting, and our compressor stays within windowBits whatever the offer says (§7.1.2.2 lets
// a client use a smaller window than agreed).
func (c Config) offeredClientBits() int {
	if c.WindowBits != 0 && clampBits(c.WindowBits) < 15 {
		return clampBits(c.WindowBits)
	}
	return 0
}

func (c Config) peerWindowBits() int {
	if c.PeerWindowBits == 0 {
		return 15
	}
	return clampBits(c.PeerWindowBits)
}

// Compress reports whether a message of n bytes should be compressed
// according to c.Threshold.
func (c Config) Compress(n int) bool {
	t := c.Threshold
	if t == 0 {
		t = DefaultThreshold
	}
	return n >= t
}

// NewCompressor returns the compressor for what the server (server true)
// or the client sends.
func (p Params) NewCompressor(server bool, level int) *Compressor {
	if server {
		return NewCompressor(p.ServerMaxWindowBits, !p.ServerNoContextTakeover, level)
	}
	return NewCompressor(p.ClientMaxWindowBits, !p.ClientNoContextTakeover, level)
}

// NewDecompressor returns the decompressor for what the server (server
// true) or the client receives.
func (p Params) NewDecompressor(server bool) *Decompressor {
	if server {
		return NewDecompressor(p.ClientMaxWindowBits, !p.ClientNoContextTakeover)
	}
	return NewDecompressor(p.ServerMaxWindowBits, !p.ServerNoContextTakeover)
}

// offer holds the parameters of one permessage-deflate element.
type offer struct {
	serverNCT, clientNCT   bool
	serverBits, clientBits int // 0: absent; clientBits -1: present without a value
}

// parseParams checks the parameters of an offer (response false) or a
// response (response true) against RFC 7692 §7.1. The errors say which
// rule failed; §5.1 makes each of them grounds to decline an offer or to
// fail the connection on a response.
func parseParams(ps []header.Param, response bool) (offer, error) {
	var o offer
	var seen [4]bool
	for _, p := range ps {
		var i int
		switch p.Name {
		case serverNoContextTakeover:
			i = 0
		case clientNoContextTakeover:
			i = 1
		case serverMaxWindowBits:
			i = 2
		case clientMaxWindowBits:
			i = 3
		default:
			// §5.1: a parameter not defined for use in an offer/response.
			return o, errors.New("unknown parameter " + strconv.Quote(p.Name))
		}
		if seen[i] {
			// §5.1: multiple parameters with the same name.
			return o, errors.New("duplicate parameter " + p.Name)
		}
		seen[i] = true
		switch i {
		case 0, 1:
			// §7.1.1.1, §7.1.1.2: "This extension parameter has no value."
			if p.HasValue {
				return o, errors.New(p.Name + " takes no value")
			}
			if i == 0 {
				o.serverNCT = true
			} else {
				o.clientNCT = true
			}
		case 2:
			// §7.1.2.1: always a value, 8..15 without leading zeroes.
			b, err := windowBitsValue(p)
			if err != nil {
				return o, err
			}
			o.serverBits = b
		case 3:
			// §7.1.2.2: an offer may omit the value; a response carries one,
			// 8..15 without leading zeroes.
			if !p.HasValue && !response {
				o.clientBits = -1
				continue
			}
			b, err := windowBitsValue(p)
			if err != nil {
				return o, err
			}
			o.clientBits = b
		}
	}
	return o, nil
}

// windowBitsValue parses the value of a *_max_window_bits parameter: a
// decimal integer without leading zeroes between 8 and 15 (§7.1.2.1,
// §7.1.2.2).
func windowBitsValue(p header.Param) (int, error) {
	if !p.HasValue {
		return 0, errors.New(p.Name + " needs a value")
	}
	v := p.Value
	if len(v) == 0 || len(v) > 2 || v[0] < '1' || v[0] > '9' || (len(v) == 2 && (v[1] < '0' || v[1] > '9')) {
		return 0, errors.New(p.Name + " value " + strconv.Quote(v) + " is not 8..15 without leading zeroes")
	}
	b := int(v[0] - '0')
	if len(v) == 2 {
		b = b*10 + int(v[1]-'0')
	}
	if b < 8 || b > 15 {
		return 0, errors.New(p.Name + " value " + v + " is out of the range 8..15")
	}
	return b, nil
}

// ServerNegotiate walks the client's offers in its order of preference
// (§5.1) and accepts the first valid permessage-deflate offer, returning
// the Params the server applies and the element to send back in
// Sec-WebSocket-Extensions. ok is false when no offer is acceptable: the
// extension is then declined by not mentioning it. An offer is declined
// (§5.1) when it has a parameter not defined for offers, a parameter twice,
// a value where none is allowed (*_no_context_takeover, §7.1.1), no value
// where one is required (server_max_window_bits, §7.1.2.1) or a window
// bits value that is not 8..15 without leading zeroes (§7.1.2).
func ServerNegotiate(offers []header.Extension, cfg Config) (p Params, response header.Extension, ok bool) {
	for _, ext := range offers {
		if !strings.EqualFold(ext.Name, ExtensionName) {
			continue
		}
		o, err := parseParams(ext.Params, false)
		if err != nil {
			continue // §5.1: decline this offer; a later one may do
		}
		resp := header.Extension{Name: ExtensionName}
		add := func(name string, value int) {
			p := header.Param{Name: name}
			if value > 0 {
				p.Value, p.HasValue = strconv.Itoa(value), true
			}
			resp.Params = append(resp.Params, p)
		}
		p := Params{ServerMaxWindowBits: cfg.windowBits(), ClientMaxWindowBits: 15}
		// §7.1.1.1: accepting server_no_context_takeover means echoing it;
		// the server may also impose it on itself.
		if o.serverNCT || cfg.NoContextTakeover {
			p.ServerNoContextTakeover = true
			add(serverNoContextTakeover, 0)
		}
		// §7.1.1.2: the server may send client_no_context_takeover in any
		// case. The client's own hint is echoed to make it binding, so that
		// no history is kept for inflating.
		if o.clientNCT || cfg.PeerNoContextTakeover {
			p.ClientNoContextTakeover = true
			add(clientNoContextTakeover, 0)
		}
		// §7.1.2.1: an offered server_max_window_bits is accepted by
		// answering the same or a smaller value, which our compressor then
		// respects. Without an offer our own smaller window needs no
		// announcement (and some clients refuse one they did not ask for).
		if o.serverBits > 0 {
			p.ServerMaxWindowBits = min(p.ServerMaxWindowBits, o.serverBits)
			add(serverMaxWindowBits, p.ServerMaxWindowBits)
		}
		// §7.1.2.2: client_max_window_bits may be answered only if offered,
		// with at most the offered value (always sent then: it is free
		// memory saved), or to ask for less than 15.
		if o.clientBits != 0 {
			want := cfg.peerWindowBits()
			if o.clientBits > 0 {
				want = min(want, o.clientBits)
			}
			if want < 15 || o.clientBits > 0 {
				p.ClientMaxWindowBits = want
				add(clientMaxWindowBits, want)
			}
		}
		return p, resp, true
	}
	return Params{}, header.Extension{}, false
}

// ClientOffer returns the client's permessage-deflate offer for cfg. Like
// browsers, it always offers client_max_window_bits, with our compressor's
// window as the value when it is below 15, so that a server may ask for a
// smaller one (§7.1.2.2).
func ClientOffer(cfg Config) header.Extension {
	ext := header.Extension{Name: ExtensionName}
	if cfg.NoContextTakeover {
		ext.Params = append(ext.Params, header.Param{Name: clientNoContextTakeover})
	}
	if cfg.PeerNoContextTakeover {
		ext.Params = append(ext.Params, header.Param{Name: serverNoContextTakeover})
	}
	if b := cfg.peerWindowBits(); b < 15 {
		ext.Params = append(ext.Params, header.Param{Name: serverMaxWindowBits, Value: strconv.Itoa(b), HasValue: true})
	}
	cmwb := header.Param{Name: clientMaxWindowBits}
	if b := cfg.offeredClientBits(); b > 0 {
		cmwb.Value, cmwb.HasValue = strconv.Itoa(b), true
	}
	ext.Params = append(ext.Params, cmwb)
	return ext
}

// CheckResponse checks resp, a server's permessage-deflate response, against
// offer, the client's offer it answers (RFC 7692 §7.1): its parameters must
// be defined for a response, once each, with valid values (§5.1), and within
// what the offer allows: server_max_window_bits no larger than an offered
// one (§7.1.2.1), client_max_window_bits only if offered, and no larger than
// an offered value (§7.1.2.2). A server that omits a parameter the client
// asked for is tolerated: the client can inflate any window and context
// takeover, at the cost of memory.
func CheckResponse(resp, offer header.Extension) error {
	if !strings.EqualFold(resp.Name, ExtensionName) {
		return errors.New("not " + ExtensionName)
	}
	r, err := parseParams(resp.Params, true)
	if err != nil {
		return err
	}
	o, err := parseParams(offer.Params, false)
	if err != nil {
		return errors.New("it answers an offer that is not valid (" + err.Error() + "), which the server must decline (§5.1)")
	}
	if o.serverBits > 0 && r.serverBits > o.serverBits {
		return errors.New(serverMaxWindowBits + "=" + strconv.Itoa(r.serverBits) + " is larger than the " + strconv.Itoa(o.serverBits) + " offered (§7.1.2.1)")
	}
	switch {
	case r.clientBits > 0 && o.clientBits == 0:
		return errors.New(clientMaxWindowBits + " in the response, but the offer did not include it (§7.1.2.2)")
	case r.clientBits > 0 && o.clientBits > 0 && r.clientBits > o.clientBits:
		return errors.New(clientMaxWindowBits + "=" + strconv.Itoa(r.clientBits) + " is larger than the " + strconv.Itoa(o.clientBits) + " offered (§7.1.2.2)")
	}
	return nil
}

// ClientAccept validates the server's permessage-deflate response to the
// offer ClientOffer(cfg) made (CheckResponse: §5.1 makes every problem
// grounds to fail the connection) and returns the Params the client applies.
func ClientAccept(resp header.Extension, cfg Config) (Params, error) {
	if err := CheckResponse(resp, ClientOffer(cfg)); err != nil {
		return Params{}, errors.New("deflate: server response " + strconv.Quote(resp.String()) + ": " + err.Error())
	}
	o, _ := parseParams(resp.Params, true)
	p := Params{
		ServerNoContextTakeover: o.serverNCT,
		ClientNoContextTakeover: o.clientNCT || cfg.NoContextTakeover,
		ServerMaxWindowBits:     15,
		ClientMaxWindowBits:     cfg.windowBits(),
	}
	if o.serverBits > 0 {
		p.ServerMaxWindowBits = o.serverBits
	}
	if o.clientBits > 0 {
		p.ClientMaxWindowBits = min(p.ClientMaxWindowBits, o.clientBits)
	}
	return p, nil
}
