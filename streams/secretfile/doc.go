// Package secretfile reads files holding secrets (NKEY seeds), refusing any file whose mode
// lets group or others at it. It imports only the standard library, so every binary can use
// it.
package secretfile
