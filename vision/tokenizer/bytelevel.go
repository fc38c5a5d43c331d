package tokenizer

// The GPT-2 byte-to-unicode mapping: the 188 bytes that are printable
// characters of Latin-1 ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for themselves;
// the 68 others (controls, space, DEL, NBSP, soft hyphen) take the code points
// 256, 257, ... in byte order. Every byte thus has a visible one-character
// form, and vocabulary strings are readable and never contain a space.
var (
	byteToRune [256]rune
	runeToByte map[rune]byte
)

func init() {
	runeToByte = make(map[rune]byte, 256)
	next := rune(256)
	for b := 0; b < 256; b++ {
		r := rune(b)
		printable := ('!' <= b && b <= '~') || (0xA1 <= b && b <= 0xAC) || (0xAE <= b && b <= 0xFF)
		if !printable {
			r = next
			next++
		}
		byteToRune[b] = r
		runeToByte[r] = byte(b)
	}
}

// toByteLevel returns the vocabulary form of raw token bytes.
func toByteLevel(raw string) string {
	rs := make([]rune, len(raw))
	for i := 0; i < len(raw); i++ {
		rs[i] = byteToRune[raw[i]]
	}
	return string(rs)
}

// fromByteLevel returns the raw bytes of a vocabulary string, or false if it
// holds a character outside the mapping.
func fromByteLevel(s string) (string, bool) {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		c, ok := runeToByte[r]
		if !ok {
			return "", false
		}
		b = append(b, c)
	}
	return string(b), true
}
