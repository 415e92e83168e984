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
#include <atomic>
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

template <int K>
inline __m128 lane(__m128 v) { return _mm_shuffle_ps(v, v, _MM_SHUFFLE(K, K, K, K)); }

// 4 bytes from p (a pixel and the next byte). kChecked: the source has no spare byte after its end, so
// the last pixel is read as 3 bytes; unchecked is much faster (the compiler keeps one plain load).
template <bool kChecked>
inline __m128i load32(const uint8_t* p, const uint8_t* end) {
  int32_t v;
  if (!kChecked || p + 4 <= end) {
    std::memcpy(&v, p, 4);
  } else {
    v = p[0] | (p[1] << 8) | (p[2] << 16);
  }
  return _mm_cvtsi32_si128(v);
}

constexpr float kQ = 16384.0f;  // horizontal weights in Q14: exact to 3e-5, products fit int32

// One pixel: horizontal interpolation of the two source rows in 16-bit integers (pmaddwd of the
// interleaved left/right bytes with the packed weights (1-dx, dx)), vertical in float, then normalise.
template <bool kChecked>
inline __m128 bilinear_q14(const uint8_t* r0, const uint8_t* r1, int64_t xl, int64_t xr, int32_t packed, __m128 dy,
                           __m128 scale_q, __m128 shift4, const uint8_t* end) {
  const __m128i zero = _mm_setzero_si128(), weights = _mm_set1_epi32(packed);
  const __m128i top = _mm_unpacklo_epi8(_mm_unpacklo_epi8(load32<kChecked>(r0 + xl, end), load32<kChecked>(r0 + xr, end)), zero);
  const __m128i bot = _mm_unpacklo_epi8(_mm_unpacklo_epi8(load32<kChecked>(r1 + xl, end), load32<kChecked>(r1 + xr, end)), zero);
  const __m128 t = _mm_cvtepi32_ps(_mm_madd_epi16(top, weights));  // R, G, B of the upper row (x kQ)
  const __m128 b = _mm_cvtepi32_ps(_mm_madd_epi16(bot, weights));
  return _mm_add_ps(_mm_mul_ps(_mm_add_ps(t, _mm_mul_ps(_mm_sub_ps(b, t), dy)), scale_q), shift4);
}

inline int32_t pack_weights(int32_t right) { return (static_cast<int32_t>(kQ) - right) | (right << 16); }

