// Fused CPU kernel of the augmentation pipeline: for each output pixel of each image, map it through the
// image's affine matrix (normalised coordinates, align_corners=False, as F.affine_grid), sample the uint8
// source bilinearly (border or zero padding, as F.grid_sample), normalise, and write float32 in
// channels_last order. One pass over the output instead of grid + grid_sample + normalise + layout copy.
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/util/Exception.h>
#include <torch/library.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

namespace {

inline int64_t floor_int(float v) {  // std::floor is a libm call on baseline x86-64
  const int64_t i = static_cast<int64_t>(v);
  return i - (static_cast<float>(i) > v);
}

#if defined(__SSE2__)
// The 3 channels of a pixel as floats in lanes 0-2 (lane 3 is junk). Reads 4 bytes unless that would
// pass the end of the source buffer.
inline __m128 load_rgb(const uint8_t* p, const uint8_t* end) {
  int32_t v;
  if (p + 4 <= end) {
    std::memcpy(&v, p, 4);
  } else {
    v = p[0] | (p[1] << 8) | (p[2] << 16);
  }
  const __m128i zero = _mm_setzero_si128();
  const __m128i words = _mm_unpacklo_epi8(_mm_cvtsi32_si128(v), zero);
  return _mm_cvtepi32_ps(_mm_unpacklo_epi16(words, zero));
}
#endif

// src is channels_last: pixel p of image b has its 3 channels at src[(b * plane + p) * 3 + c].
void warp_rows(const uint8_t* src, const uint8_t* src_end, const int64_t* index, const float* theta, const float* scale,
               const float* shift, float* out, int64_t height, int64_t width, int64_t size, bool border,
               int64_t row_begin, int64_t row_end) {
  const int64_t plane = height * width;
  const float xmax = static_cast<float>(width - 1), ymax = static_cast<float>(height - 1);
#if defined(__SSE2__)
  const __m128 scale4 = _mm_setr_ps(scale[0], scale[1], scale[2], 0.0f);
  const __m128 shift4 = _mm_setr_ps(shift[0], shift[1], shift[2], 0.0f);
#endif
  for (int64_t r = row_begin; r < row_end; ++r) {  // r = image * size + output row
    const int64_t b = r / size, i = r % size;
    const uint8_t* img = src + index[b] * plane * 3;
    const float* t = theta + 6 * b;
    const float gy = (2.0f * i + 1.0f) / size - 1.0f, step = 2.0f / size;
    // source pixel coordinates are affine in the output column j: start + j * slope
    const float x_start = ((t[0] * (step / 2 - 1) + t[1] * gy + t[2] + 1.0f) * width - 1.0f) * 0.5f;
    const float y_start = ((t[3] * (step / 2 - 1) + t[4] * gy + t[5] + 1.0f) * height - 1.0f) * 0.5f;
    const float x_slope = t[0] * step * width * 0.5f, y_slope = t[3] * step * height * 0.5f;
    float* o = out + r * size * 3;
    for (int64_t j = 0; j < size; ++j) {
      float ix = x_start + j * x_slope, iy = y_start + j * y_slope;
      float acc0, acc1, acc2;
      if (border) {  // clamp the coordinate (grid_sample's "border"), then every neighbour is inside
        ix = std::min(std::max(ix, 0.0f), xmax);
        iy = std::min(std::max(iy, 0.0f), ymax);
        const int64_t x0 = static_cast<int64_t>(ix), y0 = static_cast<int64_t>(iy);
        const int64_t x1 = std::min(x0 + 1, width - 1), y1 = std::min(y0 + 1, height - 1);
        const float dx = ix - x0, dy = iy - y0;
        const uint8_t* p00 = img + (y0 * width + x0) * 3;
        const uint8_t* p01 = img + (y0 * width + x1) * 3;
        const uint8_t* p10 = img + (y1 * width + x0) * 3;
        const uint8_t* p11 = img + (y1 * width + x1) * 3;
        const float w00 = (1 - dx) * (1 - dy), w01 = dx * (1 - dy), w10 = (1 - dx) * dy, w11 = dx * dy;
#if defined(__SSE2__)
        __m128 acc = _mm_mul_ps(_mm_set1_ps(w00), load_rgb(p00, src_end));
        acc = _mm_add_ps(acc, _mm_mul_ps(_mm_set1_ps(w01), load_rgb(p01, src_end)));
        acc = _mm_add_ps(acc, _mm_mul_ps(_mm_set1_ps(w10), load_rgb(p10, src_end)));
        acc = _mm_add_ps(acc, _mm_mul_ps(_mm_set1_ps(w11), load_rgb(p11, src_end)));
        const __m128 v = _mm_add_ps(_mm_mul_ps(acc, scale4), shift4);
        if (j + 1 < size) {
          _mm_storeu_ps(o + 3 * j, v);  // lane 3 lands on the next pixel's slot, written next
        } else {
          float tmp[4];
          _mm_storeu_ps(tmp, v);
          o[3 * j] = tmp[0], o[3 * j + 1] = tmp[1], o[3 * j + 2] = tmp[2];
        }
        continue;
#else
        acc0 = w00 * p00[0] + w01 * p01[0] + w10 * p10[0] + w11 * p11[0];
        acc1 = w00 * p00[1] + w01 * p01[1] + w10 * p10[1] + w11 * p11[1];
        acc2 = w00 * p00[2] + w01 * p01[2] + w10 * p10[2] + w11 * p11[2];
#endif
      } else {  // zeros: neighbours outside the image contribute nothing
        const int64_t x0 = floor_int(ix), y0 = floor_int(iy);
        const float dx = ix - x0, dy = iy - y0;
        const float wx[2] = {1 - dx, dx}, wy[2] = {1 - dy, dy};
        acc0 = acc1 = acc2 = 0.0f;
        for (int a = 0; a < 2; ++a) {
          const int64_t y = y0 + a;
          if (y < 0 || y >= height) continue;
          for (int c = 0; c < 2; ++c) {
            const int64_t x = x0 + c;
            if (x < 0 || x >= width) continue;
            const uint8_t* q = img + (y * width + x) * 3;
            const float w = wy[a] * wx[c];
            acc0 += w * q[0];
            acc1 += w * q[1];
            acc2 += w * q[2];
          }
        }
      }
      o[3 * j] = acc0 * scale[0] + shift[0];
      o[3 * j + 1] = acc1 * scale[1] + shift[1];
      o[3 * j + 2] = acc2 * scale[2] + shift[2];
    }
  }
}

// src: uint8 (N, 3, H, W) in channels_last memory; index: int64 (B,) images of src to warp; theta: float32 (B, 2, 3);
// scale, shift: float32 (3,); returns float32 (B, S, S, 3) == channels_last (B, 3, S, S) after a permute.
at::Tensor affine_bilinear_u8(const at::Tensor& src, const at::Tensor& index, const at::Tensor& theta,
                              const at::Tensor& scale, const at::Tensor& shift, int64_t size, bool border,
                              int64_t threads) {
  TORCH_CHECK(src.device().is_cpu() && src.scalar_type() == at::kByte && src.dim() == 4 && src.size(1) == 3 &&
                  src.is_contiguous(at::MemoryFormat::ChannelsLast),
              "src must be a uint8 CPU tensor N x 3 x H x W in channels_last memory");
  TORCH_CHECK(index.scalar_type() == at::kLong && index.dim() == 1 && index.is_contiguous(), "index: int64 (B,)");
  const int64_t batch = index.size(0);
  TORCH_CHECK(theta.scalar_type() == at::kFloat && theta.is_contiguous() && theta.numel() == 6 * batch,
              "theta: contiguous float32 (B, 2, 3)");
  TORCH_CHECK(scale.scalar_type() == at::kFloat && scale.numel() == 3 && shift.scalar_type() == at::kFloat &&
                  shift.numel() == 3,
              "scale and shift: float32 (3,)");
  TORCH_CHECK(size > 0, "size must be positive");
  const int64_t* idx = index.data_ptr<int64_t>();
  for (int64_t b = 0; b < batch; ++b) TORCH_CHECK(idx[b] >= 0 && idx[b] < src.size(0), "index out of range");
  at::Tensor out = at::empty({batch, size, size, 3}, src.options().dtype(at::kFloat));
  const int64_t rows = batch * size;
  const int64_t workers = std::max<int64_t>(1, std::min<int64_t>(threads, rows));
  auto run = [&](int64_t begin, int64_t end) {
    warp_rows(src.data_ptr<uint8_t>(), src.data_ptr<uint8_t>() + src.numel(), idx, theta.data_ptr<float>(), scale.data_ptr<float>(),
              shift.data_ptr<float>(), out.data_ptr<float>(), src.size(2), src.size(3), size, border, begin,
              end);
  };
  if (workers == 1) {
    run(0, rows);
  } else {
    std::vector<std::thread> pool;
    const int64_t chunk = (rows + workers - 1) / workers;
    for (int64_t w = 0; w < workers; ++w) {
      const int64_t begin = w * chunk, end = std::min(rows, begin + chunk);
      if (begin < end) pool.emplace_back(run, begin, end);
    }
    for (auto& th : pool) th.join();
  }
  return out;
}

}  // namespace

TORCH_LIBRARY(igpw_viz_warp, m) {
  m.def("affine_bilinear_u8(Tensor src, Tensor index, Tensor theta, Tensor scale, Tensor shift, int size, "
        "bool border, int threads) -> Tensor");
}

TORCH_LIBRARY_IMPL(igpw_viz_warp, CPU, m) { m.impl("affine_bilinear_u8", &affine_bilinear_u8); }
