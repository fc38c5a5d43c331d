package main

import (
	"bytes"
	"io"

	"github.com/kiln-ml/kiln/vision/tokenizer"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func tokenizerJSON(t *tokenizer.Tokenizer) ([]byte, error) {
	var buf bytes.Buffer
	err := t.WriteJSON(&buf)
	return buf.Bytes(), err
}