// One output row with border padding, pixels [j_begin, j_end): coordinates, clamping and weights for four
// pixels at a time as 4-lane vectors.
template <bool kChecked>
void border_row_sse2(const uint8_t* img, const uint8_t* src_end, int64_t width, int64_t height, float x_start,
                     float y_start, float x_slope, float y_slope, int64_t j_begin, int64_t j_end, int64_t size,
                     __m128 scale4, __m128 shift4, float* o) {
  const __m128 zero = _mm_setzero_ps(), one = _mm_set1_ps(1.0f), steps = _mm_setr_ps(0.0f, 1.0f, 2.0f, 3.0f);
  const __m128 xmax = _mm_set1_ps(static_cast<float>(width - 1)), ymax = _mm_set1_ps(static_cast<float>(height - 1));
  const __m128 xs = _mm_set1_ps(x_start), ys = _mm_set1_ps(y_start);
  const __m128 xsl = _mm_set1_ps(x_slope), ysl = _mm_set1_ps(y_slope);
  const __m128 scale_q = _mm_mul_ps(scale4, _mm_set1_ps(1.0f / kQ)), q = _mm_set1_ps(kQ);
  const int64_t row = width * 3;
  alignas(16) int32_t xl[4], xr[4], yt[4], yb[4], packed[4];
  int64_t j = j_begin;
  for (; j + 4 <= j_end; j += 4) {
    const __m128 jv = _mm_add_ps(_mm_set1_ps(static_cast<float>(j)), steps);
    const __m128 ix = _mm_min_ps(_mm_max_ps(_mm_add_ps(xs, _mm_mul_ps(jv, xsl)), zero), xmax);
    const __m128 iy = _mm_min_ps(_mm_max_ps(_mm_add_ps(ys, _mm_mul_ps(jv, ysl)), zero), ymax);
    const __m128i ix0 = _mm_cvttps_epi32(ix), iy0 = _mm_cvttps_epi32(iy);  // floor: coordinates are >= 0
    const __m128 fx0 = _mm_cvtepi32_ps(ix0), fy0 = _mm_cvtepi32_ps(iy0);
    _mm_store_si128(reinterpret_cast<__m128i*>(xl), ix0);
    _mm_store_si128(reinterpret_cast<__m128i*>(yt), iy0);
    _mm_store_si128(reinterpret_cast<__m128i*>(xr), _mm_cvttps_epi32(_mm_min_ps(_mm_add_ps(fx0, one), xmax)));
    _mm_store_si128(reinterpret_cast<__m128i*>(yb), _mm_cvttps_epi32(_mm_min_ps(_mm_add_ps(fy0, one), ymax)));
    const __m128i right = _mm_cvtps_epi32(_mm_mul_ps(_mm_sub_ps(ix, fx0), q));  // dx in Q14, rounded
    const __m128i left = _mm_sub_epi32(_mm_set1_epi32(static_cast<int32_t>(kQ)), right);
    _mm_store_si128(reinterpret_cast<__m128i*>(packed), _mm_or_si128(left, _mm_slli_epi32(right, 16)));
    const __m128 dy = _mm_sub_ps(iy, fy0);
#define IGPW_PIXEL(K)                                                                                            \
  bilinear_q14<kChecked>(img + yt[K] * row, img + yb[K] * row, xl[K] * 3, xr[K] * 3, packed[K], lane<K>(dy), scale_q, shift4, \
               src_end)
    const __m128 p0 = IGPW_PIXEL(0), p1 = IGPW_PIXEL(1), p2 = IGPW_PIXEL(2), p3 = IGPW_PIXEL(3);
#undef IGPW_PIXEL
    // four [r g b -] pixels -> three vectors of 12 consecutive floats: r0 g0 b0 r1 | g1 b1 r2 g2 | b2 r3 g3 b3
    const __m128 b0r1 = _mm_shuffle_ps(p0, p1, _MM_SHUFFLE(0, 0, 2, 2));  // b0 b0 r1 r1
    const __m128 b2r3 = _mm_shuffle_ps(p2, p3, _MM_SHUFFLE(0, 0, 2, 2));  // b2 b2 r3 r3
    _mm_storeu_ps(o + 3 * j, _mm_shuffle_ps(p0, b0r1, _MM_SHUFFLE(2, 0, 1, 0)));
    _mm_storeu_ps(o + 3 * j + 4, _mm_shuffle_ps(p1, p2, _MM_SHUFFLE(1, 0, 2, 1)));
    _mm_storeu_ps(o + 3 * j + 8, _mm_shuffle_ps(b2r3, p3, _MM_SHUFFLE(2, 1, 2, 0)));
  }
  for (; j < j_end; ++j) {  // the tail, one pixel at a time, same arithmetic
    const float ix = std::min(std::max(x_start + j * x_slope, 0.0f), static_cast<float>(width - 1));
    const float iy = std::min(std::max(y_start + j * y_slope, 0.0f), static_cast<float>(height - 1));
    const int64_t x0 = static_cast<int64_t>(ix), y0 = static_cast<int64_t>(iy);
    const int64_t x1 = std::min(x0 + 1, width - 1), y1 = std::min(y0 + 1, height - 1);
    const int32_t right = _mm_cvtss_si32(_mm_set_ss((ix - x0) * kQ));
    alignas(16) float v[4];
    _mm_store_ps(v, bilinear_q14<kChecked>(img + y0 * row, img + y1 * row, x0 * 3, x1 * 3, pack_weights(right),
                                 _mm_set1_ps(iy - y0), scale_q, shift4, src_end));
    o[3 * j] = v[0], o[3 * j + 1] = v[1], o[3 * j + 2] = v[2];
  }
}
#endif

