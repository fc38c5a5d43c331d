// Package tokenizer is a byte-level BPE tokenizer for kiln's vision-language
// models: it is trained on a corpus, encodes text to token ids and back, and
// is saved and loaded in the Hugging Face tokenizer.json format.
//
// # Pipeline
//
// Encode first cuts the text at special tokens (see below), then splits each
// remaining segment into pre-tokens ("words") with a hand-written equivalent of
// the GPT-2 pattern
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// except that, by default, digits are not grouped: ` ?\p{N}+` becomes
// ` ?\p{N}`, so "in 2024" splits as "in", " 2", "0", "2", "4". Every number is
// then spelled with the same ten digit tokens (plus " 0".." 9" for a digit
// after a space), which helps models that read values off charts and do
// arithmetic on them, and leaves the vocabulary to words. TrainConfig.GroupDigits
// restores the GPT-2 grouping.
//
// Each word is taken as UTF-8 bytes; the 256 byte values are the base
// vocabulary, and merges learned in training join adjacent tokens, applied
// lowest rank first. Vocabulary strings use the GPT-2 byte-to-unicode mapping
// (a space is "Ġ", a newline "Ċ"), as HF's ByteLevel model does. Because every
// byte has a token, any byte string encodes, and Decode(Encode(s)) == s for
// every s, valid UTF-8 or not.
//
// # Special tokens
//
// Special tokens (DefaultSpecials: pad, end of turn, image placeholder and the
// three turn markers) are atomic: training never learns a merge that produces
// one, and Encode never splits one. Encode treats their strings in the input as
// the special tokens, which is what a chat template wants; EncodeOrdinary
// treats them as plain text, for content that must not inject turn markers.
// Ids are laid out as specials first (the pad token is id 0 with the
// defaults), then the 256 byte tokens in byte order, then merged tokens in the
// order they were learned.
//
// # Files
//
// Save writes tokenizer.json with model type "BPE", the vocabulary ordered by
// id, merges as "left right" strings (the format every HF tokenizers version
// reads), specials as added_tokens with special=true, and ByteLevel
// pre-tokenizer and decoder entries (a Split with the digit pattern before
// ByteLevel when digits are split), so HF tokenizers can load the file and
// tokenize the same way. Load reads what Save writes, and GPT-2 style files,
// and rejects anything it would not tokenize identically.
//
// A Tokenizer is safe for concurrent use.
package tokenizer
