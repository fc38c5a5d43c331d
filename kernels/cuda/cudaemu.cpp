//go:build cudaemu

// The CPU emulator's scheduler and the C API that device_emu.go calls; see
// cudaemu.h.
#include "cudaemu.h"

#include <ucontext.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

enum { RUNNABLE, AT_BLOCK_BARRIER, AT_WARP_BARRIER, DONE };

struct emu_fiber {
	ucontext_t ctx;
	dim3 tid;
	int state;
	int index;
};

dim3 emu_blockIdx, emu_blockDim, emu_gridDim;
emu_fiber *emu_cur;

static ucontext_t sched;
static std::vector<emu_fiber> fibers;
static std::vector<char *> stacks;
static std::vector<uint64_t> xch; // one exchange slot a thread
static emu_tramp cur_tramp;
static const uint64_t *cur_slots;
static const size_t stack_size = 256 << 10;

static std::map<std::string, emu_tramp> &registry() {
	static std::map<std::string, emu_tramp> r;
	return r;
}

void emu_register(const char *name, emu_tramp t) { registry()[name] = t; }

dim3 emu_thread_idx() { return emu_cur->tid; }

static void yield_as(int state) {
	emu_cur->state = state;
	swapcontext(&emu_cur->ctx, &sched);
}

void emu_syncthreads() { yield_as(AT_BLOCK_BARRIER); }
void emu_syncwarp() { yield_as(AT_WARP_BARRIER); }

uint64_t emu_exchange(uint64_t v, int src) {
	int me = emu_cur->index, base = me / 32 * 32;
	xch[me] = v;
	yield_as(AT_WARP_BARRIER); // every lane has published
	uint64_t r = xch[base + (src & 31)];
	yield_as(AT_WARP_BARRIER); // every lane has read
	return r;
}

unsigned emu_ballot(bool pred) {
	int me = emu_cur->index, base = me / 32 * 32;
	xch[me] = pred;
	yield_as(AT_WARP_BARRIER);
	unsigned b = 0;
	for (int l = 0; l < 32; l++)
		if (xch[base + l]) b |= 1u << l;
	yield_as(AT_WARP_BARRIER);
	return b;
}

static void fiber_main() {
	cur_tramp(cur_slots);
	emu_cur->state = DONE;
}

// run_block runs one block to completion; it returns 0, or -2 when the
// threads wait at barriers that cannot all be reached (a deadlock in CUDA).
static int run_block(int n, const char *name) {
	for (int i = 0; i < n; i++) {
		emu_fiber &f = fibers[i];
		f.tid = dim3{(unsigned)i, 0, 0};
		f.state = RUNNABLE;
		f.index = i;
		getcontext(&f.ctx);
		f.ctx.uc_stack.ss_sp = stacks[i];
		f.ctx.uc_stack.ss_size = stack_size;
		f.ctx.uc_link = &sched;
		makecontext(&f.ctx, fiber_main, 0);
	}
	for (;;) {
		for (int i = 0; i < n; i++) {
			if (fibers[i].state != RUNNABLE) continue;
			emu_cur = &fibers[i];
			swapcontext(&sched, &fibers[i].ctx);
		}
		int done = 0, atBlock = 0;
		bool released = false;
		for (int w = 0; w * 32 < n; w++) {
			int atWarp = 0, live = 0;
			for (int l = w * 32; l < min(n, w * 32 + 32); l++) {
				int s = fibers[l].state;
				if (s == DONE) done++;
				else live++;
				if (s == AT_WARP_BARRIER) atWarp++;
				if (s == AT_BLOCK_BARRIER) atBlock++;
			}
			if (atWarp > 0 && atWarp == live && live == min(n, w * 32 + 32) - w * 32) {
				for (int l = w * 32; l < min(n, w * 32 + 32); l++) fibers[l].state = RUNNABLE;
				released = true;
			}
		}
		if (released) continue;
		if (done == n) return 0;
		if (atBlock + done == n) { // exited threads count as arrived
			for (int i = 0; i < n; i++)
				if (fibers[i].state == AT_BLOCK_BARRIER) fibers[i].state = RUNNABLE;
			continue;
		}
		std::fprintf(stderr, "cudaemu: %s block (%u,%u,%u): barrier deadlock (%d done, %d at __syncthreads, the rest at warp barriers of partly waiting warps)\n",
			name, emu_blockIdx.x, emu_blockIdx.y, emu_blockIdx.z, done, atBlock);
		return -2;
	}
}

extern "C" {

int emu_has(const char *name) { return registry().count(name) != 0; }

// emu_launch runs kernel name over the grid; 0 on success, -1 for an
// unknown kernel or a block shape the emulator does not take, -2 for a
// barrier deadlock.
int emu_launch(const char *name, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, const uint64_t *slots) {
	auto it = registry().find(name);
	if (it == registry().end() || by != 1 || bz != 1 || bx == 0 || bx > 1024 || bx % 32 != 0) return -1;
	if (fibers.size() < bx) {
		fibers.resize(bx);
		xch.resize(bx);
		while (stacks.size() < bx) stacks.push_back(static_cast<char *>(std::malloc(stack_size)));
	}
	cur_tramp = it->second;
	cur_slots = slots;
	emu_gridDim = dim3{gx, gy, gz};
	emu_blockDim = dim3{bx, 1, 1};
	for (unsigned z = 0; z < gz; z++)
		for (unsigned y = 0; y < gy; y++)
			for (unsigned x = 0; x < gx; x++) {
				emu_blockIdx = dim3{x, y, z};
				if (int rc = run_block((int)bx, name); rc != 0) return rc;
			}
	return 0;
}

uint64_t emu_malloc(size_t bytes) { return (uint64_t)(uintptr_t)std::aligned_alloc(256, (bytes + 255) / 256 * 256); }
void emu_free(uint64_t p) { std::free((void *)(uintptr_t)p); }
void emu_upload(uint64_t dst, const void *src, size_t n) { std::memcpy((void *)(uintptr_t)dst, src, n); }
void emu_download(void *dst, uint64_t src, size_t n) { std::memcpy(dst, (const void *)(uintptr_t)src, n); }
void emu_copy(uint64_t dst, uint64_t src, size_t n) { std::memmove((void *)(uintptr_t)dst, (const void *)(uintptr_t)src, n); }
void emu_memset32(uint64_t dst, uint32_t v, size_t n) {
	uint32_t *p = (uint32_t *)(uintptr_t)dst;
	for (size_t i = 0; i < n; i++) p[i] = v;
}

} // extern "C"