// The geometry of one call. src is channels_last: channel c of pixel p of image n is src[(n*H*W + p)*3 + c].
struct Warp {
  const uint8_t *src, *src_end;
  const int64_t* index;
  const float *theta, *scale, *shift;
  float* out;
  int64_t height, width, size;
  bool border, portable;  // portable: skip the SSE2 path (tests cover the code non-x86 machines run)
  bool spare_byte;        // the source's storage has at least one byte after its last pixel
};

// Source coordinates of output row i of image b are affine in the output column j: start + j * slope.
struct RowMap {
  float x_start, y_start, x_slope, y_slope;
};

RowMap row_map(const Warp& w, int64_t b, int64_t i) {
  const float* t = w.theta + 6 * b;
  const float step = 2.0f / w.size, gy = (2.0f * i + 1.0f) / w.size - 1.0f, gx0 = step / 2 - 1;
  return {((t[0] * gx0 + t[1] * gy + t[2] + 1.0f) * w.width - 1.0f) * 0.5f,
          ((t[3] * gx0 + t[4] * gy + t[5] + 1.0f) * w.height - 1.0f) * 0.5f, t[0] * step * w.width * 0.5f,
          t[3] * step * w.height * 0.5f};
}

// Portable path: zero padding, or border padding without SSE2. Plain float arithmetic per channel.
void generic_row(const Warp& w, const uint8_t* img, const RowMap& m, int64_t j_begin, int64_t j_end, float* o) {
  const float xmax = static_cast<float>(w.width - 1), ymax = static_cast<float>(w.height - 1);
  for (int64_t j = j_begin; j < j_end; ++j) {
    float ix = m.x_start + j * m.x_slope, iy = m.y_start + j * m.y_slope;
    if (w.border) {  // clamp the coordinate (grid_sample's "border"): every neighbour is then inside
      ix = std::min(std::max(ix, 0.0f), xmax);
      iy = std::min(std::max(iy, 0.0f), ymax);
    }
    const int64_t x0 = floor_int(ix), y0 = floor_int(iy);
    const float dx = ix - x0, dy = iy - y0;
    const float wx[2] = {1 - dx, dx}, wy[2] = {1 - dy, dy};
    float acc[3] = {0.0f, 0.0f, 0.0f};
    for (int a = 0; a < 2; ++a) {
      const int64_t y = std::min(y0 + a, w.height - 1);
      if (y0 + a < 0 || (!w.border && y0 + a >= w.height)) continue;  // zeros: outside neighbours add nothing
      for (int c = 0; c < 2; ++c) {
        const int64_t x = std::min(x0 + c, w.width - 1);
        if (x0 + c < 0 || (!w.border && x0 + c >= w.width)) continue;
        const uint8_t* q = img + (y * w.width + x) * 3;
        for (int k = 0; k < 3; ++k) acc[k] += wy[a] * wx[c] * q[k];
      }
    }
    for (int k = 0; k < 3; ++k) o[3 * j + k] = acc[k] * w.scale[k] + w.shift[k];
  }
}

constexpr int64_t kTileRows = 4, kTileCols = 64;  // a tile's source pixels stay in cache under rotation

