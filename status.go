package wsx

import "fmt"

// StatusCode is a WebSocket close status code (§7.4).
type StatusCode int

// Status codes defined by RFC 6455 §7.4.1 and the IANA registry.
const (
	StatusNormalClosure   StatusCode = 1000
	StatusGoingAway       StatusCode = 1001
	StatusProtocolError   StatusCode = 1002
	StatusUnsupportedData StatusCode = 1003
	// StatusNoStatusReceived (1005) is never sent: it reports a Close frame without a code.
	StatusNoStatusReceived StatusCode = 1005
	// StatusAbnormalClosure (1006) is never sent: it reports a connection that ended without
	// a Close frame.
	StatusAbnormalClosure         StatusCode = 1006
	StatusInvalidFramePayloadData StatusCode = 1007
	StatusPolicyViolation         StatusCode = 1008
	StatusMessageTooBig           StatusCode = 1009
	StatusMandatoryExtension      StatusCode = 1010
	StatusInternalError           StatusCode = 1011
	StatusServiceRestart          StatusCode = 1012
	StatusTryAgainLater           StatusCode = 1013
	StatusBadGateway              StatusCode = 1014
	// StatusTLSHandshake (1015) is never sent: it reports a failed TLS handshake.
	StatusTLSHandshake StatusCode = 1015
)

var statusNames = map[StatusCode]string{
	StatusNormalClosure:           "normal closure",
	StatusGoingAway:               "going away",
	StatusProtocolError:           "protocol error",
	StatusUnsupportedData:         "unsupported data",
	StatusNoStatusReceived:        "no status received",
	StatusAbnormalClosure:         "abnormal closure",
	StatusInvalidFramePayloadData: "invalid frame payload data",
	StatusPolicyViolation:         "policy violation",
	StatusMessageTooBig:           "message too big",
	StatusMandatoryExtension:      "mandatory extension",
	StatusInternalError:           "internal error",
	StatusServiceRestart:          "service restart",
	StatusTryAgainLater:           "try again later",
	StatusBadGateway:              "bad gateway",
	StatusTLSHandshake:            "TLS handshake failure",
}

// String returns the code and its registered name, such as "1000 (normal closure)".
func (s StatusCode) String() string {
	if name, ok := statusNames[s]; ok {
		return fmt.Sprintf("%d (%s)", int(s), name)
	}
	return fmt.Sprintf("%d", int(s))
}
