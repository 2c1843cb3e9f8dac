package strictjson

import (
	"strings"
	"testing"
)

func TestUnmarshal(t *testing.T) {
	type doc struct {
		A int   `json:"a"`
		B []int `json:"b"`
	}
	tests := []struct {
		in, err string
	}{
		{`{"a":1,"b":[1,2]}`, ""},
		{` {"a":1} ` + "\n", ""},
		{`{"a":1,"a":2}`, `duplicate key "a"`},
		{`{"a":1}}`, "trailing data"},
		{`{"a":1} {"a":2}`, "trailing data"},
		{`{"c":1}`, `unknown field "c"`},
		{`{"a":"x"}`, "cannot unmarshal"},
		{`{"b":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, "nested deeper"},
		{`{"a":`, "EOF"},
	}
	for _, tt := range tests {
		var d doc
		err := Unmarshal([]byte(tt.in), &d)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("Unmarshal(%q) = %v, want success", tt.in, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("Unmarshal(%q) = %v, want error containing %q", tt.in, err, tt.err)
		}
	}
}

func FuzzUnmarshal(f *testing.F) {
	f.Add([]byte(`{"a":1,"b":[1]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var v struct {
			A int   `json:"a"`
			B []int `json:"b"`
		}
		_ = Unmarshal(data, &v)
	})
}
