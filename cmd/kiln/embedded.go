package main

import (
	"errors"

	"github.com/kiln-ml/kiln/vision"
)

// loadEmbedded returns the shipped model (see vision/pretrained).
func loadEmbedded() (*vision.VLM, *vision.Chat, error) {
	return nil, nil, errors.New("no embedded model in this build: pass -model DIR")
}
