// Package version holds the one version string every Tether binary reports.
package version
