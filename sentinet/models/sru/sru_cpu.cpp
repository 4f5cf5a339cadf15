// SRU's elementwise part, fused for the CPU (sentinet/models/kernel.py builds it).
//
// After the one GEMM U = x W^T, everything an SRU layer does is elementwise per (row, direction,
// unit), sequential only in time. In plain torch that is ~20 ops per layer (reversals, stacks,
// gates, lerps) and as many in the backward pass; here it is one loop per element, with the
// backward direction walking each row from its last real token down to its first, so nothing
// is reversed or copied. Padding steps are never read and stay 0 in every output.
//
//   U  [T, B, D, K, H]  projections: x~ (0), forget (1), reset (2), highway (3, when K == 4)
//   x  [T, B, H]        the layer's input as highway when K == 3 (input size == H); else empty
//   v, b [2, D*H]       peephole weights and biases of the forget (0) and reset (1) gates
//   lengths [B]         int64, real steps per row
//
//   f_t = sigmoid(u_f + v_f c_{t-1} + b_f)      c_t = lerp(x~_t, c_{t-1}, f_t)
//   r_t = sigmoid(u_r + v_r c_{t-1} + b_r)      h_t = lerp(highway_t, c_t, r_t)
//
// lerp(a, b, w) = a + w (b - a) as torch.lerp computes it, so results match the torch path
// to rounding.

// Only the headers it needs (torch/extension.h pulls in all of libtorch's: 2x the build time).
#include <ATen/Dispatch.h>
#include <ATen/Functions.h>
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <torch/csrc/utils/pybind.h>

#include <cmath>
#include <vector>

namespace {

template <typename T>
inline T sigmoid(T z) {
  return T(1) / (T(1) + std::exp(-z));
}

template <typename T>
inline T lerp(T start, T end, T weight) {  // torch.lerp's two-sided form
  return weight < T(0.5) ? start + weight * (end - start) : end - (end - start) * (T(1) - weight);
}

struct Shape {
  int64_t T, B, D, K, H;
  int64_t DH() const { return D * H; }
  // U[t, b, d, k, j]
  int64_t u(int64_t t, int64_t b, int64_t d, int64_t k, int64_t j) const {
    return (((t * B + b) * D + d) * K + k) * H + j;
  }
  int64_t state(int64_t t, int64_t b, int64_t d, int64_t j) const { return (t * B + b) * DH() + d * H + j; }
  int64_t input(int64_t t, int64_t b, int64_t j) const { return (t * B + b) * H + j; }
};

Shape shape_of(const at::Tensor& U, const at::Tensor& x, const at::Tensor& v, const at::Tensor& b,
               const at::Tensor& lengths) {
  TORCH_CHECK(U.dim() == 5 && U.is_contiguous(), "U must be a contiguous [T, B, D, K, H] tensor");
  Shape s{U.size(0), U.size(1), U.size(2), U.size(3), U.size(4)};
  TORCH_CHECK(s.K == 3 || s.K == 4, "K must be 3 or 4");
  TORCH_CHECK(s.K == 4 || (x.is_contiguous() && x.numel() == s.T * s.B * s.H), "x must be [T, B, H]");
  TORCH_CHECK(v.is_contiguous() && b.is_contiguous() && v.numel() == 2 * s.DH() && b.numel() == 2 * s.DH(),
              "v and b must be [2, D*H]");
  TORCH_CHECK(lengths.scalar_type() == at::kLong && lengths.numel() == s.B && lengths.is_contiguous(),
              "lengths must be int64 [B]");
  return s;
}

// The time of step `step` (0 = first processed) of a row of `len` real tokens in direction d.
inline int64_t time_of(int64_t d, int64_t step, int64_t len) { return d == 0 ? step : len - 1 - step; }

// One time step of one (row, direction), over its H units: plain loops over restrict
// pointers, which the compiler vectorises (sigmoid's exp included, with -ffast-math).
template <typename T>
void forward_step(int64_t H, const T* __restrict__ ut, const T* __restrict__ highway,
                  const T* __restrict__ vf, const T* __restrict__ vr, const T* __restrict__ bf,
                  const T* __restrict__ br, T* __restrict__ prev, T* __restrict__ ct, T* __restrict__ ht) {
  for (int64_t j = 0; j < H; ++j) {
    const T f = sigmoid(ut[H + j] + vf[j] * prev[j] + bf[j]);
    const T r = sigmoid(ut[2 * H + j] + vr[j] * prev[j] + br[j]);
    const T next = lerp(ut[j], prev[j], f);
    ct[j] = next;
    ht[j] = lerp(highway[j], next, r);
    prev[j] = next;
  }
}

template <typename T>
void backward_step(int64_t H, const T* __restrict__ ut, const T* __restrict__ highway,
                   const T* __restrict__ vf, const T* __restrict__ vr, const T* __restrict__ bf,
                   const T* __restrict__ br, const T* __restrict__ prev, const T* __restrict__ now,
                   const T* __restrict__ g, T* __restrict__ carry, T* __restrict__ dut,
                   T* __restrict__ dhighway, T* __restrict__ dvf, T* __restrict__ dvr,
                   T* __restrict__ dbf, T* __restrict__ dbr) {
  for (int64_t j = 0; j < H; ++j) {
    const T f = sigmoid(ut[H + j] + vf[j] * prev[j] + bf[j]);
    const T r = sigmoid(ut[2 * H + j] + vr[j] * prev[j] + br[j]);
    const T gc = g[j] * r + carry[j];
    const T gr = g[j] * (now[j] - highway[j]) * r * (T(1) - r);
    const T gf = gc * (prev[j] - ut[j]) * f * (T(1) - f);
    dut[j] = gc * (T(1) - f);
    dut[H + j] = gf;
    dut[2 * H + j] = gr;
    dhighway[j] = g[j] * (T(1) - r);
    dvf[j] += gf * prev[j];
    dvr[j] += gr * prev[j];
    dbf[j] += gf;
    dbr[j] += gr;
    carry[j] = gc * f + gf * vf[j] + gr * vr[j];
  }
}

constexpr int64_t GRAIN = 1;  // one task is a (row, direction): T steps of H units

}  // namespace

