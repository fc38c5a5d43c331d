package main

import (
	"github.com/kiln-ml/kiln/vision"
	"github.com/kiln-ml/kiln/vision/pretrained"
)

// loadEmbedded returns the shipped model (see vision/pretrained).
func loadEmbedded() (*vision.VLM, *vision.Chat, error) { return pretrained.Load() }
