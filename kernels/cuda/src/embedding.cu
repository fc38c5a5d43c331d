// Embedding lookup (gather of table rows) and its backward (scatter-add).
// reference: tensor.Embedding / tensor.IndexSelect along dim 0; the slice
// forms are embeddingRef and embeddingBackwardRef in
// kernels/cuda/ref_test.go.
//
// Gather: out[i, :] = table[ids[i], :] for i < count (ids validated on the
// host). Scatter-add: dtable[id, :] += dy[i, :] for every i with ids[i] ==
// id, summed in increasing i as the CPU does. The host groups the positions
// by id (uniq[u] is an id, its positions are pos[start[u] .. start[u+1]-1]
// in increasing order), so one block owns one table row: no atomics, and
// the result does not depend on scheduling.
#include "common.cuh"

extern "C" __global__ void kiln_embedding(int count, int dim, float *out, const float *table, const int *ids) {
	long long total = (long long)count * dim;
	KILN_FOR(t, total) {
		long long i = t / dim, j = t % dim;
		out[t] = table[(long long)ids[i] * dim + j];
	}
}

extern "C" __global__ void kiln_embedding_backward(int nuniq, int dim, float *dtable, const float *dy,
	const int *uniq, const int *start, const int *pos) {
	for (int u = blockIdx.x; u < nuniq; u += gridDim.x) {
		float *row = dtable + (long long)uniq[u] * dim;
		int p0 = start[u], p1 = start[u + 1];
		for (int j = threadIdx.x; j < dim; j += blockDim.x) {
			float a = row[j];
			for (int p = p0; p < p1; p++) a += dy[(long long)pos[p] * dim + j];
			row[j] = a;
		}
	}
}
