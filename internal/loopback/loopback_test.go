package loopback_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/loopback"
)

func TestPeerAndHost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		remote, host string
		peer, local  bool
	}{
		{"127.0.0.1:5555", "127.0.0.1:8080", true, true},
		{"[::1]:5555", "[::1]:8080", true, true},
		{"[::ffff:127.0.0.1]:5555", "localhost:8080", true, true},
		{"127.0.0.1:5555", "medic.localhost", true, true},
		{"127.0.0.1:5555", "LOCALHOST.", true, true},
		{"127.0.0.1:5555", "", true, true},
		{"127.0.0.1:5555", "attacker.example.com", true, false},
		{"127.0.0.1:5555", "localhost.attacker.example", true, false},
		{"10.0.0.7:5555", "127.0.0.1:8080", false, true},
		{"not an address", "127.0.0.1", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.remote+" "+tt.host, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr, r.Host = tt.remote, tt.host
			require.Equal(t, tt.peer, loopback.Peer(r))
			require.Equal(t, tt.local, loopback.Host(tt.host))
		})
	}
}
