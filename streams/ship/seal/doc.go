// Package seal encrypts recordings on the client side, before they leave for object
// storage, as age files (https://age-encryption.org) to one or more X25519 recipients.
//
// It uses filippo.io/age rather than anything of its own: the file key is wrapped for each
// recipient with X25519, and the payload is sealed in authenticated ChaCha20-Poly1305
// chunks, so a flipped, dropped or truncated byte is refused rather than decrypted.
//
// Encryption is randomized: the same recording sealed twice gives different bytes. The
// shipper's exactly-once delivery therefore rests on object keys (one key per session,
// written once), never on comparing or hashing ciphertext.
package seal
