//go:build !js

package wsx

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

type jsonEvent struct {
	Op   string   `json:"op"`
	ID   int      `json:"id"`
	Tags []string `json:"tags,omitempty"`
}

// WriteJSON sends exactly what json.Marshal produces, as one text message; ReadJSON decodes
// it back.
func TestJSONRoundTrip(t *testing.T) {
	ctx := context.Background()
	client, server := pipe(t, nil, nil)
	in := jsonEvent{Op: "join ✓", ID: 7, Tags: []string{"a", "b"}}
	go WriteJSON(ctx, client, in)
	typ, msg, err := server.Read(ctx)
	want, _ := json.Marshal(in)
	if err != nil || typ != MessageText || string(msg) != string(want) {
		t.Fatalf("on the wire: %v %q %v, want text %q", typ, msg, err, want)
	}
	go WriteJSON(ctx, client, in)
	var out jsonEvent
	if err := ReadJSON(ctx, server, &out); err != nil {
		t.Fatal(err)
	}
	if out.Op != in.Op || out.ID != in.ID || strings.Join(out.Tags, ",") != "a,b" {
		t.Fatalf("decoded %+v", out)
	}

	// A large value, decoded as it arrives.
	big := jsonEvent{Op: strings.Repeat("x", 1<<20)}
	go WriteJSON(ctx, client, big)
	if err := ReadJSON(ctx, server, &out); err != nil || out.Op != big.Op {
		t.Fatalf("large value: %d bytes, %v", len(out.Op), err)
	}
}

// A message that is not one JSON value in text is an error that leaves the connection usable:
// the next message decodes.
func TestReadJSONErrors(t *testing.T) {
	ctx := context.Background()
	client, server := pipe(t, nil, nil)
	for _, tc := range []struct {
		name string
		typ  MessageType
		msg  string
		want string
	}{
		{"binary", MessageBinary, `{"op":"x"}`, "binary message"},
		{"empty", MessageText, ``, "empty message"},
		{"not JSON", MessageText, `{"op":` + strings.Repeat(" ", 10000) + `nope}`, "invalid character"},
		{"truncated", MessageText, `{"op":"a`, "ends inside a JSON value"},
		{"two values", MessageText, `{"op":"a"} {"op":"b"}`, "more than one JSON value"},
		{"trailing bracket", MessageText, `{"op":"a"}]`, "more than one JSON value"},
		{"wrong type", MessageText, `{"id":"seven"}`, "cannot unmarshal"},
		{"white space after the value", MessageText, " {\"op\":\"ok\"} \r\n\t", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			go func() {
				client.Write(ctx, tc.typ, []byte(tc.msg))
				WriteJSON(ctx, client, jsonEvent{Op: "next"})
			}()
			var v jsonEvent
			err := ReadJSON(ctx, server, &v)
			if tc.want == "" {
				if err != nil || v.Op != "ok" {
					t.Fatalf("ReadJSON = %v, %+v", err, v)
				}
			} else if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "wsx: ") || strings.Count(err.Error(), "wsx: ") != 1 {
				t.Fatalf("ReadJSON = %v, want an error with one \"wsx: \" prefix mentioning %q", err, tc.want)
			}
			if err := ReadJSON(ctx, server, &v); err != nil || v.Op != "next" {
				t.Fatalf("the next message: %v, %+v", err, v)
			}
		})
	}
}

// Errors of the connection come back as they are.
func TestReadJSONConnectionErrors(t *testing.T) {
	client, server := pipe(t, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var v jsonEvent
	if err := ReadJSON(ctx, server, &v); !errors.Is(err, context.Canceled) {
		t.Fatalf("ReadJSON with a cancelled context = %v", err)
	}
	go client.Close(4001, "done")
	if err := ReadJSON(context.Background(), server, &v); CloseStatus(err) != 4001 {
		t.Fatalf("ReadJSON after the peer's Close = %v, want its *CloseError", err)
	}
}

// A value that json cannot encode sends nothing.
func TestWriteJSONUnencodable(t *testing.T) {
	ctx := context.Background()
	client, server := pipe(t, nil, nil)
	if err := WriteJSON(ctx, client, map[string]any{"c": make(chan int)}); err == nil || !strings.HasPrefix(err.Error(), "wsx: WriteJSON: json: unsupported type") {
		t.Fatalf("WriteJSON of a channel = %v", err)
	}
	go WriteJSON(ctx, client, 42)
	if _, msg, err := server.Read(ctx); err != nil || string(msg) != "42" {
		t.Fatalf("the peer read %q, %v; want only the next value", msg, err)
	}
	client.CloseNow()
	if err := WriteJSON(ctx, client, 1); !strings.Contains(err.Error(), "closed") || strings.Count(err.Error(), "wsx: ") != 1 {
		t.Fatalf("WriteJSON on a closed Conn = %v", err)
	}
}
