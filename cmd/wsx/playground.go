package main

import (
	"embed"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// The playground page, embedded in the binary.
//
//go:embed playground
var playgroundFS embed.FS

// The playground's own paths. They start with /_wsx/ so that they do not hide the files of --dir.
const (
	playgroundPath = "/_wsx/playground"
	handshakePath  = "/_wsx/handshake"
	acceptPath     = "/_wsx/accept"
)

func servePlayground(w http.ResponseWriter, r *http.Request) {
	page, err := playgroundFS.ReadFile("playground/index.html")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(page)
}

// playgroundParam is the query parameter by which the playground asks the server to keep the
// handshake request of its connection, to show it: /echo?wsx-playground=ID. The ID is random,
// so that a page sees only its own requests (they may carry cookies).
const playgroundParam = "wsx-playground"

// Bounds of the handshake log: the number of handshakes kept, and what is kept of each.
// Together they bound the log to about maxHandshakes x maxRecordBytes (4 MiB).
const (
	maxHandshakes   = 256
	maxRecordBytes  = 16 << 10 // of header names and values in one record
	maxRecordValue  = 2 << 10  // of one header value; longer ones are cut
	maxRecordFields = 100
)

// handshakeRecord is a handshake request as the server received it, for the playground: a
// bounded copy, which refers to nothing of the request.
type handshakeRecord struct {
	Time        time.Time   `json:"time"`
	RemoteAddr  string      `json:"remoteAddr"`
	RequestLine string      `json:"requestLine"`
	Headers     [][2]string `json:"headers"`
	Ordered     bool        `json:"ordered"`   // Headers are in the order sent, with the names as sent
	Truncated   bool        `json:"truncated"` // some fields or values were left out or cut
	size        int         // bytes of names and values in Headers
}

func newHandshakeRecord(remoteAddr, requestLine string) *handshakeRecord {
	rec := &handshakeRecord{Time: time.Now(), RemoteAddr: remoteAddr}
	rec.RequestLine = rec.bounded(requestLine)
	return rec
}

// bounded returns a copy of s cut to maxRecordValue bytes.
func (rec *handshakeRecord) bounded(s string) string {
	if len(s) > maxRecordValue {
		rec.Truncated = true
		return strings.Clone(s[:maxRecordValue]) + "…"
	}
	return strings.Clone(s) // s may point into a pooled buffer or a large request
}

// addField keeps a copy of a header field while the record has room.
func (rec *handshakeRecord) addField(name, value string) {
	if len(rec.Headers) >= maxRecordFields || rec.size+len(name)+min(len(value), maxRecordValue) > maxRecordBytes {
		rec.Truncated = true
		return
	}
	f := [2]string{rec.bounded(name), rec.bounded(value)}
	rec.size += len(f[0]) + len(f[1])
	rec.Headers = append(rec.Headers, f)
}

// recordRequest makes the record of a request parsed by net/http: Host first, then the
// fields by name, since net/http keeps no order.
func recordRequest(r *http.Request) *handshakeRecord {
	rec := newHandshakeRecord(r.RemoteAddr, r.Method+" "+r.RequestURI+" "+r.Proto)
	rec.addField("Host", r.Host)
	for _, name := range slices.Sorted(maps.Keys(r.Header)) {
		for _, v := range r.Header[name] {
			rec.addField(name, v)
		}
	}
	return rec
}

// handshakeLog keeps the most recent accepted playground handshakes by ID.
type handshakeLog struct {
	mu      sync.Mutex
	byID    map[string]*handshakeRecord
	order   []string      // oldest first
	changed chan struct{} // closed at the next add
}

// recordWait is how long the playground's request for a record waits for it: the page asks
// as soon as its connection is open, which may be a moment before the server has logged
// the handshake it just accepted.
const recordWait = 500 * time.Millisecond

func (l *handshakeLog) add(id string, rec *handshakeRecord) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byID == nil {
		l.byID = make(map[string]*handshakeRecord)
	}
	if _, ok := l.byID[id]; !ok {
		l.order = append(l.order, id)
	}
	l.byID[id] = rec
	if len(l.order) > maxHandshakes {
		delete(l.byID, l.order[0])
		l.order = l.order[1:]
	}
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
}

// get returns the record of id, and otherwise a channel closed at the next add.
func (l *handshakeLog) get(id string) (*handshakeRecord, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if rec, ok := l.byID[id]; ok {
		return rec, nil
	}
	if l.changed == nil {
		l.changed = make(chan struct{})
	}
	return nil, l.changed
}

func (l *handshakeLog) serveHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	timeout := time.NewTimer(recordWait)
	defer timeout.Stop()
	rec, changed := l.get(id)
	for rec == nil {
		select {
		case <-changed:
			rec, changed = l.get(id)
		case <-timeout.C:
			http.Error(w, "no handshake with that id", http.StatusNotFound)
			return
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(rec)
}
