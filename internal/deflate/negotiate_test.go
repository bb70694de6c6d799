package deflate

import (
	"strings"
	"testing"

	"github.com/wsx-go/wsx/internal/header"
)

func parse(t testing.TB, s string) []header.Extension {
	t.Helper()
	exts, err := header.ParseExtensions([]string{s})
	if err != nil {
		t.Fatalf("ParseExtensions(%q): %v", s, err)
	}
	return exts
}

func TestServerNegotiate(t *testing.T) {
	tests := []struct {
		name   string
		offers string
		cfg    Config
		want   string // response; "" means declined
		params Params
	}{
		{"Chromium and Node ws default offer (§7.1.2.2 without value)",
			"permessage-deflate; client_max_window_bits", Config{},
			"permessage-deflate", Params{ServerMaxWindowBits: 14, ClientMaxWindowBits: 15}},
		{"bare offer", "permessage-deflate", Config{},
			"permessage-deflate", Params{ServerMaxWindowBits: 14, ClientMaxWindowBits: 15}},
		{"server asks the client for a smaller window (§7.1.2.2)",
			"permessage-deflate; client_max_window_bits", Config{PeerWindowBits: 10},
			"permessage-deflate; client_max_window_bits=10", Params{ServerMaxWindowBits: 14, ClientMaxWindowBits: 10}},
		{"client's window value is answered, capped by ours (§7.1.2.2)",
			"permessage-deflate; client_max_window_bits=12", Config{PeerWindowBits: 10},
			"permessage-deflate; client_max_window_bits=10", Params{ServerMaxWindowBits: 14, ClientMaxWindowBits: 10}},
		{"client's window value is used to save memory (§7.1.2.2)",
			"permessage-deflate; client_max_window_bits=9", Config{},
			"permessage-deflate; client_max_window_bits=9", Params{ServerMaxWindowBits: 14, ClientMaxWindowBits: 9}},
		{"no client_max_window_bits offered: none may be answered (§7.1.2.2)",
			"permessage-deflate", Config{PeerWindowBits: 10},
			"permessage-deflate", Params{ServerMaxWindowBits: 14, ClientMaxWindowBits: 15}},
		{"server_max_window_bits accepted with the same value (§7.1.2.1)",
			"permessage-deflate; server_max_window_bits=8", Config{},
			"permessage-deflate; server_max_window_bits=8", Params{ServerMaxWindowBits: 8, ClientMaxWindowBits: 15}},
		{"server_max_window_bits accepted with a smaller value (§7.1.2.1)",
			"permessage-deflate; server_max_window_bits=15", Config{WindowBits: 11},
			"permessage-deflate; server_max_window_bits=11", Params{ServerMaxWindowBits: 11, ClientMaxWindowBits: 15}},
		{"server_no_context_takeover must be echoed (§7.1.1.1)",
			"permessage-deflate; server_no_context_takeover", Config{},
			"permessage-deflate; server_no_context_takeover", Params{ServerNoContextTakeover: true, ServerMaxWindowBits: 14, ClientMaxWindowBits: 15}},
		{"client_no_context_takeover hint is echoed (§7.1.1.2)",
			"permessage-deflate; client_no_context_takeover", Config{},
			"permessage-deflate; client_no_context_takeover", Params{ClientNoContextTakeover: true, ServerMaxWindowBits: 14, ClientMaxWindowBits: 15}},
		{"server imposes both no_context_takeover (§7.1.1)",
			"permessage-deflate", Config{NoContextTakeover: true, PeerNoContextTakeover: true},
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover",
			Params{ServerNoContextTakeover: true, ClientNoContextTakeover: true, ServerMaxWindowBits: 14, ClientMaxWindowBits: 15}},
		{"everything at once, quoted value",
			`permessage-deflate; client_no_context_takeover; server_no_context_takeover; server_max_window_bits="10"; client_max_window_bits=9`, Config{},
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9",
			Params{true, true, 10, 9}},
		{"other extensions are skipped", "x-webkit-deflate-frame, permessage-deflate", Config{},
			"permessage-deflate", Params{ServerMaxWindowBits: 14, ClientMaxWindowBits: 15}},
		{"first acceptable offer wins (§5.1)",
			"permessage-deflate; server_max_window_bits=10, permessage-deflate", Config{},
			"permessage-deflate; server_max_window_bits=10", Params{ServerMaxWindowBits: 10, ClientMaxWindowBits: 15}},
		{"invalid first offer falls back to the next (§5.1)",
			"permessage-deflate; server_max_window_bits=7, permessage-deflate; client_max_window_bits", Config{},
			"permessage-deflate", Params{ServerMaxWindowBits: 14, ClientMaxWindowBits: 15}},
		// Declined offers (§5.1).
		{"unknown parameter", "permessage-deflate; foo", Config{}, "", Params{}},
		{"duplicate parameter", "permessage-deflate; server_no_context_takeover; server_no_context_takeover", Config{}, "", Params{}},
		{"duplicate window parameter", "permessage-deflate; client_max_window_bits; client_max_window_bits=10", Config{}, "", Params{}},
		{"value where none is allowed (§7.1.1.1)", "permessage-deflate; server_no_context_takeover=1", Config{}, "", Params{}},
		{"value where none is allowed (§7.1.1.2)", "permessage-deflate; client_no_context_takeover=true", Config{}, "", Params{}},
		{"server_max_window_bits needs a value (§7.1.2.1)", "permessage-deflate; server_max_window_bits", Config{}, "", Params{}},
		{"server_max_window_bits below 8", "permessage-deflate; server_max_window_bits=7", Config{}, "", Params{}},
		{"server_max_window_bits above 15", "permessage-deflate; server_max_window_bits=16", Config{}, "", Params{}},
		{"leading zero (§7.1.2.1)", "permessage-deflate; server_max_window_bits=09", Config{}, "", Params{}},
		{"client_max_window_bits above 15 (§7.1.2.2)", "permessage-deflate; client_max_window_bits=16", Config{}, "", Params{}},
		{"client_max_window_bits not a number", "permessage-deflate; client_max_window_bits=x", Config{}, "", Params{}},
		{"client_max_window_bits 0", "permessage-deflate; client_max_window_bits=0", Config{}, "", Params{}},
		{"not offered", "x-custom; client_max_window_bits", Config{}, "", Params{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, resp, ok := ServerNegotiate(parse(t, tt.offers), tt.cfg)
			if tt.want == "" {
				if ok {
					t.Fatalf("accepted with %q, want declined", resp.String())
				}
				return
			}
			if !ok {
				t.Fatalf("declined, want %q", tt.want)
			}
			if resp.String() != tt.want || p != tt.params {
				t.Fatalf("got %q %+v, want %q %+v", resp.String(), p, tt.want, tt.params)
			}
		})
	}
}

