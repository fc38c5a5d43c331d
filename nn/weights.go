package nn

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kiln-ml/kiln/nn/safetensors"
	"github.com/kiln-ml/kiln/tensor"
)

// StateTensors returns a copy of every parameter as a safetensors tensor
// named by its dotted name, encoded as dtype on disk.
func (p *Params) StateTensors(dtype safetensors.DType) []safetensors.Tensor {
	out := make([]safetensors.Tensor, 0, len(p.list))
	for _, q := range p.list {
		out = append(out, safetensors.Tensor{Name: q.Name, DType: dtype, Shape: q.T.Shape(), Data: q.T.ToSlice()})
	}
	return out
}

// LoadStateTensors copies ts into the parameters by name. It validates
// everything first: an unknown tensor, a missing parameter (unless optional
// reports it may be absent, e.g. LoRA adapters) or a shape mismatch returns
// an error naming src and the tensor, and no parameter changes.
func (p *Params) LoadStateTensors(ts []safetensors.Tensor, src string, optional func(name string) bool) error {
	seen := map[string]bool{}
	for _, t := range ts {
		q := p.byName[t.Name]
		if q == nil {
			return fmt.Errorf("%s: tensor %q is not a parameter of this model", src, t.Name)
		}
		if !slices.Equal(q.T.Shape(), t.Shape) {
			return fmt.Errorf("%s: tensor %q has shape %v, the model expects %v", src, t.Name, t.Shape, q.T.Shape())
		}
		seen[t.Name] = true
	}
	var missing []string
	for _, q := range p.list {
		if !seen[q.Name] && (optional == nil || !optional(q.Name)) {
			missing = append(missing, q.Name)
		}
	}
	if len(missing) > 0 {
		if len(missing) > 5 {
			missing = append(missing[:5], fmt.Sprintf("and %d more", len(missing)-5))
		}
		return fmt.Errorf("%s: missing parameters %s", src, strings.Join(missing, ", "))
	}
	for _, t := range ts {
		setData(p.byName[t.Name].T, t.Data)
	}
	return nil
}

// setData copies data into the parameter T: in place on the host, by an
// upload into its storage on a device.
func setData(T *tensor.Tensor, data []float32) {
	if dev := T.Device(); dev != tensor.CPU {
		T.CopyFrom(tensor.FromSlice(data, T.Shape()...).MustTo(dev))
		return
	}
	copy(T.Data(), data)
}

// SaveWeights writes every parameter to a safetensors file (atomically).
func (p *Params) SaveWeights(path string, dtype safetensors.DType, metadata map[string]string) error {
	return safetensors.WriteFile(path, p.StateTensors(dtype), metadata)
}

// LoadWeights reads a safetensors file into the parameters; LoRA adapter
// parameters may be absent from the file. On any error nothing changes.
func (p *Params) LoadWeights(path string) error {
	ts, _, err := safetensors.ReadFile(path)
	if err != nil {
		return err
	}
	return p.LoadStateTensors(ts, path, func(name string) bool { return p.byName[name].Adapter != "" })
}
