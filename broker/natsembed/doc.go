// Package natsembed starts and stops the broker's embedded NATS server with JetStream, and
// holds the authentication hook that turns each connection's NKEY into a principal and its
// subject permissions.
package natsembed
