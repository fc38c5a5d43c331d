// Package train is kiln's supervised training and evaluation of the VLM on
// a stream of conversations with images (kiln train, kiln eval).
package train

import (
	"image"

	"github.com/kiln-ml/kiln/tensor"
	"github.com/kiln-ml/kiln/vision"
	"github.com/kiln-ml/kiln/vision/pixels"
	"github.com/kiln-ml/kiln/vision/tasks"
)

// Item is one example: an image, the conversation to learn (ending with the
// assistant's answer) and, for evaluation, the prompt and the truth.
type Item struct {
	Image        image.Image
	Family       string
	Conversation []vision.Message // full conversation (supervised target)
	Prompt       []vision.Message // the turns before the answer
	Answer       string           // ground truth, compared after Normalize
	Task         *tasks.Item      // the generator's item, when it came from one
}

// Stream gives item i of a split; the same i always gives the same item.
type Stream interface {
	Item(i int) Item
}

// Scorer turns model output into an answer and says whether it is right.
type Scorer interface {
	Extract(output string) string // the answer in an output
	Normalize(answer string) string
}

// ImageMean and ImageStd normalise pixels to [-1, 1] (SigLIP's choice).
var ImageMean, ImageStd = pixels.SigLIPMean, pixels.SigLIPStd

// Images turns item images into the model's [B, 3, H, W] input, resizing to
// the model's image size when needed.
func Images(items []Item, size int) (*tensor.Tensor, error) {
	imgs := make([]image.Image, len(items))
	for i, it := range items {
		img := it.Image
		if b := img.Bounds(); b.Dx() != size || b.Dy() != size {
			img = pixels.ResizeSquare(img, size, pixels.Letterbox, pixels.CatmullRom)
		}
		imgs[i] = img
	}
	return pixels.ToTensor(imgs, ImageMean, ImageStd)
}

// Collate tokenizes conversations into a left-padded batch with images.
func Collate(chat *vision.Chat, items []Item, size int) (*vision.Batch, error) {
	ids := make([][]int, len(items))
	targets := make([][]int, len(items))
	for i, it := range items {
		ids[i], targets[i] = chat.Encode(it.Conversation)
	}
	b := chat.Collate(ids, targets)
	img, err := Images(items, size)
	if err != nil {
		return nil, err
	}
	b.Images = img
	return b, nil
}

// Switch is stream A up to item At and stream B from there: a data phase
// that starts at step At/Batch. It depends on the item index only, so a
// resumed run switches at the same step as one that never stopped.
type Switch struct {
	A, B Stream
	At   int
}

func (s Switch) Item(i int) Item {
	if i < s.At {
		return s.A.Item(i)
	}
	return s.B.Item(i)
}
