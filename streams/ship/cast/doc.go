// Package cast renders a session's recorded frames into an asciicast v2 file and a
// plain-text log, and reads asciicast v2 files back for playback.
//
// # Determinism
//
// The same frames always render to byte-identical files: nothing depends on the current
// time or on map order, and every rule below is a function of the frames alone. The shipper
// relies on this: a redelivered session overwrites its files with the same bytes.
//
// # Times
//
// An event's time is the frame's Time minus Header.Timestamp, truncated to the microsecond
// and written as seconds with six decimals ("1.234567"). Times never go backwards: a frame
// stored before the session start, or before the previous frame, takes the previous time
// (0 at first).
//
// # UTF-8
//
// Event data is valid UTF-8. Each stream (stdout, stderr, stdin) is decoded on its own as
// one byte stream, whatever its frame boundaries: an incomplete multi-byte sequence at the
// end of a frame (up to 3 bytes that could still become a valid character) is held back and
// prepended to the next frame of the same stream, so a character split across frames comes
// out whole. Every byte that is not part of a valid encoding becomes one U+FFFD, as Go's
// own decoding does ([]rune(string(b))); asciinema's recorder instead replaces a maximal
// invalid subpart with one U+FFFD, so "\xe2\x82A" is "\ufffd\ufffdA" here and "\ufffdA"
// there. Held-back bytes are not flushed by other events; Close flushes them (as U+FFFD).
// A frame whose bytes are all held back produces no event.
//
// # The log
//
// The log is the output (stdout and stderr, never input) as the terminal would show it,
// line by line, without colours or other escape sequences:
//
//   - ECMA-48 sequences are removed: CSI, OSC (ended by BEL or ST), DCS, SOS, PM and APC
//     (ended by ST), and two-byte ESC sequences, also when split across frames; CAN and SUB
//     abort a sequence. C0 controls other than \n, \t, \r and \b, DEL and C1 controls are
//     dropped.
//   - A line is kept with a cursor: \r moves it to the start of the line and later text
//     overwrites ("10%\r20%" logs "20%"), \b moves it back one rune ("ab\bc" logs "ac";
//     "ab\b" alone logs "ab", as the terminal shows it), and CSI K erases from the cursor to
//     the end of the line (0), from the start to the cursor (1) or the whole line (2).
//     \n ends the line; so \r\n becomes \n. Trailing spaces are dropped from each line (so
//     the "\b \b" of an erased character leaves nothing).
//   - A line longer than maxLogLine runes is broken there.
//   - Error frames add a line "[tether] TEXT".
package cast
