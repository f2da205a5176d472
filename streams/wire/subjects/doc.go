// Package subjects is the one place that names Tether's NATS subjects. The accounts and
// permissions principals get on them are streams/accounts.
package subjects
