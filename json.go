package wsx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ReadJSON reads the next message, which must be a text message holding one JSON value, and
// decodes it into v as json.Unmarshal does. The message is decoded as it arrives, through a
// json.Decoder over the message's Reader: it is never held whole in a buffer of its own.
//
// Errors leave the connection open and usable, so that the caller decides what a bad message
// means (a reply, or Close with StatusUnsupportedData or StatusInvalidFramePayloadData): a
// binary message, an empty one, one that is not valid JSON, one holding more than one value,
// or a value that does not fit v is an error, and what is left of that message is skipped by
// the next read. Errors of the connection itself (a *CloseError, ctx's error) come back as
// they are; a read cut short by ctx leaves the rest of the message for the next read, which
// then cannot decode it.
//
// For decoding options (json.Decoder's UseNumber or DisallowUnknownFields), use Reader with a
// json.Decoder of your own.
func ReadJSON(ctx context.Context, c *Conn, v any) error {
	typ, r, err := c.Reader(ctx)
	if err != nil {
		return err
	}
	if typ != MessageText {
		return fmt.Errorf("wsx: ReadJSON: got a %v message, want text", typ)
	}
	rr := &jsonReader{r: r}
	dec := json.NewDecoder(rr)
	if err := dec.Decode(v); err != nil {
		switch {
		case rr.err != nil:
			return rr.err // the connection's
		case err == io.EOF:
			return errors.New("wsx: ReadJSON: empty message, want a JSON value")
		case err == io.ErrUnexpectedEOF:
			return errors.New("wsx: ReadJSON: the message ends inside a JSON value")
		}
		return fmt.Errorf("wsx: ReadJSON: %w", err)
	}
	// One value per message: anything but white space after it is an error.
	if _, err := dec.Token(); err != io.EOF {
		if rr.err != nil {
			return rr.err
		}
		return errors.New("wsx: ReadJSON: the message holds more than one JSON value")
	}
	return nil
}

// jsonReader passes a message's Reader to a json.Decoder and keeps the error of the
// connection, which the Decoder would return mixed with its own.
type jsonReader struct {
	r   io.Reader
	err error // the first error other than io.EOF
}

func (j *jsonReader) Read(p []byte) (int, error) {
	n, err := j.r.Read(p)
	if err != nil && err != io.EOF && j.err == nil {
		j.err = err
	}
	return n, err
}

// WriteJSON sends v as one text message holding its JSON encoding, as json.Marshal produces
// it, without the newline that json.Encoder appends. The encoding is written straight from
// encoding/json's buffer, without a copy of its own. A value that cannot be encoded returns
// json's error and sends nothing.
func WriteJSON(ctx context.Context, c *Conn, v any) error {
	w := &jsonWriter{ctx: ctx, c: c}
	if err := json.NewEncoder(w).Encode(v); err != nil {
		if w.wrote {
			return err // the connection's
		}
		return fmt.Errorf("wsx: WriteJSON: %w", err)
	}
	return nil
}

// jsonWriter sends what a json.Encoder writes as one message. Encode writes a value, with its
// newline, in a single Write, once encoding has succeeded.
type jsonWriter struct {
	ctx   context.Context
	c     *Conn
	wrote bool
}

func (w *jsonWriter) Write(p []byte) (int, error) {
	if w.wrote {
		return 0, errors.New("wsx: WriteJSON: json.Encoder wrote a value in two parts")
	}
	w.wrote = true
	msg := p
	if n := len(msg); n > 0 && msg[n-1] == '\n' {
		msg = msg[:n-1]
	}
	if err := w.c.Write(w.ctx, MessageText, msg); err != nil {
		return 0, err
	}
	return len(p), nil
}
