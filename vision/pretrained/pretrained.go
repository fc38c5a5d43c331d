// Package pretrained embeds kiln's shipped VLM: the model `kiln demo` and
// the research commands start from, so nothing is downloaded. It was
// trained on the synthetic tasks of vision/tasks with the command in the
// README's results section; model/ holds its weights-only bundle
// (config.json, model.safetensors, tokenizer.json).
package pretrained

import (
	"embed"
	"io/fs"

	"github.com/kiln-ml/kiln/vision"
	"github.com/kiln-ml/kiln/vision/train"
)

//go:embed model/config.json model/model.safetensors model/tokenizer.json
var files embed.FS

// Load returns a fresh copy of the shipped model and its chat template.
func Load() (*vision.VLM, *vision.Chat, error) {
	sub, err := fs.Sub(files, "model")
	if err != nil {
		return nil, nil, err
	}
	return train.LoadBundleFS(sub, "embedded model")
}
