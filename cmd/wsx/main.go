// Command wsx is a WebSocket tool built on the wsx library: an echo, broadcast and file server
// with a playground page, an interactive client, a handshake doctor and a load generator.
//
// Usage:
//
//	wsx serve [addr]          echo server (the playground page is at /), or a command's
//	                          stdin and stdout as a WebSocket server (--exec)
//	wsx connect URL           send stdin, print what arrives
//	wsx proxy [addr] URL      forward WebSocket connections to URL, logging every message
//	wsx bridge LISTEN TARGET  carry TCP connections over WebSockets, or back
//	wsx doctor URL            check a server's opening handshake, rule by rule
//	wsx doctor --listen       explain the handshakes clients send
//	wsx bench URL             load-test an echo server
//	wsx accept KEY            print the Sec-WebSocket-Accept value for a key
//	wsx key                   print a fresh Sec-WebSocket-Key
//
// Run "wsx COMMAND --help" for each command's flags and examples, "wsx --version" for
// the version.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"
)

// Exit statuses shared by every command.
const (
	exitOK    = 0
	exitFail  = 1 // the command ran and failed (a refused handshake, an unreachable server...)
	exitUsage = 2 // bad flag, bad argument, bad URL
)

// env is what a command sees of the process, so that tests run commands in-process.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// interactive reports that stdin and stdout are terminals: connect then escapes control
	// characters and bench redraws its progress line.
	interactive bool
	// stderrTerminal reports that stderr is a terminal.
	stderrTerminal bool
}

// command is one subcommand of wsx.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) int
}

// commands lists the subcommands in the order the help shows them. It is filled in init to
// break the cycle through usage, which prints the list.
var commands []command

func init() {
	commands = []command{
		{"serve", "run an echo, broadcast or file server with a playground page", runServe},
		{"connect", "connect to a WebSocket server: send stdin, print what arrives", runConnect},
		{"proxy", "forward WebSocket connections to a server, logging every message both ways", runProxy},
		{"bridge", "carry TCP connections over WebSockets, or WebSocket messages to TCP", runBridge},

		{"doctor", "check a server's opening handshake rule by rule, or explain a client's", runDoctor},
		{"bench", "load-test an echo server: throughput and latency percentiles", runBench},
		{"accept", "print the Sec-WebSocket-Accept value for a Sec-WebSocket-Key", runAccept},
		{"key", "print a fresh Sec-WebSocket-Key", runKey},
	}
}

func main() {
	// The first SIGINT or SIGTERM cancels ctx, which every command treats as "finish
	// gracefully"; a second one kills the process as usual.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	e := &env{
		stdin:          os.Stdin,
		stdout:         os.Stdout,
		stderr:         os.Stderr,
		interactive:    isTerminal(os.Stdin) && isTerminal(os.Stdout),
		stderrTerminal: isTerminal(os.Stderr),
	}
	os.Exit(run(ctx, e, os.Args[1:]))
}

// isTerminal reports whether f is a character device, which for the standard streams means a
// terminal (or /dev/null, which is harmless to treat as one).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

const mainUsage = `wsx is a WebSocket tool built on the wsx library (RFC 6455).

Usage:
  wsx COMMAND [flags] [arguments]

Commands:
%s
Run "wsx COMMAND --help" for a command's flags and examples, "wsx --version" for the version.

Examples:
  wsx serve                          # echo server on 127.0.0.1:8080, playground at http://127.0.0.1:8080/
  wsx connect ws://127.0.0.1:8080/   # type lines, see them echoed
  wsx doctor wss://example.com/ws    # why does the handshake fail?
  wsx proxy 9000 ws://127.0.0.1:8080/  # point a client at :9000 and watch its messages
`

