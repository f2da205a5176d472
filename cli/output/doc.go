// Package output prints the CLI's results as aligned tables or as indented JSON.
package output
