// Package limits ends a session that has gone without activity, or run, for too long.
package limits
