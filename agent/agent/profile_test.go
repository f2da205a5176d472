package agent

import "testing"

func TestProfileInput(t *testing.T) {
	for _, tc := range []struct{ profile, want string }{
		{"", ""},
		{" \n\t\n", ""},
		{"export A=1", "export A=1\n"},
		{"export A=1\ncd /tmp\n", "export A=1\ncd /tmp\n"},
		{"export A=1\r\ncd /tmp", "export A=1\ncd /tmp\n"},
		{"a\n\nb", "a\n\nb\n"},
	} {
		if got := string(profileInput(tc.profile)); got != tc.want {
			t.Errorf("profileInput(%q) = %q, want %q", tc.profile, got, tc.want)
		}
	}
}
