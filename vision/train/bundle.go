package train

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/kiln-ml/kiln/internal/atomicfile"
	"github.com/kiln-ml/kiln/nn"
	"github.com/kiln-ml/kiln/nn/safetensors"
	"github.com/kiln-ml/kiln/vision"
	"github.com/kiln-ml/kiln/vision/tokenizer"
)

// A bundle is a trained model as three files in one directory:
// config.json (vision.Config), model.safetensors (weights) and
// tokenizer.json. Training checkpoints hold the same three plus the
// optimizer state, so either loads with LoadBundle.
const (
	BundleConfig    = nn.ConfigFile
	BundleWeights   = nn.ModelFile
	BundleTokenizer = "tokenizer.json"
)

// LoadBundle reads a bundle from a directory on disk.
func LoadBundle(dir string) (*vision.VLM, *vision.Chat, error) {
	return LoadBundleFS(os.DirFS(dir), dir)
}

// LoadBundleFS reads a bundle from fsys (an embedded one, say); name is
// used in errors.
func LoadBundleFS(fsys fs.FS, name string) (*vision.VLM, *vision.Chat, error) {
	read := func(f string) ([]byte, error) {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, fmt.Errorf("model %s: %w", filepath.Join(name, f), err)
		}
		return b, nil
	}
	cb, err := read(BundleConfig)
	if err != nil {
		return nil, nil, err
	}
	var cfg vision.Config
	if err := json.Unmarshal(cb, &cfg); err != nil {
		return nil, nil, fmt.Errorf("model %s: %w", filepath.Join(name, BundleConfig), err)
	}
	tb, err := read(BundleTokenizer)
	if err != nil {
		return nil, nil, err
	}
	tok, err := tokenizer.ReadJSON(bytes.NewReader(tb))
	if err != nil {
		return nil, nil, fmt.Errorf("model %s: %w", filepath.Join(name, BundleTokenizer), err)
	}
	if tok.VocabSize() != cfg.Vocab {
		return nil, nil, fmt.Errorf("model %s: tokenizer has %d tokens, config says vocab %d", name, tok.VocabSize(), cfg.Vocab)
	}
	m, err := vision.New(cfg, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("model %s: %w", filepath.Join(name, BundleConfig), err)
	}
	wb, err := read(BundleWeights)
	if err != nil {
		return nil, nil, err
	}
	ts, _, err := safetensors.Decode(wb)
	if err != nil {
		return nil, nil, fmt.Errorf("model %s: %w", filepath.Join(name, BundleWeights), err)
	}
	if err := m.P.LoadStateTensors(ts, filepath.Join(name, BundleWeights), nil); err != nil {
		return nil, nil, err
	}
	chat, err := vision.NewChat(tok, cfg.ImageTokens())
	if err != nil {
		return nil, nil, fmt.Errorf("model %s: %w", name, err)
	}
	return m, chat, nil
}

// SaveBundle writes a weights-only bundle (F32) into dir, each file atomic.
func SaveBundle(dir string, m *vision.VLM, chat *vision.Chat) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cb, err := json.MarshalIndent(m.Cfg, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, BundleConfig), func(w io.Writer) error { _, err := w.Write(append(cb, '\n')); return err }); err != nil {
		return err
	}
	if err := chat.Tok.Save(filepath.Join(dir, BundleTokenizer)); err != nil {
		return err
	}
	return m.P.SaveWeights(filepath.Join(dir, BundleWeights), safetensors.F32, map[string]string{"format": "pt"})
}
