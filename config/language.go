package config

import "strings"

// LanguageCode3 returns the ISO 639-2 code for an ISO 639-1 code ("de" gives
// "deu", the terminological code) or checks an ISO 639-2 code, terminological
// or bibliographic ("ger" stays "ger"). Case is ignored.
func LanguageCode3(code string) (string, bool) {
	code = strings.ToLower(code)
	switch len(code) {
	case 2:
		c3, ok := iso639Alpha2[code]
		return c3, ok
	case 3:
		if iso639Alpha3[code] {
			return code, true
		}
	}
	return "", false
}

// LanguageCode2 returns the ISO 639-1 code of an ISO 639-1 or 639-2 code
// ("deu" and "ger" give "de"), or false when the language has none.
func LanguageCode2(code string) (string, bool) {
	code = strings.ToLower(code)
	switch len(code) {
	case 2:
		_, ok := iso639Alpha2[code]
		return code, ok
	case 3:
		c2, ok := iso639To2[code]
		return c2, ok
	}
	return "", false
}
