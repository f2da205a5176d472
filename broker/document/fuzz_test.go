package document

import (
	"reflect"
	"slices"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, b := range Builtins() {
		f.Add([]byte(b.Content), "")
	}
	for _, s := range []string{ssmInteractiveExample, ssmPreferencesYAML} {
		f.Add([]byte(s), "YAML")
	}
	for _, s := range []string{ssmPreferencesExample, ssmPortExample, ssmStartInteractiveCommand} {
		f.Add([]byte(s), "JSON")
	}
	f.Add([]byte("a: &a [*a, *a]\n"), "")
	f.Add([]byte("schemaVersion: '1.0'\nsessionType: InteractiveCommands\nparameters:\n  l: {type: StringList, default: [a, b]}\nproperties:\n  linux:\n    commands: [\"echo {{ l }}\", \"cat <<E\", \"x\", \"E\"]\n"), "")
	f.Add([]byte(`{"schemaVersion": "1.0", "sessionType": "Port", "properties": {"portNumber": 22}}`), "JSON")
	f.Fuzz(func(t *testing.T, content []byte, format string) {
		d, err := Parse(content, format)
		if err != nil {
			return
		}
		d.Describe()
		d.Preferences()
		d.Resolve(nil) // defaults only: may fail (required parameters) but must not panic
		if d.script != nil {
			// An accepted script keeps its structure whatever the values.
			if err := hostileDifferential(d); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// FuzzResolve feeds arbitrary values to a document with every quoting context: either
// the value is refused, or the script does not depend on it and argv carries it exactly,
// and pasted in the script as its context is quoted it does not change its structure.
func FuzzResolve(f *testing.F) {
	for _, v := range []string{"", "v", "; rm -rf /", "$(id)", "`id`", "'", `"`, `\`, "a\nb", "${1}", "{{ p }}", "＄（ｉｄ）", "\x00", "\xff"} {
		f.Add(v, v)
	}
	d, err := cmdDoc("printf '%s\\n' {{ p }} \"x{{ p }}y\" 'a{{ p }}b' {{ l }} # {{ p }}\necho \"$(date)\" {{ n }}")
	if err != nil {
		f.Fatal(err)
	}
	base, err := d.Resolve(map[string][]string{"p": {"v"}, "l": {"a", "b"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, p, item string) {
		inv, err := d.Resolve(map[string][]string{"p": {p}, "l": {item, p}})
		if err != nil {
			return
		}
		if got, want := inv.Argv[:4], base.Argv[:4]; !slices.Equal(got, want) {
			t.Fatalf("the script depends on the values:\ngot  %q\nwant %q", got, want)
		}
		if got, want := inv.Argv[4:], []string{p, item, p, "1"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("argv carries %q, want %q", got, want)
		}
		if err := differential(d, base.Parameters, inv.Parameters); err != nil {
			t.Fatal(err)
		}
	})
}
