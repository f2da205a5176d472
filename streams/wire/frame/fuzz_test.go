package frame

import (
	"bytes"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the decoders: they must never panic, and whatever
// decodes must re-encode to the same bytes.
func FuzzDecode(f *testing.F) {
	f.Add(Encode(Frame{Type: Stdout, Seq: 1, Payload: []byte("hi")}))
	f.Add(Encode(Frame{Type: Exit, Seq: 2, Payload: EncodeExit(ExitStatus{Code: 1, Reason: "exit"})}))
	f.Add(Encode(Frame{Type: Resize, Seq: 3, Payload: EncodeSize(Size{80, 24})}))
	f.Add([]byte{1, 2, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := Decode(b)
		if err != nil {
			return
		}
		if again := Encode(fr); !bytes.Equal(again, b) {
			t.Fatalf("re-encode differs:\n in  %x\n out %x", b, again)
		}
		switch fr.Type {
		case Resize:
			_, _ = DecodeSize(fr.Payload)
		case Exit:
			_, _ = DecodeExit(fr.Payload)
		case Window:
			_, _ = DecodeWindow(fr.Payload)
		case Signal, Error:
			_, _ = DecodeText(fr.Payload)
		}
	})
}
