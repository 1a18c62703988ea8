package captions

import "strings"

// langWords holds the small per-language word lists that line breaking and
// the subtitle rules use. Every entry is lower case. The lists are
// deliberately short: they approximate part-of-speech information for the
// commonest function words and are not a grammar.
type langWords struct {
	code string

	// Line breaking: never break right after these.
	determiners map[string]bool // articles, demonstratives, possessives, quantifiers
	pronouns    map[string]bool // subject pronouns
	auxiliaries map[string]bool // auxiliary and modal verbs, and contracted forms
	negations   map[string]bool
	// Line breaking: prefer a break right before these.
	conjunctions map[string]bool
	prepositions map[string]bool
	// abbreviations end with a full stop that does not end a sentence.
	abbreviations map[string]bool
	// nameRule enables the "two capitalised words are a name" approximation.
	// It is off for languages that capitalise every noun (German).
	nameRule bool

	// Subtitle rules.
	fillers       map[string]bool // single-word fillers
	fillerPhrases [][]string      // multi-word fillers, removed only when set off by punctuation
	keepDoubles   map[string]bool // words whose immediate repetition is grammatical or emphatic
	profanity     map[string]bool // built-in word-filter list
	capitalI      bool            // English "i" → "I"
}

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

var langEN = &langWords{
	code: "en",
	determiners: set("a", "an", "the", "this", "that", "these", "those", "my", "your", "his", "her",
		"its", "our", "their", "some", "any", "no", "every", "each", "either", "neither", "another",
		"such", "whose", "much", "many", "few", "several", "both", "more", "most", "less", "least",
		"one's",
		"very"), // an intensifier, like an adjective, stays with what follows
	pronouns: set("i", "you", "he", "she", "it", "we", "they", "who"),
	auxiliaries: set("am", "is", "are", "was", "were", "be", "been", "being", "have", "has", "had",
		"do", "does", "did", "will", "would", "shall", "should", "can", "could", "may", "might", "must",
		"i'm", "you're", "we're", "they're", "he's", "she's", "it's", "that's", "there's",
		"i've", "you've", "we've", "they've", "i'll", "you'll", "he'll", "she'll", "we'll", "they'll",
		"i'd", "you'd", "he'd", "she'd", "we'd", "they'd",
		"to"), // the infinitive marker: "going to | be" is as bad as "will | be"
	negations: set("not", "never", "don't", "doesn't", "didn't", "won't", "can't", "cannot",
		"isn't", "aren't", "wasn't", "weren't", "haven't", "hasn't", "hadn't", "wouldn't",
		"shouldn't", "couldn't", "mustn't"),
	conjunctions: set("and", "but", "or", "nor", "so", "yet", "because", "although", "though",
		"while", "whereas", "if", "unless", "since", "when", "whenever", "where", "which", "until"),
	prepositions: set("in", "on", "at", "to", "for", "with", "from", "by", "about", "into", "onto",
		"over", "under", "between", "through", "during", "without", "within", "against", "among",
		"across", "behind", "beyond", "near", "of", "off", "towards", "toward", "upon", "around",
		"along", "despite", "throughout", "via", "after", "before"),
	abbreviations: set("mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "e.g", "i.e", "no", "approx"),
	nameRule:      true,
	fillers:       set("uh", "um", "uhm", "umm", "erm", "er", "ah", "hm", "hmm", "mhm", "mm"),
	fillerPhrases: [][]string{{"you", "know"}},
	keepDoubles: set("that", "had", "is", "do", "very", "no", "bye", "so", "yes", "really", "many", "far", "more", "again",
		"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "hundred"),
	profanity: set("fuck", "fucking", "fucked", "fucker", "motherfucker", "shit", "shitty", "bullshit",
		"cunt", "asshole", "dickhead", "bastard", "bollocks", "wanker"),
	capitalI: true,
}

var langDE = &langWords{
	code: "de",
	determiners: set("der", "die", "das", "den", "dem", "des", "ein", "eine", "einen", "einem", "einer",
		"eines", "kein", "keine", "keinen", "keinem", "keiner", "mein", "meine", "meinen", "meinem",
		"meiner", "dein", "deine", "sein", "seine", "seinen", "seinem", "seiner", "ihr", "ihre", "ihren",
		"ihrem", "ihrer", "unser", "unsere", "euer", "eure", "dieser", "diese", "dieses", "diesen",
		"diesem", "jeder", "jede", "jedes", "jeden", "jedem"),
	pronouns: set("ich", "du", "er", "sie", "es", "wir", "man"),
	auxiliaries: set("bin", "bist", "ist", "sind", "seid", "war", "waren", "habe", "hast", "hat",
		"haben", "hatte", "hatten", "wird", "werden", "wurde", "wurden", "kann", "können", "muss",
		"müssen", "soll", "sollen", "will", "wollen", "darf", "dürfen", "möchte"),
	negations: set("nicht", "nie", "niemals"),
	conjunctions: set("und", "oder", "aber", "denn", "sondern", "weil", "dass", "wenn", "als", "ob",
		"obwohl", "während", "bevor", "nachdem", "damit", "sodass"),
	prepositions: set("in", "im", "an", "am", "auf", "aus", "bei", "beim", "mit", "nach", "von", "vom",
		"zu", "zum", "zur", "für", "über", "unter", "vor", "hinter", "neben", "zwischen", "durch",
		"gegen", "ohne", "um", "seit", "bis", "trotz", "wegen"),
	abbreviations: set("z.b", "bzw", "usw", "dr", "prof", "nr", "ca", "vgl", "hr", "fr"),
	nameRule:      false,
	fillers:       set("äh", "ähm", "öhm", "hm", "hmm", "ähem", "öh"),
	fillerPhrases: [][]string{{"weißt", "du"}},
	keepDoubles: set("die", "das", "der", "sehr", "nein", "ja",
		"null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"),
	profanity: set("scheiße", "scheisse", "fick", "ficken", "arschloch", "fotze", "wichser"),
}

var langFR = &langWords{
	code: "fr",
	determiners: set("le", "la", "les", "l'", "un", "une", "des", "du", "au", "aux", "ce", "cet",
		"cette", "ces", "mon", "ma", "mes", "ton", "ta", "tes", "son", "sa", "ses", "notre", "nos",
		"votre", "vos", "leur", "leurs", "chaque", "quelques"),
	pronouns: set("je", "j'", "tu", "il", "elle", "on", "nous", "vous", "ils", "elles"),
	auxiliaries: set("suis", "es", "est", "sommes", "êtes", "sont", "ai", "as", "a", "avons",
		"avez", "ont", "était", "avait", "va", "vais", "vont", "peut", "peux", "doit"),
	negations:     set("ne", "n'", "pas", "jamais"),
	conjunctions:  set("et", "ou", "mais", "donc", "car", "ni", "que", "qui", "quand", "lorsque", "parce", "puisque", "si", "comme"),
	prepositions:  set("à", "de", "dans", "en", "sur", "sous", "pour", "par", "avec", "sans", "chez", "vers", "entre", "contre", "depuis", "pendant", "avant", "après"),
	abbreviations: set("m", "mme", "mlle", "dr", "pr", "st", "ste"),
	nameRule:      true,
	fillers:       set("euh", "heu", "hum", "bah"),
	fillerPhrases: [][]string{{"tu", "sais"}, {"vous", "savez"}},
	keepDoubles: set("non", "oui", "très", "nous", "vous",
		"zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf"),
	profanity: set("merde", "putain", "connard", "connasse", "salaud", "enculé"),
}

var langES = &langWords{
	code: "es",
	determiners: set("el", "la", "los", "las", "un", "una", "unos", "unas", "este", "esta", "estos",
		"estas", "ese", "esa", "esos", "esas", "mi", "mis", "tu", "tus", "su", "sus", "nuestro",
		"nuestra", "nuestros", "nuestras", "al", "del", "cada"),
	pronouns: set("yo", "tú", "él", "ella", "nosotros", "nosotras", "vosotros", "ellos", "ellas",
		"usted", "ustedes"),
	auxiliaries: set("he", "has", "ha", "hemos", "han", "había", "es", "son", "está", "están",
		"era", "fue", "va", "voy", "van", "puede", "pueden", "debe"),
	negations:     set("no", "nunca", "jamás"),
	conjunctions:  set("y", "e", "o", "u", "pero", "sino", "porque", "aunque", "que", "cuando", "si", "como", "mientras", "pues"),
	prepositions:  set("a", "de", "en", "con", "por", "para", "sin", "sobre", "entre", "hasta", "desde", "hacia", "contra", "bajo", "según", "tras"),
	abbreviations: set("sr", "sra", "srta", "dr", "dra", "ud", "uds"),
	nameRule:      true,
	fillers:       set("eh", "em", "ehm", "mm", "mmm"),
	fillerPhrases: [][]string{{"o", "sea"}},
	keepDoubles: set("no", "sí", "muy", "que",
		"cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve"),
	profanity: set("mierda", "joder", "puta", "coño", "cabrón", "gilipollas"),
}

// langGeneric is used for languages without lists: punctuation still guides
// line breaks and the name rule applies.
var langGeneric = &langWords{
	code:          "",
	determiners:   map[string]bool{},
	pronouns:      map[string]bool{},
	auxiliaries:   map[string]bool{},
	negations:     map[string]bool{},
	conjunctions:  map[string]bool{},
	prepositions:  map[string]bool{},
	abbreviations: map[string]bool{},
	nameRule:      true,
	fillers:       map[string]bool{},
	keepDoubles:   map[string]bool{},
	profanity:     map[string]bool{},
}

// langFor returns the word lists for an ISO 639-1 or 639-2 code, with an
// optional region ("en-GB"). Unknown languages get the generic lists.
func langFor(code string) *langWords {
	c := strings.ToLower(strings.TrimSpace(code))
	if i := strings.IndexAny(c, "-_"); i >= 0 {
		c = c[:i]
	}
	switch c {
	case "en", "eng":
		return langEN
	case "de", "deu", "ger":
		return langDE
	case "fr", "fra", "fre":
		return langFR
	case "es", "spa":
		return langES
	}
	return langGeneric
}

// KnownLanguage reports whether the captions package has word lists for the
// language code (ISO 639-1 or 639-2, optionally with a region).
func KnownLanguage(code string) bool { return langFor(code) != langGeneric }
