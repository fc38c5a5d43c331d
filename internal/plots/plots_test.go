package plots

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

func TestLinesAndHeatmap(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "curves.png")
	err := Lines(p, Panel{Title: "loss", XLabel: "step", Series: []Series{{Name: "train", X: []float64{0, 1, 2}, Y: []float64{3, 2, 1.5}}}},
		Panel{Title: "accuracy", XLabel: "step", Series: []Series{{Name: "val", X: []float64{0, 2}, Y: []float64{0.2, 0.6}}}})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil || img.Bounds().Dx() < 400 {
		t.Fatalf("bad png: %v", err)
	}
	h := filepath.Join(dir, "hist.png")
	if err := Heatmap(h, "entropy", "step", []string{"0", "low", "mid", "high"}, []float64{0, 1}, [][]float64{{0.5, 0.1, 0.1, 0.3}, {0.2, 0.3, 0.4, 0.1}}); err != nil {
		t.Fatal(err)
	}
	if err := Lines(filepath.Join(dir, "x.png"), Panel{Series: []Series{{Name: "bad", X: []float64{1}, Y: nil}}}); err == nil {
		t.Error("mismatched series accepted")
	}
	if err := Lines(filepath.Join(dir, "missing", "x.png"), Panel{}); err == nil {
		t.Error("missing directory accepted")
	}
}
