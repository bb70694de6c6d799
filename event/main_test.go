//go:build !js

package event

import (
	"testing"

	"github.com/wsx-go/wsx/internal/leakcheck"
)

// TestMain fails the run when a test leaves a goroutine behind.
func TestMain(m *testing.M) { leakcheck.Main(m) }
