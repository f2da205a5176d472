// Package channel binds one session to its subjects: it records the process's output as
// numbered frames on "out" through JetStream, within the client's credit window, and feeds
// the client's frames from "in" to the process, reporting consumed input on "ctl". When
// asked, it also records the client's input on "rin", numbered apart from the output.
package channel