std::vector<at::Tensor> sru_forward(at::Tensor U, at::Tensor x, at::Tensor v, at::Tensor b, at::Tensor lengths) {
  const Shape s = shape_of(U, x, v, b, lengths);
  auto h = at::zeros({s.T, s.B, s.DH()}, U.options());
  auto c = at::zeros({s.T, s.B, s.DH()}, U.options());
  const int64_t* len = lengths.data_ptr<int64_t>();
  AT_DISPATCH_FLOATING_TYPES(U.scalar_type(), "sru_forward", [&] {
    const scalar_t* u = U.data_ptr<scalar_t>();
    const scalar_t* xs = s.K == 3 ? x.data_ptr<scalar_t>() : nullptr;
    const scalar_t* vs = v.data_ptr<scalar_t>();
    const scalar_t* bs = b.data_ptr<scalar_t>();
    scalar_t* hs = h.data_ptr<scalar_t>();
    scalar_t* cs = c.data_ptr<scalar_t>();
    at::parallel_for(0, s.B * s.D, GRAIN, [&](int64_t begin, int64_t end) {
      std::vector<scalar_t> prev(s.H);
      for (int64_t task = begin; task < end; ++task) {
        const int64_t row = task / s.D, d = task % s.D;
        const scalar_t *vf = vs + d * s.H, *vr = vs + s.DH() + d * s.H;
        const scalar_t *bf = bs + d * s.H, *br = bs + s.DH() + d * s.H;
        const int64_t n = std::min<int64_t>(len[row], s.T);
        std::fill(prev.begin(), prev.end(), scalar_t(0));
        for (int64_t step = 0; step < n; ++step) {
          const int64_t t = time_of(d, step, n);
          const scalar_t* ut = u + s.u(t, row, d, 0, 0);  // x~, forget, reset, highway: H apart
          const scalar_t* highway = s.K == 4 ? ut + 3 * s.H : xs + s.input(t, row, 0);
          scalar_t* ct = cs + s.state(t, row, d, 0);
          scalar_t* ht = hs + s.state(t, row, d, 0);
          forward_step(s.H, ut, highway, vf, vr, bf, br, prev.data(), ct, ht);
        }
      }
    });
  });
  return {h, c};
}

