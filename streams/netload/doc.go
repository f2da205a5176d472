// Package netload is the TCP traffic of the port-forwarding tests and benchmark: echo,
// sink and source servers on loopback, and the clients that measure bulk throughput and
// request/response round trips through them (directly, or through whatever forwards a
// local address to them). It has no test dependencies, so the benchmark harness uses it too.
package netload
