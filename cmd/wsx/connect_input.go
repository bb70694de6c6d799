package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"unicode/utf8"

	"github.com/wsx-go/wsx"
)

// inputMessage is a message of wsx connect's input.
type inputMessage struct {
	typ   wsx.MessageType
	data  []byte
	typed bool // a line typed at a terminal, which may be a /command
}

// readInput starts sending the messages of the input on the returned channel, which is
// closed at the end of the input or when done is closed: the --send messages and the
// --send-file file, or else the lines of stdin. A file that cannot be read is reported
// before anything is sent.
func readInput(e *env, cfg *connectConfig, out *printer, done <-chan struct{}) (<-chan inputMessage, error) {
	textType := wsx.MessageText
	if cfg.binary {
		textType = wsx.MessageBinary
	}
	var fixed []inputMessage
	for _, s := range cfg.send {
		fixed = append(fixed, inputMessage{typ: textType, data: []byte(s)})
	}
	if cfg.sendFile != "" {
		var data []byte
		var err error
		if cfg.sendFile == "-" {
			data, err = io.ReadAll(e.stdin)
		} else {
			data, err = os.ReadFile(cfg.sendFile)
		}
		if err != nil {
			return nil, fmt.Errorf("--send-file: %v", err)
		}
		typ := textType
		if !utf8.Valid(data) {
			typ = wsx.MessageBinary
		}
		fixed = append(fixed, inputMessage{typ: typ, data: data})
	}
	ch := make(chan inputMessage)
	send := func(m inputMessage) bool {
		select {
		case ch <- m:
			return true
		case <-done:
			return false
		}
	}
	if len(cfg.send) > 0 || cfg.sendFile != "" {
		go func() {
			defer close(ch)
			for i, m := range fixed {
				if m.typ == wsx.MessageText && !utf8.Valid(m.data) {
					out.warn("--send message %d is not valid UTF-8: sent as a binary message", i+1)
					m.typ = wsx.MessageBinary
				}
				if !send(m) {
					return
				}
			}
		}()
		return ch, nil
	}
	go func() {
		defer close(ch)
		br := bufio.NewReaderSize(e.stdin, 64<<10)
		warned := false
		for n := 1; ; n++ {
			line, err := br.ReadBytes('\n')
			if len(line) > 0 {
				m := inputMessage{typ: textType, data: trimEOL(line), typed: e.interactive}
				if m.typ == wsx.MessageText && !utf8.Valid(m.data) {
					// Text must be UTF-8 (§8.1): the server would fail the connection.
					m.typ = wsx.MessageBinary
					if !warned {
						out.warn("line %d is not valid UTF-8: sent as a binary message (and so will any other such line)", n)
						warned = true
					}
				}
				if !send(m) {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	return ch, nil
}

func trimEOL(line []byte) []byte {
	line = bytes.TrimSuffix(line, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r"))
}