func TestClientOffer(t *testing.T) {
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		// The default window is used but not announced: a value below a server's own
		// setting makes some servers (Node's ws) refuse the offer.
		{Config{}, "permessage-deflate; client_max_window_bits"},
		{Config{WindowBits: 14}, "permessage-deflate; client_max_window_bits=14"},
		{Config{WindowBits: 15}, "permessage-deflate; client_max_window_bits"},
		{Config{WindowBits: 15, PeerWindowBits: 10}, "permessage-deflate; server_max_window_bits=10; client_max_window_bits"},
		{Config{WindowBits: 9, NoContextTakeover: true, PeerNoContextTakeover: true},
			"permessage-deflate; client_no_context_takeover; server_no_context_takeover; client_max_window_bits=9"},
	} {
		if got := ClientOffer(tt.cfg).String(); got != tt.want {
			t.Errorf("ClientOffer(%+v) = %q, want %q", tt.cfg, got, tt.want)
		}
	}
}

func TestClientAccept(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		resp    string
		want    Params
		wantErr string
	}{
		{"bare acceptance", Config{}, "permessage-deflate",
			Params{ServerMaxWindowBits: 15, ClientMaxWindowBits: 14}, ""},
		{"server limits its own window unasked (§7.1.2.1)", Config{}, "permessage-deflate; server_max_window_bits=10",
			Params{ServerMaxWindowBits: 10, ClientMaxWindowBits: 14}, ""},
		{"server limits our window (§7.1.2.2)", Config{}, "permessage-deflate; client_max_window_bits=9",
			Params{ServerMaxWindowBits: 15, ClientMaxWindowBits: 9}, ""},
		{"server answers the default value-less offer: our smaller window stays (§7.1.2.2)", Config{}, "permessage-deflate; client_max_window_bits=15",
			Params{ServerMaxWindowBits: 15, ClientMaxWindowBits: 14}, ""},
		{"server answers the default value-less offer with less", Config{}, "permessage-deflate; client_max_window_bits=10",
			Params{ServerMaxWindowBits: 15, ClientMaxWindowBits: 10}, ""},
		{"server answers a value-less offer (§7.1.2.2)", Config{WindowBits: 15}, "permessage-deflate; client_max_window_bits=15",
			Params{ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}, ""},
		{"no context takeover both ways (§7.1.1)", Config{}, "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
			Params{true, true, 15, 14}, ""},
		{"our own no context takeover stays", Config{NoContextTakeover: true}, "permessage-deflate",
			Params{ClientNoContextTakeover: true, ServerMaxWindowBits: 15, ClientMaxWindowBits: 14}, ""},
		{"asked window honoured", Config{PeerWindowBits: 10}, "permessage-deflate; server_max_window_bits=9",
			Params{ServerMaxWindowBits: 9, ClientMaxWindowBits: 14}, ""},
		{"asked window omitted: inflate with 15", Config{PeerWindowBits: 10}, "permessage-deflate",
			Params{ServerMaxWindowBits: 15, ClientMaxWindowBits: 14}, ""},
		{"server window larger than offered (§7.1.2.1)", Config{PeerWindowBits: 10}, "permessage-deflate; server_max_window_bits=11",
			Params{}, "larger than the 10 offered"},
		{"client window larger than offered (§7.1.2.2)", Config{WindowBits: 12}, "permessage-deflate; client_max_window_bits=13",
			Params{}, "larger than the 12 offered"},
		{"client_max_window_bits without value in a response (§7.1.2.2)", Config{}, "permessage-deflate; client_max_window_bits",
			Params{}, "needs a value"},
		{"unknown parameter (§5.1)", Config{}, "permessage-deflate; foo=1", Params{}, "unknown parameter"},
		{"duplicate parameter (§5.1)", Config{}, "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
			Params{}, "duplicate"},
		{"invalid value (§5.1)", Config{}, "permessage-deflate; server_max_window_bits=16", Params{}, "out of the range"},
		{"value on a flag (§7.1.1.1)", Config{}, "permessage-deflate; server_no_context_takeover=1", Params{}, "takes no value"},
		{"another extension", Config{}, "x-webkit-deflate-frame", Params{}, "not permessage-deflate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ClientAccept(parse(t, tt.resp)[0], tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %+v, %v; want an error containing %q", p, err, tt.wantErr)
				}
				return
			}
			if err != nil || p != tt.want {
				t.Fatalf("got %+v, %v; want %+v", p, err, tt.want)
			}
		})
	}
}

