// Package document parses, validates and resolves SSM-compatible session documents
// (schemaVersion 1.0), turning a document and a caller's parameters into an Invocation
// in which no parameter value is ever interpreted by a shell.
package document
