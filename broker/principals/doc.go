// Package principals keeps the broker's in-memory index of who may connect: users and
// agents by NKEY public key, activations by id, and the control plane's own keys.
package principals
