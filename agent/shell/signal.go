package shell

import (
	"fmt"
	"syscall"
)

// signals are the names a client may send in a Signal frame.
var signals = map[string]syscall.Signal{
	"INT":   syscall.SIGINT,
	"TERM":  syscall.SIGTERM,
	"HUP":   syscall.SIGHUP,
	"KILL":  syscall.SIGKILL,
	"QUIT":  syscall.SIGQUIT,
	"TSTP":  syscall.SIGTSTP,
	"CONT":  syscall.SIGCONT,
	"WINCH": syscall.SIGWINCH,
	"USR1":  syscall.SIGUSR1,
	"USR2":  syscall.SIGUSR2,
}

// ParseSignal maps a signal name as carried in a Signal frame ("INT", "TERM", …; an optional
// "SIG" prefix is accepted) to the signal.
func ParseSignal(name string) (syscall.Signal, error) {
	if len(name) > 3 && name[:3] == "SIG" {
		name = name[3:]
	}
	s, ok := signals[name]
	if !ok {
		return 0, fmt.Errorf("unsupported signal %q", name)
	}
	return s, nil
}

// Status is how a process ended: Code is its exit code, or 128+N when signal N killed it;
// Reason is "exit" or "signal: <name>" (for example "signal: killed").
type Status struct {
	Code   int
	Reason string
}

// ReasonExit is the Reason of a process that exited by itself.
const ReasonExit = "exit"

func statusOf(ws syscall.WaitStatus, waitErr error) Status {
	switch {
	case ws.Exited():
		return Status{Code: ws.ExitStatus(), Reason: ReasonExit}
	case ws.Signaled():
		return Status{Code: 128 + int(ws.Signal()), Reason: "signal: " + ws.Signal().String()}
	case waitErr != nil:
		return Status{Code: -1, Reason: "wait: " + waitErr.Error()}
	default:
		return Status{Code: -1, Reason: "unknown"}
	}
}
