// Package loopback tells whether an HTTP request stays on this machine:
// what medic's API and MCP endpoint check when no tokens are configured,
// so that neither another host nor a web page reached through DNS
// rebinding (a foreign name resolving to 127.0.0.1) is served.
package loopback

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Peer reports whether the request comes from a loopback address.
func Peer(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// Host reports whether a Host header names this machine: localhost, a
// name under .localhost, or a loopback address. An empty one (HTTP/1.0;
// browsers always send a Host) counts as local.
func Host(hostport string) bool {
	if hostport == "" {
		return true
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
