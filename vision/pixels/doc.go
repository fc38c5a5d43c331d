// Package pixels turns image files into tensors and back: PNG and JPEG
// decoding, resizing to the model's input size, per-channel normalisation,
// ViT patchify, nanoVLM-style pixel shuffle, and PNG output of image grids.
//
// # Pipeline
//
//	img, err := pixels.Load("chart.png")             // PNG or JPEG, checked size
//	sq := pixels.ResizeSquare(img, 64, pixels.Letterbox, pixels.CatmullRom)
//	x, err := pixels.ToTensor([]image.Image{sq}, pixels.SigLIPMean, pixels.SigLIPStd)
//	patches := pixels.Patchify(x, 8)                 // [1, 64, 3*8*8]
//
// # Conventions
//
//   - Tensors are [B, 3, H, W] float32, channels R, G, B, values in [0, 1]
//     before normalisation: x = (v - mean[c]) / std[c].
//   - Transparency is composited over white (see ToTensor). Synthetic charts
//     and documents are drawn on white, and a transparent PNG background is
//     meant to be shown on a white page: over black, dark text and lines
//     would vanish.
//   - Square inputs are letterboxed by default (see ResizeSquare): every mark
//     of a chart stays in the picture, where a centre crop would cut off axis
//     labels and legends.
//   - Resizing defaults to Catmull-Rom (the zero Method), which filters when
//     it downscales, so thin lines and text survive the step from a few
//     hundred pixels to 32-64 without aliasing.
//
// # Errors
//
// Load and Decode read user data and return errors that name the file and
// the problem; the sentinel errors ErrNotImage, ErrUnsupported and ErrSize
// classify them for errors.Is, as do fs.ErrNotExist and friends for a file
// that cannot be opened. Shape mistakes in Patchify, Unpatchify,
// PixelShuffle and FromTensor are programmer errors and panic with a
// *tensor.OpError naming the function and the shapes.
package pixels