// Tile t: rows [i0, i0 + kTileRows) of image t / tiles_per_image, in column blocks of kTileCols.
void warp_tile(const Warp& w, int64_t t, int64_t tiles_per_image) {
  const int64_t b = t / tiles_per_image, i0 = (t % tiles_per_image) * kTileRows;
  const int64_t i1 = std::min(w.size, i0 + kTileRows), plane = w.height * w.width;
  const uint8_t* img = w.src + w.index[b] * plane * 3;
#if defined(__SSE2__)
  if (i0 == 0) {  // an image's first tile: stream the source into L2 ahead of the random reads
    for (int64_t off = 0; off < plane * 3; off += 64) _mm_prefetch(reinterpret_cast<const char*>(img) + off, _MM_HINT_T1);
  }
  const __m128 scale4 = _mm_setr_ps(w.scale[0], w.scale[1], w.scale[2], 0.0f);
  const __m128 shift4 = _mm_setr_ps(w.shift[0], w.shift[1], w.shift[2], 0.0f);
#endif
  for (int64_t j0 = 0; j0 < w.size; j0 += kTileCols) {
    const int64_t j1 = std::min(w.size, j0 + kTileCols);
    for (int64_t i = i0; i < i1; ++i) {
      const RowMap m = row_map(w, b, i);
      float* o = w.out + (b * w.size + i) * w.size * 3;
#if defined(__SSE2__)
      if (w.border && !w.portable) {
        auto row = w.spare_byte ? border_row_sse2<false> : border_row_sse2<true>;
        row(img, w.src_end, w.width, w.height, m.x_start, m.y_start, m.x_slope, m.y_slope, j0, j1, w.size, scale4,
            shift4, o);
        continue;
      }
#endif
      generic_row(w, img, m, j0, j1, o);
    }
  }
}

// src: uint8 (N, 3, H, W) in channels_last memory; index: int64 (B,) images of src to warp; theta: float32 (B, 2, 3);
// scale, shift: float32 (3,); returns float32 (B, S, S, 3) == channels_last (B, 3, S, S) after a permute.
at::Tensor affine_bilinear_u8(const at::Tensor& src, const at::Tensor& index, const at::Tensor& theta,
                              const at::Tensor& scale, const at::Tensor& shift, int64_t size, bool border,
                              int64_t threads, bool portable, const c10::optional<at::Tensor>& out_buffer) {
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
  at::Tensor out;
  if (out_buffer.has_value()) {  // a buffer nobody holds any more: no fresh pages to fault in
    out = *out_buffer;
    TORCH_CHECK(out.device().is_cpu() && out.scalar_type() == at::kFloat && out.is_contiguous() &&
                    out.sizes() == at::IntArrayRef({batch, size, size, 3}),
                "out: contiguous float32 CPU tensor (B, S, S, 3)");
  } else {
    out = at::empty({batch, size, size, 3}, src.options().dtype(at::kFloat));
  }
  const Warp w{src.data_ptr<uint8_t>(), src.data_ptr<uint8_t>() + src.numel(), idx, theta.data_ptr<float>(),
               scale.data_ptr<float>(), shift.data_ptr<float>(), out.data_ptr<float>(), src.size(2), src.size(3),
               size, border, portable,
               src.storage().nbytes() >= static_cast<size_t>(src.storage_offset() + src.numel() + 1)};
  const int64_t tiles_per_image = (size + kTileRows - 1) / kTileRows, tiles = batch * tiles_per_image;
  // Tiles are handed out one at a time, so a core slowed by other work simply takes fewer of them.
  std::atomic<int64_t> next{0};
  auto work = [&]() {
    for (int64_t t = next.fetch_add(1); t < tiles; t = next.fetch_add(1)) warp_tile(w, t, tiles_per_image);
  };
  std::vector<std::thread> helpers;
  for (int64_t k = 1; k < std::min<int64_t>(threads, tiles); ++k) helpers.emplace_back(work);
  work();
  for (auto& th : helpers) th.join();
  return out;
}

}  // namespace

TORCH_LIBRARY(igpw_viz_warp, m) {
  m.def("affine_bilinear_u8(Tensor src, Tensor index, Tensor theta, Tensor scale, Tensor shift, int size, "
        "bool border, int threads, bool portable=False, Tensor? out=None) -> Tensor");
}

TORCH_LIBRARY_IMPL(igpw_viz_warp, CPU, m) { m.impl("affine_bilinear_u8", &affine_bilinear_u8); }
