// CUDA's built-in vector types (vector_types.h) and their make_ functions,
// with the alignments the GPU gives them (float2: 8 bytes, float4: 16, ...),
// so that vectorized loads such as reinterpret_cast<const float4*>(p) keep
// their alignment requirements under the emulator.
#pragma once

#define CUEMU_VEC2(T, N, A)                                                   \
  struct alignas(A) N##2 {                                                    \
    T x, y;                                                                   \
  };                                                                          \
  inline N##2 make_##N##2(T x, T y) { return N##2{x, y}; }
#define CUEMU_VEC3(T, N)                                                      \
  struct N##3 {                                                               \
    T x, y, z;                                                                \
  };                                                                          \
  inline N##3 make_##N##3(T x, T y, T z) { return N##3{x, y, z}; }
#define CUEMU_VEC4(T, N, A)                                                   \
  struct alignas(A) N##4 {                                                    \
    T x, y, z, w;                                                             \
  };                                                                          \
  inline N##4 make_##N##4(T x, T y, T z, T w) { return N##4{x, y, z, w}; }

CUEMU_VEC2(float, float, 8)
CUEMU_VEC3(float, float)
CUEMU_VEC4(float, float, 16)
CUEMU_VEC2(double, double, 16)
CUEMU_VEC4(double, double, 16)
CUEMU_VEC2(int, int, 8)
CUEMU_VEC3(int, int)
CUEMU_VEC4(int, int, 16)
CUEMU_VEC2(unsigned int, uint, 8)
CUEMU_VEC3(unsigned int, uint)
CUEMU_VEC4(unsigned int, uint, 16)
CUEMU_VEC2(short, short, 4)
CUEMU_VEC4(short, short, 8)
CUEMU_VEC2(unsigned short, ushort, 4)
CUEMU_VEC4(unsigned short, ushort, 8)
CUEMU_VEC2(signed char, char, 2)
CUEMU_VEC4(signed char, char, 4)
CUEMU_VEC2(unsigned char, uchar, 2)
CUEMU_VEC4(unsigned char, uchar, 4)
CUEMU_VEC2(long long, longlong, 16)
CUEMU_VEC2(unsigned long long, ulonglong, 16)

#undef CUEMU_VEC2
#undef CUEMU_VEC3
#undef CUEMU_VEC4

/// dim3 is a launch dimension; unspecified components are 1.
struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return uint3{x, y, z}; }
};
