;; Pillow's BILINEAR resize of 8-bit RGB (libImaging/Resample.c, ImagingResampleHorizontal_8bpc
;; and ImagingResampleVertical_8bpc), with 128-bit SIMD: the same 22-bit fixed-point sums as the
;; C code, one i32x4 lane per channel (horizontal: two taps per i16 dot product, the weights
;; split in two halves) or per byte (vertical), so the result is byte-identical. The JavaScript
;; side (../pillow-resize.ts) computes the coefficients, lays the buffers out in this module's
;; memory and calls the two passes.
;;
;; Build: npm run build:wasm (wabt's wat2wasm, SIMD enabled); the .wasm beside this file is
;; committed and a test checks that it is this file's compilation.
(module
  (memory (export "memory") 1)

  ;; tmp[y][x] for y in [0, rows): output column x of input row yFirst + y.
  ;; bounds: per output column, i32 first input column and i32 tap count. Taps go two at a
  ;; time (an odd count gets one zero-weight tap more); ws: per output column, ks/2 blocks of
  ;; 32 bytes, one per pair of taps: the pair's two weights as i16 [h0 h1 h0 h1 h0 h1 0 0]
  ;; (weight >> 11) then [l0 l1 l0 l1 l0 l1 0 0] (weight & 2047). A pair's 6 bytes (r0 g0 b0
  ;; r1 g1 b1) are swizzled to u16 lanes [r0 r1 g0 g1 b0 b1 0 0], so that one i32x4.dot_i16x8_s
  ;; per half gives the three channels' sums: sum_hi << 11 + sum_lo is the C code's 22-bit
  ;; sum exactly (weights are 0..2^22, pixels 0..255: nothing overflows). Reads 8 bytes per
  ;; pair (the last 2 belong to the next pixels, unused) and stores 4 bytes per pixel (the 4th
  ;; is rewritten by the next pixel), so the caller leaves slack after src and after tmp.
  (func (export "horizontal")
    (param $src i32) (param $inW i32) (param $yFirst i32) (param $rows i32) (param $outW i32)
    (param $bounds i32) (param $ws i32) (param $ks i32) (param $tmp i32)
    (local $y i32) (local $x i32) (local $t i32) (local $n i32) (local $row i32)
    (local $p i32) (local $k i32) (local $o i32) (local $b i32) (local $hi v128) (local $lo v128)
    (local $px v128) (local $acc v128)
    (local.set $o (local.get $tmp))
    (block $ydone
      (loop $yloop
        (br_if $ydone (i32.ge_u (local.get $y) (local.get $rows)))
        (local.set $row
          (i32.add (local.get $src)
            (i32.mul (i32.add (local.get $y) (local.get $yFirst)) (i32.mul (local.get $inW) (i32.const 3)))))
        (local.set $x (i32.const 0))
        (block $xdone
          (loop $xloop
            (br_if $xdone (i32.ge_u (local.get $x) (local.get $outW)))
            (local.set $b (i32.add (local.get $bounds) (i32.shl (local.get $x) (i32.const 3))))
            (local.set $p (i32.add (local.get $row) (i32.mul (i32.load (local.get $b)) (i32.const 3))))
            (local.set $n (i32.load offset=4 (local.get $b)))
            (local.set $k (i32.add (local.get $ws) (i32.shl (i32.mul (local.get $x) (local.get $ks)) (i32.const 4))))
            (local.set $hi (v128.const i32x4 0 0 0 0))
            (local.set $lo (v128.const i32x4 0 0 0 0))
            (local.set $t (i32.const 0))
            ;; the usual case, a phone photo to 512 columns (about 2:1: three pairs), unrolled over
            ;; all three pairs whatever the tap count (the weights past it are 0); reads up to 20
            ;; bytes from p, 17 past the row for its last pixel (the caller leaves 32 after src)
            (if (i32.eq (local.get $ks) (i32.const 6))
              (then
                (local.set $px (i8x16.swizzle (v128.load64_zero (local.get $p))
                  (v128.const i8x16 0 16 3 16 1 16 4 16 2 16 5 16 16 16 16 16)))
                (local.set $hi (i32x4.dot_i16x8_s (local.get $px) (v128.load (local.get $k))))
                (local.set $lo (i32x4.dot_i16x8_s (local.get $px) (v128.load offset=16 (local.get $k))))
                (local.set $px (i8x16.swizzle (v128.load64_zero offset=6 (local.get $p))
                  (v128.const i8x16 0 16 3 16 1 16 4 16 2 16 5 16 16 16 16 16)))
                (local.set $hi (i32x4.add (local.get $hi) (i32x4.dot_i16x8_s (local.get $px) (v128.load offset=32 (local.get $k)))))
                (local.set $lo (i32x4.add (local.get $lo) (i32x4.dot_i16x8_s (local.get $px) (v128.load offset=48 (local.get $k)))))
                (local.set $px (i8x16.swizzle (v128.load64_zero offset=12 (local.get $p))
                  (v128.const i8x16 0 16 3 16 1 16 4 16 2 16 5 16 16 16 16 16)))
                (local.set $hi (i32x4.add (local.get $hi) (i32x4.dot_i16x8_s (local.get $px) (v128.load offset=64 (local.get $k)))))
                (local.set $lo (i32x4.add (local.get $lo) (i32x4.dot_i16x8_s (local.get $px) (v128.load offset=80 (local.get $k)))))
                (local.set $t (local.get $n))))
            (block $tdone
              (loop $tloop
                (br_if $tdone (i32.ge_u (local.get $t) (local.get $n)))
                (local.set $px
                  (i8x16.swizzle (v128.load64_zero (local.get $p))
                    (v128.const i8x16 0 16 3 16 1 16 4 16 2 16 5 16 16 16 16 16)))
                (local.set $hi (i32x4.add (local.get $hi) (i32x4.dot_i16x8_s (local.get $px) (v128.load (local.get $k)))))
                (local.set $lo (i32x4.add (local.get $lo) (i32x4.dot_i16x8_s (local.get $px) (v128.load offset=16 (local.get $k)))))
                (local.set $p (i32.add (local.get $p) (i32.const 6)))
                (local.set $k (i32.add (local.get $k) (i32.const 32)))
                (local.set $t (i32.add (local.get $t) (i32.const 2)))
                (br $tloop)))
            (local.set $acc
              (i32x4.add
                (i32x4.add (i32x4.shl (local.get $hi) (i32.const 11)) (local.get $lo))
                (v128.const i32x4 2097152 2097152 2097152 2097152)))
            ;; the two saturating narrows (i32 -> i16 signed, i16 -> u8) clip to 0..255
            (local.set $acc (i32x4.shr_s (local.get $acc) (i32.const 22)))
            (local.set $acc (i16x8.narrow_i32x4_s (local.get $acc) (local.get $acc)))
            (v128.store32_lane 0 (local.get $o) (i8x16.narrow_i16x8_u (local.get $acc) (local.get $acc)))
            (local.set $o (i32.add (local.get $o) (i32.const 3)))
            (local.set $x (i32.add (local.get $x) (i32.const 1)))
            (br $xloop)))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $yloop))))

  ;; out[yy] for yy in [0, outH): sum over the taps of tmp rows (bounds[2yy] - yFirst) + t.
  ;; Works 16 bytes at a time (four i32x4 sums): a row whose length is not a multiple of 16
  ;; spills up to 15 bytes into the next row (rewritten right after) or, for the last row, into
  ;; the caller's slack; reads past the last tmp row land in its slack too. The two saturating
  ;; narrows (i32 -> i16 signed, i16 -> u8) clip to 0..255 as the C code's clip8 does.
  (func (export "vertical")
    (param $tmp i32) (param $rowLen i32) (param $outH i32) (param $bounds i32) (param $kk i32)
    (param $ks i32) (param $yFirst i32) (param $out i32)
    (local $yy i32) (local $i i32) (local $t i32) (local $n i32) (local $base i32)
    (local $kbase i32) (local $k i32) (local $p i32) (local $o i32) (local $b i32)
    (local $v v128) (local $lo v128) (local $hi v128) (local $w v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local.set $o (local.get $out))
    (block $ydone
      (loop $yloop
        (br_if $ydone (i32.ge_u (local.get $yy) (local.get $outH)))
        (local.set $b (i32.add (local.get $bounds) (i32.shl (local.get $yy) (i32.const 3))))
        (local.set $base
          (i32.add (local.get $tmp)
            (i32.mul (i32.sub (i32.load (local.get $b)) (local.get $yFirst)) (local.get $rowLen))))
        (local.set $n (i32.load offset=4 (local.get $b)))
        (local.set $kbase (i32.add (local.get $kk) (i32.shl (i32.mul (local.get $yy) (local.get $ks)) (i32.const 2))))
        (local.set $i (i32.const 0))
        (block $idone
          (loop $iloop
            (br_if $idone (i32.ge_u (local.get $i) (local.get $rowLen)))
            (local.set $a0 (v128.const i32x4 2097152 2097152 2097152 2097152))
            (local.set $a1 (local.get $a0))
            (local.set $a2 (local.get $a0))
            (local.set $a3 (local.get $a0))
            (local.set $p (i32.add (local.get $base) (local.get $i)))
            (local.set $k (local.get $kbase))
            (local.set $t (i32.const 0))
            (block $tdone
              (loop $tloop
                (br_if $tdone (i32.ge_u (local.get $t) (local.get $n)))
                (local.set $v (v128.load (local.get $p)))
                (local.set $w (v128.load32_splat (local.get $k)))
                (local.set $lo (i16x8.extend_low_i8x16_u (local.get $v)))
                (local.set $hi (i16x8.extend_high_i8x16_u (local.get $v)))
                (local.set $a0 (i32x4.add (local.get $a0) (i32x4.mul (i32x4.extend_low_i16x8_u (local.get $lo)) (local.get $w))))
                (local.set $a1 (i32x4.add (local.get $a1) (i32x4.mul (i32x4.extend_high_i16x8_u (local.get $lo)) (local.get $w))))
                (local.set $a2 (i32x4.add (local.get $a2) (i32x4.mul (i32x4.extend_low_i16x8_u (local.get $hi)) (local.get $w))))
                (local.set $a3 (i32x4.add (local.get $a3) (i32x4.mul (i32x4.extend_high_i16x8_u (local.get $hi)) (local.get $w))))
                (local.set $p (i32.add (local.get $p) (local.get $rowLen)))
                (local.set $k (i32.add (local.get $k) (i32.const 4)))
                (local.set $t (i32.add (local.get $t) (i32.const 1)))
                (br $tloop)))
            (v128.store
              (i32.add (local.get $o) (local.get $i))
              (i8x16.narrow_i16x8_u
                (i16x8.narrow_i32x4_s (i32x4.shr_s (local.get $a0) (i32.const 22)) (i32x4.shr_s (local.get $a1) (i32.const 22)))
                (i16x8.narrow_i32x4_s (i32x4.shr_s (local.get $a2) (i32.const 22)) (i32x4.shr_s (local.get $a3) (i32.const 22)))))
            (local.set $i (i32.add (local.get $i) (i32.const 16)))
            (br $iloop)))
        (local.set $o (i32.add (local.get $o) (local.get $rowLen)))
        (local.set $yy (i32.add (local.get $yy) (i32.const 1)))
        (br $yloop))))
)