// TestNegotiateBothSides runs our offer through our server for many
// configurations: the client must accept every response, and the two
// sides must agree on what each sends.
func TestNegotiateBothSides(t *testing.T) {
	for _, cc := range []Config{{}, {WindowBits: 15}, {WindowBits: 9, PeerWindowBits: 12}, {NoContextTakeover: true, PeerNoContextTakeover: true}, {PeerWindowBits: 8}} {
		for _, sc := range []Config{{}, {WindowBits: 15, PeerWindowBits: 10}, {WindowBits: 8, NoContextTakeover: true}, {PeerNoContextTakeover: true, PeerWindowBits: 13}} {
			sp, resp, ok := ServerNegotiate([]header.Extension{ClientOffer(cc)}, sc)
			if !ok {
				t.Fatalf("client %+v server %+v: declined", cc, sc)
			}
			cp, err := ClientAccept(parse(t, resp.String())[0], cc)
			if err != nil {
				t.Fatalf("client %+v server %+v: %v", cc, sc, err)
			}
			// What one side sends, the other inflates: its sender may use
			// less than the receiver allows, never more.
			if sp.ServerMaxWindowBits > cp.ServerMaxWindowBits || cp.ClientMaxWindowBits > sp.ClientMaxWindowBits {
				t.Errorf("client %+v server %+v: windows server %+v client %+v", cc, sc, sp, cp)
			}
			if sp.ServerNoContextTakeover != cp.ServerNoContextTakeover && !sp.ServerNoContextTakeover ||
				sp.ClientNoContextTakeover && !cp.ClientNoContextTakeover {
				t.Errorf("client %+v server %+v: context takeover server %+v client %+v", cc, sc, sp, cp)
			}
		}
	}
}
