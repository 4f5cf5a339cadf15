// The GRU/LSTM/tanh-RNN time loop for inference from frozen-input tables, fused for the CPU
// (sentinet/models/recurrent_steps.py runs the same loop in torch ops; kernel.py builds this
// file into one extension with sru/sru_cpu.cpp).
//
// Per step: one GEMM per direction (h W_hh^T + b_hh, over the rows still running), then one
// loop per (direction, row) over its H units for the gates, the new state and the pooling, so
// each unit is read and written once instead of once per torch op. Rows are sorted longest
// first, so the rows still running at step t are the first active[t].
//
//   gi      [T, D, B, G*H]  input projections (the table's rows), backward direction reversed
//   w       [D, H, G*H]     W_hh^T per direction;  b [D, 1, G*H]: b_hh
//   active  [T] int64       rows still running at each step (non-increasing)
//   pooling 0 max, 1 sum (the caller divides by the lengths), 2 last
//   returns pooled [D, B, H], and with keep_states every step's h [T, D, B, H] (0 past a row's end)
//
// Gate order and formulas are torch's (nn.GRU: r, z, n; nn.LSTM: i, f, g, o). tanh is
// computed as 2 sigmoid(2x) - 1 so that, with -ffast-math, both vectorise through exp; the
// outputs match the torch path within ~1e-6.

#include <ATen/Functions.h>
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <torch/csrc/utils/pybind.h>

#include <cmath>
#include <limits>
#include <vector>

namespace {

inline float sigm(float x) { return 1.0f / (1.0f + std::exp(-x)); }
inline float tanh_(float x) { return 2.0f / (1.0f + std::exp(-2.0f * x)) - 1.0f; }

enum Cell { GRU = 0, LSTM = 1, RNN = 2 };
enum Pool { MAX = 0, SUM = 1, LAST = 2 };

// One (direction, row) at one step: gi, gh [G*H]; h, c, pooled [H]; state [H] or null.
void cell_step(int cell, int pooling, int64_t H, const float* __restrict__ gi, const float* __restrict__ gh,
               float* __restrict__ h, float* __restrict__ c, float* __restrict__ pooled,
               float* __restrict__ state) {
  if (cell == GRU) {
    for (int64_t j = 0; j < H; ++j) {
      const float r = sigm(gi[j] + gh[j]);
      const float z = sigm(gi[H + j] + gh[H + j]);
      const float n = tanh_(gi[2 * H + j] + r * gh[2 * H + j]);
      h[j] = n + z * (h[j] - n);
    }
  } else if (cell == LSTM) {
    for (int64_t j = 0; j < H; ++j) {
      const float i = sigm(gi[j] + gh[j]);
      const float f = sigm(gi[H + j] + gh[H + j]);
      const float g = tanh_(gi[2 * H + j] + gh[2 * H + j]);
      const float o = sigm(gi[3 * H + j] + gh[3 * H + j]);
      c[j] = f * c[j] + i * g;
      h[j] = o * tanh_(c[j]);
    }
  } else {
    for (int64_t j = 0; j < H; ++j) h[j] = tanh_(gi[j] + gh[j]);
  }
  if (pooling == MAX) {
    for (int64_t j = 0; j < H; ++j) pooled[j] = pooled[j] > h[j] ? pooled[j] : h[j];
  } else if (pooling == SUM) {
    for (int64_t j = 0; j < H; ++j) pooled[j] += h[j];
  }
  if (state != nullptr) {
    for (int64_t j = 0; j < H; ++j) state[j] = h[j];
  }
}

}  // namespace

std::vector<at::Tensor> recurrent_forward(int64_t cell, at::Tensor gi, at::Tensor w, at::Tensor b,
                                          at::Tensor active, int64_t pooling, bool keep_states) {
  TORCH_CHECK(gi.dim() == 4 && gi.is_contiguous() && gi.scalar_type() == at::kFloat,
              "gi must be a contiguous float32 [T, D, B, G*H] tensor");
  TORCH_CHECK(active.scalar_type() == at::kLong && active.is_contiguous() && active.numel() == gi.size(0),
              "active must be int64 [T]");
  const int64_t T = gi.size(0), D = gi.size(1), B = gi.size(2), GH = gi.size(3), H = w.size(1);
  TORCH_CHECK(w.dim() == 3 && w.size(0) == D && w.size(2) == GH && b.numel() == D * GH, "w, b shapes");
  const int64_t G = GH / H;
  TORCH_CHECK(G * H == GH && G == (cell == GRU ? 3 : cell == LSTM ? 4 : 1), "G*H does not fit the cell");
  auto opts = gi.options();
  auto h = at::zeros({D, B, H}, opts);
  auto c = at::zeros({cell == LSTM ? D : 0, B, H}, opts);
  auto pooled = pooling == MAX ? at::full({D, B, H}, -std::numeric_limits<float>::infinity(), opts)
                               : at::zeros({D, B, H}, opts);
  auto states = keep_states ? at::zeros({T, D, B, H}, opts) : at::empty({0}, opts);
  auto gh = at::empty({D, B, GH}, opts);
  const int64_t* act = active.data_ptr<int64_t>();
  const float* gis = gi.data_ptr<float>();
  float *hs = h.data_ptr<float>(), *cs = cell == LSTM ? c.data_ptr<float>() : nullptr;
  float *ps = pooled.data_ptr<float>(), *ss = keep_states ? states.data_ptr<float>() : nullptr;
  const float* ghs = gh.data_ptr<float>();
  for (int64_t t = 0; t < T; ++t) {
    const int64_t n = act[t];
    if (n == 0) break;
    for (int64_t d = 0; d < D; ++d) {
      auto out = gh[d].narrow(0, 0, n);
      at::addmm_out(out, b[d], h[d].narrow(0, 0, n), w[d]);
    }
    at::parallel_for(0, D * n, 16, [&](int64_t begin, int64_t end) {
      for (int64_t task = begin; task < end; ++task) {
        const int64_t d = task / n, row = task % n;
        const int64_t at_state = (d * B + row) * H;
        cell_step(static_cast<int>(cell), static_cast<int>(pooling), H, gis + ((t * D + d) * B + row) * GH,
                  ghs + (d * B + row) * GH, hs + at_state, cs == nullptr ? nullptr : cs + at_state,
                  ps + at_state, ss == nullptr ? nullptr : ss + t * D * B * H + at_state);
      }
    });
  }
  return {pooling == LAST ? h : pooled, states};
}

void bind_recurrent(pybind11::module& m) {
  m.def("recurrent_forward", &recurrent_forward, "GRU/LSTM/RNN layer from input projections (CPU, inference)");
}