// run dispatches to the subcommand named by args[0] and returns the exit status.
func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		fmt.Fprintf(e.stderr, mainUsage, commandList())
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 && args[0] == "help" {
			return run(ctx, e, []string{args[1], "--help"})
		}
		fmt.Fprintf(e.stdout, mainUsage, commandList())
		return exitOK
	case "-version", "--version", "version":
		fmt.Fprintf(e.stdout, "wsx %s (%s %s/%s)\n", version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return exitOK
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, e, args[1:])
		}
	}
	fmt.Fprintf(e.stderr, "wsx: unknown command %q (run \"wsx --help\" for the list)\n", args[0])
	return exitUsage
}

// version returns the version of the wsx module the binary was built from: its tag when
// installed with "go install ...@version", else the pseudo-version Go stamps from the VCS,
// or "(devel)".
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// userAgent is the User-Agent that wsx sends unless -H sets one.
func userAgent() string { return "wsx/" + version() }

func commandList() string {
	var b strings.Builder
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-8s %s\n", c.name, c.summary)
	}
	return b.String()
}

// flags is a subcommand's FlagSet with its help text. Errors are reported by parse, in one
// line, not by the flag package.
type flags struct {
	*flag.FlagSet
	usage string // the help text shown above the list of flags
}

func newFlags(name, usage string) *flags {
	fs := flag.NewFlagSet("wsx "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flags{fs, usage}
}

// parse parses args, allowing flags after positional arguments ("wsx connect URL -H ..."),
// as users type them. It returns the positional arguments and ok; when parsing stops it
// returns the exit status instead: exitOK after printing the help for -h/--help, exitUsage
// after printing one line naming the problem.
func (f *flags) parse(e *env, args []string) (positional []string, status int, ok bool) {
	for {
		err := f.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			f.printHelp(e.stdout)
			return nil, exitOK, false
		}
		if err != nil {
			return nil, f.usageError(e, "%v", err), false
		}
		rest := f.Args()
		if len(rest) == 0 {
			return positional, 0, true
		}
		if i := len(args) - len(rest); i > 0 && args[i-1] == "--" {
			return append(positional, rest...), 0, true // everything after "--" is positional
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// usageError prints one line about a bad invocation and returns exitUsage.
func (f *flags) usageError(e *env, format string, args ...any) int {
	fmt.Fprintf(e.stderr, "%s: %s (see %s --help)\n", f.Name(), fmt.Sprintf(format, args...), f.Name())
	return exitUsage
}

// printHelp prints the subcommand's help text and its flags, spelt with "--" (one-letter
// flags with "-"). A flag whose usage is "short for --name" is shown beside that flag.
func (f *flags) printHelp(w io.Writer) {
	fmt.Fprint(w, f.usage)
	hasFlags := false
	f.VisitAll(func(*flag.Flag) { hasFlags = true })
	if !hasFlags {
		return
	}
	fmt.Fprintln(w, "\nFlags:")
	short := map[string]string{}
	f.VisitAll(func(fl *flag.Flag) {
		if long, ok := strings.CutPrefix(fl.Usage, "short for --"); ok {
			short[long] = fl.Name
		}
	})
	const indent = 26
	f.VisitAll(func(fl *flag.Flag) {
		if strings.HasPrefix(fl.Usage, "short for --") {
			return
		}
		name, usage := flag.UnquoteUsage(fl)
		line := "      --" + fl.Name
		if len(fl.Name) == 1 {
			line = "  -" + fl.Name
		} else if s, ok := short[fl.Name]; ok {
			line = "  -" + s + ", --" + fl.Name
		}
		if name != "" {
			line += " " + name
		}
		if len(line) < indent-1 {
			line += strings.Repeat(" ", indent-len(line))
		} else {
			line += "\n" + strings.Repeat(" ", indent)
		}
		line += strings.ReplaceAll(usage, "\n", "\n"+strings.Repeat(" ", indent))
		if d := fl.DefValue; d != "" && d != "false" && d != "0" && d != "0s" {
			line += " (default " + d + ")"
		}
		fmt.Fprintln(w, line)
	})
}

// errText returns err's text for a line that already names the command: without the "wsx: "
// prefix of the library's errors, so that a line never says "wsx connect: wsx: ...".
func errText(err error) string {
	return strings.TrimPrefix(err.Error(), "wsx: ")
}

// listFlag is a repeatable flag whose values may also be comma-separated: -s a -s b, -s a,b.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for s := range strings.SplitSeq(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// stringsFlag is a repeatable flag whose values are kept whole, commas included.
type stringsFlag []string

func (l *stringsFlag) String() string { return strings.Join(*l, " ") }

func (l *stringsFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// headerFlag is a repeatable "Name: value" flag, like curl's -H.
type headerFlag [][2]string

func (h *headerFlag) String() string { return "" }

func (h *headerFlag) Set(v string) error {
	name, value, ok := strings.Cut(v, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.ContainsAny(name, " \t\r\n") {
		return fmt.Errorf("want \"Name: value\", got %q", v)
	}
	*h = append(*h, [2]string{name, strings.TrimSpace(value)})
	return nil
}

// sizeFlag is a byte count with an optional unit: 512, 16K, 16KiB, 64M, 1G (powers of 1024).
type sizeFlag int64

func (s *sizeFlag) String() string { return formatSize(int64(*s)) }

func (s *sizeFlag) Set(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	*s = sizeFlag(n)
	return nil
}

// parseSize parses a byte count such as "512", "16K", "16KiB", "64MiB" or "1g".
func parseSize(v string) (int64, error) {
	s := strings.ToLower(strings.TrimSpace(v))
	s = strings.TrimSuffix(strings.TrimSuffix(s, "b"), "i")
	shift := 0
	switch {
	case strings.HasSuffix(s, "k"):
		shift = 10
	case strings.HasSuffix(s, "m"):
		shift = 20
	case strings.HasSuffix(s, "g"):
		shift = 30
	}
	if shift > 0 {
		s = s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)>>shift {
		return 0, fmt.Errorf("bad size %q: want a number of bytes such as 512, 16KiB or 64MiB", v)
	}
	return n << shift, nil
}

// formatSize prints n in the largest unit that divides it: 64MiB, 1536B.
func formatSize(n int64) string {
	for _, u := range []struct {
		shift uint
		name  string
	}{{30, "GiB"}, {20, "MiB"}, {10, "KiB"}} {
		if n != 0 && n%(1<<u.shift) == 0 {
			return strconv.FormatInt(n>>u.shift, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}

// escapeControl returns p for display on a terminal: control characters (C0, DEL, C1), the
// Unicode controls that reorder text (bidi overrides), line and paragraph separators and
// invalid UTF-8 are escaped, so that a peer cannot move the cursor, retitle the window or
// hide text. Tabs and newlines are kept.
func escapeControl(p []byte) string {
	var b strings.Builder
	for len(p) > 0 {
		r, size := utf8.DecodeRune(p)
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, p[0])
		case r == '\t' || r == '\n':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Bidi_Control, r) || r == 0x2028 || r == 0x2029:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.Write(p[:size])
		}
		p = p[size:]
	}
	return b.String()
}

// formatDuration rounds d for display: 1ns resolution below a microsecond, 1µs below a
// millisecond, 10µs below a second, 1ms above.
func formatDuration(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	case d >= time.Microsecond:
		return d.Round(time.Microsecond).String()
	}
	return d.String()
}

// hostPatterns returns the AcceptOptions.HostPatterns of a server listening on addr that was
// told to answer for names (--host; a name without a port means any port). On a loopback
// address (localhost, 127.0.0.0/8, ::1) those are the loopback names and addresses on any port
// plus names, so that a page on another name that rebinds to the loopback address is refused
// (DNS rebinding, 421); elsewhere just names, or nil for every Host when none were given, as the
// server's own names are not known.
func hostPatterns(addr string, names ...string) []string {
	var patterns []string
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if ip, err := netip.ParseAddr(host); host == "localhost" || (err == nil && ip.IsLoopback()) {
		patterns = []string{"localhost:*", "127.0.0.0/8:*", "[::1]:*"}
	}
	for _, n := range names {
		if !strings.Contains(n, ":") {
			n += ":*"
		}
		patterns = append(patterns, n)
	}
	return patterns
}
