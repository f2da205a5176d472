package agent

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tetherhq/tether/agent/channel"
	"github.com/tetherhq/tether/agent/limits"
	"github.com/tetherhq/tether/agent/shell"
	"github.com/tetherhq/tether/streams/logkey"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/frame"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// Session timings.
const (
	// ReasonAttachTimeout ends a session whose client never sent its first frame.
	ReasonAttachTimeout = api.ReasonAttachTimeout
	terminateGrace      = 2 * time.Second // between SIGHUP and SIGKILL
	drainIdle           = 500 * time.Millisecond
	reportFor           = time.Minute // how long SessionEnded is retried
)

// session is one session on the agent: it waits for its client, runs the process, and
// reports the end.
type session struct {
	a     *Agent
	id    string
	start api.AgentStart
	ch    *channel.Channel
	log   *slog.Logger
	user  *shell.Account // nil: the agent's own
	watch *limits.Watch
	fwd   *forwarding // a port forwarding session's connections; nil for others

	// ended is cancelled when the session is asked to end; reason says why.
	ended  context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	reason string
}

func (a *Agent) newSession(st *api.AgentStart, user *shell.Account) (*session, error) {
	log := a.log.With(logkey.SessionID, st.SessionID, logkey.User, st.Owner)
	forward := len(st.Forwards) > 0
	shellSession := len(st.Command) == 0 && !forward
	watch := limits.New(limits.Limits{Idle: st.IdleTimeout.Std(), Max: st.MaxDuration.Std()})
	var onActivity func()
	if st.IdleTimeout > 0 {
		onActivity = watch.Touch
	}
	s := &session{a: a, id: st.SessionID, start: *st, log: log, user: user, watch: watch}
	var forwardFrame func(frame.Frame)
	if forward {
		// Forwarded bytes, either way, are a tunnel's activity; keepalives are not.
		s.fwd = s.newForwarding(onActivity)
		forwardFrame = func(f frame.Frame) {
			if err := s.fwd.mux.Handle(f); err != nil {
				log.Debug("forwarding frame refused", logkey.Err, err)
			}
		}
	}
	var preface []byte
	if shellSession {
		preface = profileInput(st.ShellProfile)
	}
	ch, err := channel.Open(channel.Config{
		Conn:           a.nc,
		JS:             a.js,
		SessionID:      st.SessionID,
		Subjects:       st.Subjects,
		Window:         st.Window,
		Logger:         log,
		OnActivity:     onActivity,
		OutputActivity: !shellSession && !st.Interactive && !forward, // no terminal: output is activity
		Preface:        preface,
		RecordInput:    st.RecordInput,
		// A broker outage shorter than the resume window kills nothing: output waits
		// under flow control for the stream that long.
		RecordTimeout: st.ResumeWindow.Std(),
		Forward:       forwardFrame,
	})
	if err != nil {
		return nil, err
	}
	s.ch = ch
	s.ended, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// profileInput is a shell profile as typed into a terminal: each line ends with a newline.
func profileInput(profile string) []byte {
	if strings.TrimSpace(profile) == "" {
		return nil
	}
	var b []byte
	for line := range strings.Lines(profile) {
		b = append(b, strings.TrimRight(line, "\r\n")...)
		b = append(b, '\n')
	}
	return b
}

// end asks the session to end for reason; the first reason wins.
func (s *session) end(reason string) {
	s.mu.Lock()
	first := s.reason == ""
	if first {
		s.reason = reason
	}
	s.mu.Unlock()
	if first {
		s.cancel()
		s.ch.ReleaseWindow()
	}
}

func (s *session) endReason() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reason
}

func (s *session) run() {
	defer s.cancel()
	t := time.NewTimer(s.a.cfg.AttachTimeout)
	select {
	case <-s.ch.Attached():
	case <-t.C:
		s.end(ReasonAttachTimeout)
	case <-s.ended.Done():
	}
	t.Stop()
	if r := s.endReason(); r != "" {
		s.finish(-1, r, "")
		return
	}

	if s.fwd != nil {
		s.runForward()
		return
	}
	st := s.start
	proc, err := shell.Start(shell.Spec{
		Command: st.Command,
		TTY:     len(st.Command) == 0 || st.Interactive,
		Cols:    st.Cols,
		Rows:    st.Rows,
		Term:    st.Term,
		User:    s.user,
	})
	if code, msg, ok := shell.Unrunnable(st.Command, err); ok {
		s.log.Info("command cannot run", logkey.Err, err, logkey.ExitCode, code)
		s.exitWithout(code, msg, len(st.Command) == 0 || st.Interactive)
		return
	}
	if err != nil {
		s.log.Warn("start process", logkey.Err, err)
		s.ch.SendError(err.Error())
		s.finish(-1, api.ReasonStartFailed, err.Error())
		return
	}
	defer s.a.recordProcess(s.id, proc, s.log)() // removed once its group is gone (orphans.go)
	outs := []channel.Output{{Type: frame.Stdout, R: proc.Stdout()}}
	if proc.TTY() {
		cols, rows := st.Cols, st.Rows
		if cols == 0 || rows == 0 {
			cols, rows = 80, 24
		}
		s.ch.SendResize(frame.Size{Cols: cols, Rows: rows})
	} else {
		outs = append(outs, channel.Output{Type: frame.Stderr, R: proc.Stderr()})
	}
	// The limits count from now, when the client has attached and the process runs.
	s.watch.Start(s.limitReached)
	s.ch.Bind(proc, outs...)
	stopWatch := make(chan struct{})
	if !proc.TTY() {
		go s.watchClient(stopWatch)
	}

	exited := false
	select {
	case <-proc.Done():
		exited = true
	case <-s.ended.Done():
	case <-s.ch.Failed():
		s.end(api.ReasonRecordingFailed)
	}
	close(stopWatch)
	s.watch.Close() // the session ends for the reason at hand: no limit may replace it
	if !exited {
		proc.Terminate(terminateGrace)
	}
	status := proc.Wait()
	s.ch.Drain(drainIdle)
	proc.Close()
	reason, detail := status.Reason, ""
	if r := s.endReason(); r != "" {
		reason, detail = r, status.Reason
	}
	s.finish(status.Code, reason, detail)
}

