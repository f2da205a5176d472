// Package brokertest starts a real in-process broker for tests, like httptest.NewServer,
// and hands out credentials for users and agents.
package brokertest
