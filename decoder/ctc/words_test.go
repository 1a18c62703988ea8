package ctc

import (
	"reflect"
	"strings"
	"testing"
)

func TestTokensWords(t *testing.T) {
	tok, err := ParseTokens(strings.NewReader("<blk> 0\n<unk> 1\n\u2581HEL 2\nLO 3\n\u2581CAF 4\n<0xC3> 5\n<0xA9> 6\n\u2581 7\n<0x41> 8\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		ids    []int
		frames []int64
		probs  []float32
		want   []TokenWord
	}{
		{"empty", nil, nil, nil, []TokenWord{}},
		{"pieces", []int{2, 3, 4}, []int64{1, 3, 7}, []float32{0.5, 1, 0.75},
			[]TokenWord{{"HELLO", 1, 3, 0.75}, {"CAF", 7, 7, 0.75}}},
		{"byte fallback", []int{4, 5, 6, 7, 8}, []int64{0, 1, 2, 3, 4}, nil,
			[]TokenWord{{"CAF\u00e9", 0, 2, 0}, {"A", 4, 4, 0}}},
		{"unpaired byte", []int{5, 7, 2}, []int64{0, 1, 2}, nil,
			[]TokenWord{{"\ufffd", 0, 0, 0}, {"HEL", 2, 2, 0}}},
		{"unk and out of range", []int{1, 2, 99, -1, 1, 3}, []int64{0, 1, 2, 3, 4, 5}, nil,
			[]TokenWord{{"HELLO", 1, 5, 0}}},
	} {
		if got := tok.Words(tc.ids, tc.frames, tc.probs); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