// exitWithout ends a session whose command could not start as a shell would: msg on its
// stderr (its terminal, for a TTY session) and exit status code.
func (s *session) exitWithout(code int, msg string, tty bool) {
	out := channel.Output{Type: frame.Stderr, R: io.NopCloser(strings.NewReader(msg + "\n"))}
	if tty {
		out = channel.Output{Type: frame.Stdout, R: io.NopCloser(strings.NewReader(msg + "\r\n"))}
	}
	s.ch.Bind(noProcess{}, out)
	s.ch.Drain(drainIdle)
	s.finish(code, shell.ReasonExit, "")
}

// noProcess stands in for a process that never started: input goes nowhere.
type noProcess struct{}

func (noProcess) Write(p []byte) (int, error)    { return len(p), nil }
func (noProcess) CloseStdin() error              { return nil }
func (noProcess) Resize(cols, rows uint16) error { return nil }
func (noProcess) Signal(name string) error       { return nil }

// watchClient ends a session without a terminal (a command) when its client has sent
// nothing, keepalives included, for the resume window: the client went away for good, and
// nobody will read the output or resume it. A terminal session waits for its idle timeout.
func (s *session) watchClient(stop <-chan struct{}) {
	window := s.start.ResumeWindow.Std()
	if window <= 0 {
		window = defaultResumeWindow
	}
	t := time.NewTicker(min(window/8, clientCheckMax))
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if since := time.Since(s.ch.LastInput()); since > window {
				s.log.Info("the client has sent nothing for the resume window", logkey.Duration, since.Round(time.Second))
				s.end(api.ReasonClientGone)
				return
			}
		}
	}
}

// defaultResumeWindow is the resume window of a broker that does not say; clientCheckMax
// bounds how late a gone client is noticed.
const (
	defaultResumeWindow = 3 * time.Minute
	clientCheckMax      = 5 * time.Second
)

// limitReached ends the session when its idle timeout or maximum duration is reached.
func (s *session) limitReached(reason string) {
	s.log.Info("session limit reached", logkey.Reason, reason)
	s.end(reason)
}

// finish publishes the Exit frame, waits until the stream holds every frame, and reports
// the end to the control plane.
func (s *session) finish(code int, reason, detail string) {
	endedAt := time.Now().UTC()
	stats := s.ch.Finish(s.ended, frame.ExitStatus{Code: int32(code), Reason: reason})
	if stats.Err != nil {
		reason, detail = api.ReasonRecordingFailed, stats.Err.Error()
	}
	s.log.Info("session ended", logkey.ExitCode, code, logkey.Reason, reason, logkey.Frames, stats.Frames, logkey.Bytes, stats.Bytes)
	s.a.reportEnded(api.SessionEndedRequest{
		SessionID: s.id,
		ExitCode:  code,
		Reason:    reason,
		Detail:    detail,
		OutFrames: stats.Frames,
		OutBytes:  stats.Bytes,
		EndedAt:   endedAt,
	}, s.log)
}

// reportEnded sends SessionEnded, retrying for a while: the broker may be restarting.
func (a *Agent) reportEnded(req api.SessionEndedRequest, log *slog.Logger) {
	a.report(api.VerbSessionEnded, req, log)
}

// report sends an agent API request whose answer is only "taken", retrying for a while
// (reportFor): the broker may be restarting.
func (a *Agent) report(verb string, req any, log *slog.Logger) {
	deadline := time.Now().Add(reportFor)
	subject := subjects.AgentAPI(a.id.instanceID, verb)
	// The report is due even while the agent shuts down: the waits end at the deadline,
	// or when the connection closes.
	wctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	go func() {
		select {
		case <-a.connClosed:
			cancel()
		case <-wctx.Done():
		}
	}()
	b := reconnectPolicy(a.cfg.ReconnectMax).Start()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		err := api.Call(ctx, a.nc, subject, req, nil)
		cancel()
		if err == nil {
			return
		}
		var apiErr *api.Error
		if errors.As(err, &apiErr) && apiErr.Code != api.CodeUnavailable && apiErr.Code != api.CodeInternal {
			log.Warn("control plane refused the report", logkey.Verb, verb, logkey.Err, err)
			return
		}
		if errors.Is(err, nats.ErrConnectionClosed) || time.Now().After(deadline) {
			log.Error("could not report", logkey.Verb, verb, logkey.Err, err)
			return
		}
		log.Debug("report: retrying", logkey.Verb, verb, logkey.Err, err)
		_ = b.Wait(wctx)
	}
}
