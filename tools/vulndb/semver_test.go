package main

import "testing"

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1.2.3", "1.2.3", 0},
		{"v1.2.3", "1.2.3", 0},
		{"go1.22.1", "v1.22.1", 0},
		{"1.2.3", "1.2.4", -1},
		{"1.10.0", "1.9.0", 1},
		{"2.0.0", "10.0.0", -1},
		{"1.2", "1.2.0", 0},
		{"1", "1.0.0", 0},
		{"1.0.0-alpha", "1.0.0", -1},
		{"1.0.0-alpha", "1.0.0-alpha.1", -1},
		{"1.0.0-alpha.1", "1.0.0-alpha.beta", -1},
		{"1.0.0-alpha.beta", "1.0.0-beta", -1},
		{"1.0.0-beta.2", "1.0.0-beta.11", -1},
		{"1.0.0-rc.1", "1.0.0", -1},
		{"1.26.0-0", "1.26.0", -1},
		{"0.0.0-20260225185322-738bad662b20", "0.0.0-20260301000000-aaaaaaaaaaaa", -1},
		{"1.0.0+build.1", "1.0.0+build.2", 0},
		{"123456789012345678901.0.0", "123456789012345678902.0.0", -1},
		{"", "0.0.1", -1},
		{"", "", 0},
		{"garbage", "", 0},
		{"1.2-pre", "1.0.0", -1},  // shorthand with prerelease is invalid
		{"01.2.3", "0.0.1", -1},   // leading zero is invalid
		{"1.0.0-01", "0.0.1", -1}, // numeric prerelease with leading zero is invalid
		{"1.0.0-", "0.0.1", -1},
		{"1.0.0+", "0.0.1", -1},
		{"1.0.0-a..b", "0.0.1", -1},
		{"1.0.0x", "0.0.1", -1},
	}
	for _, tc := range tests {
		if got := compareVersions(tc.a, tc.b); got != tc.want {
			t.Errorf("compareVersions(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := compareVersions(tc.b, tc.a); got != -tc.want {
			t.Errorf("compareVersions(%q, %q) = %d, want %d", tc.b, tc.a, got, -tc.want)
		}
	}
}

func FuzzCompareVersions(f *testing.F) {
	for _, s := range [][3]string{
		{"1.2.3", "1.2.4", "v1.2.3-rc.1"},
		{"go1.21", "1.21.0-0", "1.0.0+x"},
		{"", "0", "1.0.0-alpha.beta.1"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, a, b, c string) {
		if got := compareVersions(a, a); got != 0 {
			t.Fatalf("compareVersions(%q, itself) = %d", a, got)
		}
		ab, ba := compareVersions(a, b), compareVersions(b, a)
		if ab != -ba {
			t.Fatalf("not antisymmetric: (%q, %q) = %d, reversed %d", a, b, ab, ba)
		}
		if ab <= 0 && compareVersions(b, c) <= 0 && compareVersions(a, c) > 0 {
			t.Fatalf("not transitive: %q <= %q <= %q but %q > %q", a, b, c, a, c)
		}
	})
}