// Gradients of h's loss: dU [T, B, D, K, H]; dx [T, B, D, H] (K == 3: each direction's share of
// the highway input, summed by the caller); dv, db per row [B, 2, D*H] (summed by the caller),
// so no two tasks ever write one place.
std::vector<at::Tensor> sru_backward(at::Tensor U, at::Tensor x, at::Tensor v, at::Tensor b, at::Tensor lengths,
                                     at::Tensor c, at::Tensor grad_h) {
  const Shape s = shape_of(U, x, v, b, lengths);
  TORCH_CHECK(grad_h.is_contiguous() && c.is_contiguous(), "c and grad_h must be contiguous");
  auto dU = at::zeros_like(U);
  auto dx = s.K == 3 ? at::zeros({s.T, s.B, s.D, s.H}, U.options()) : at::empty({0}, U.options());
  auto dv = at::zeros({s.B, 2, s.DH()}, U.options());
  auto db = at::zeros({s.B, 2, s.DH()}, U.options());
  const int64_t* len = lengths.data_ptr<int64_t>();
  AT_DISPATCH_FLOATING_TYPES(U.scalar_type(), "sru_backward", [&] {
    const scalar_t* u = U.data_ptr<scalar_t>();
    const scalar_t* xs = s.K == 3 ? x.data_ptr<scalar_t>() : nullptr;
    const scalar_t* vs = v.data_ptr<scalar_t>();
    const scalar_t* bs = b.data_ptr<scalar_t>();
    const scalar_t* cs = c.data_ptr<scalar_t>();
    const scalar_t* gh = grad_h.data_ptr<scalar_t>();
    scalar_t* du = dU.data_ptr<scalar_t>();
    scalar_t* dxs = s.K == 3 ? dx.data_ptr<scalar_t>() : nullptr;
    scalar_t* dvs = dv.data_ptr<scalar_t>();
    scalar_t* dbs = db.data_ptr<scalar_t>();
    at::parallel_for(0, s.B * s.D, GRAIN, [&](int64_t begin, int64_t end) {
      std::vector<scalar_t> carry(s.H);  // dL/dc_t through the later steps
      std::vector<scalar_t> zeros(s.H, scalar_t(0));
      for (int64_t task = begin; task < end; ++task) {
        const int64_t row = task / s.D, d = task % s.D;
        const scalar_t *vf = vs + d * s.H, *vr = vs + s.DH() + d * s.H;
        const scalar_t *bf = bs + d * s.H, *br = bs + s.DH() + d * s.H;
        scalar_t* dvf = dvs + row * 2 * s.DH() + d * s.H;
        scalar_t* dvr = dvf + s.DH();
        scalar_t* dbf = dbs + row * 2 * s.DH() + d * s.H;
        scalar_t* dbr = dbf + s.DH();
        const int64_t n = std::min<int64_t>(len[row], s.T);
        std::fill(carry.begin(), carry.end(), scalar_t(0));
        for (int64_t step = n - 1; step >= 0; --step) {
          const int64_t t = time_of(d, step, n);
          const scalar_t* prev = step == 0 ? zeros.data() : cs + s.state(time_of(d, step - 1, n), row, d, 0);
          const scalar_t* now = cs + s.state(t, row, d, 0);
          const scalar_t* g = gh + s.state(t, row, d, 0);
          const scalar_t* ut = u + s.u(t, row, d, 0, 0);
          const scalar_t* highway = s.K == 4 ? ut + 3 * s.H : xs + s.input(t, row, 0);
          scalar_t* dut = du + s.u(t, row, d, 0, 0);
          scalar_t* dhighway = s.K == 4 ? dut + 3 * s.H : dxs + ((t * s.B + row) * s.D + d) * s.H;
          backward_step(s.H, ut, highway, vf, vr, bf, br, prev, now, g, carry.data(), dut, dhighway,
                        dvf, dvr, dbf, dbr);
        }
      }
    });
  });
  return {dU, dx, dv, db};
}

void bind_recurrent(pybind11::module& m);  // ../recurrent_cpu.cpp, built into the same extension

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("forward", &sru_forward, "SRU layer, elementwise part (CPU)");
  m.def("backward", &sru_backward, "its gradients");
  bind_recurrent(m);
}
