/* Barycentric unsampling over the triangle mesh of a sampling grid (Marin et al. 2019, Sec. 3.3).
 *
 * Plain C with no Python or torch headers: benchmark/native.py builds it at first use and calls
 * it through ctypes, which releases the GIL, so bands of output rows run on several Python
 * threads at once. benchmark/ops/barycentric.py holds the conventions and the pure-torch path that
 * computes the same interpolant (CUDA, or no C compiler).
 *
 * Mesh: h x w points in output pixel units, (x, y) interleaved, double. Cell (i, j) has corners
 * a = (i, j), b = (i, j+1), c = (i+1, j), d = (i+1, j+1) and the triangles 2k = (a, c, d) and
 * 2k+1 = (a, d, b), k = i*(w-1) + j. A pixel centre (x, y) lies in a triangle when its three
 * barycentric coordinates are >= -TOL; where several triangles hold it the largest index wins
 * (each output row is rasterised in index order, later triangles overwrite). Pixels that no
 * triangle holds are flagged in `uncovered` (the caller fills them) and set to 0.
 *
 * Output rows are processed in bands of a few rows: (1) rasterise every triangle of the cells
 * whose y-range meets the band (cells are skipped by precomputed row bounds, a whole cell row at
 * a time where it can be) into per-pixel owner and barycentric coordinates, (2) cut each row
 * into runs of one owner, (3) per channel, blend each run from its three corner values: every
 * channel row is written once, front to back, which is what keeps this at memory speed.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#define TOL 1e-9           /* barycentric units: a pixel on a shared edge belongs to both triangles */
#define SLACK 1e-4         /* pixels: the bounding-box tests are looser than TOL, never tighter */
#define MIN_DET 1e-12      /* degenerate triangles cover nothing */

typedef struct {
    int64_t start, stop;   /* pixels [start, stop) of the row */
    int64_t v0, v1, v2;    /* corners of their triangle; v0 < 0: no triangle */
} Run;

typedef struct {
    const double *pts;
    int64_t h, w, W, band_rows;
    int64_t band_start, band_stop; /* output rows held in owner/l1/l2 */
    int64_t *cell_lo, *cell_hi;  /* ((h-1)*(w-1)): output rows a cell may touch */
    int64_t *row_lo, *row_hi;    /* (h-1): the same for a whole cell row */
    int64_t *owner;              /* (band_rows*W): triangle per pixel, -1 for none */
    double *l1, *l2;             /* (band_rows*W): barycentric coordinates of corners 1 and 2 */
    Run *runs;                   /* (W) */
} Raster;

static void raster_free(Raster *r) {
    free(r->cell_lo); free(r->cell_hi); free(r->row_lo); free(r->row_hi);
    free(r->owner); free(r->l1); free(r->l2); free(r->runs);
}

static int raster_init(Raster *r, const double *pts, int64_t h, int64_t w, int64_t W) {
    int64_t ch = h > 1 ? h - 1 : 0, cw = w > 1 ? w - 1 : 0;
    r->pts = pts; r->h = h; r->w = w; r->W = W;
    r->band_start = r->band_stop = -1;
    r->band_rows = (1 << 20) / (24 * W);  /* the band's buffers stay around 1 MB */
    if (r->band_rows < 1) r->band_rows = 1;
    if (r->band_rows > 64) r->band_rows = 64;
    r->cell_lo = malloc(sizeof(int64_t) * (ch * cw + 1));
    r->cell_hi = malloc(sizeof(int64_t) * (ch * cw + 1));
    r->row_lo = malloc(sizeof(int64_t) * (ch + 1));
    r->row_hi = malloc(sizeof(int64_t) * (ch + 1));
    r->owner = malloc(sizeof(int64_t) * r->band_rows * W);
    r->l1 = malloc(sizeof(double) * r->band_rows * W);
    r->l2 = malloc(sizeof(double) * r->band_rows * W);
    r->runs = malloc(sizeof(Run) * W);
    if (!r->cell_lo || !r->cell_hi || !r->row_lo || !r->row_hi || !r->owner || !r->l1 || !r->l2 || !r->runs) {
        raster_free(r);
        return -1;
    }
    for (int64_t i = 0; i < ch; ++i) {
        int64_t lo_row = INT64_MAX, hi_row = INT64_MIN;
        for (int64_t j = 0; j < cw; ++j) {
            int64_t a = i * w + j, b = a + 1, c = a + w, d = c + 1;
            /* fmin/fmax skip NaN; a cell of NaN only gets lo > hi and is never visited */
            double lo = fmin(fmin(pts[2 * a + 1], pts[2 * b + 1]), fmin(pts[2 * c + 1], pts[2 * d + 1]));
            double hi = fmax(fmax(pts[2 * a + 1], pts[2 * b + 1]), fmax(pts[2 * c + 1], pts[2 * d + 1]));
            lo = ceil(lo - SLACK);
            hi = floor(hi + SLACK);
            /* clamp before converting: rows outside [-1, 2^40] are all the same to us */
            lo = lo < -1.0 ? -1.0 : (lo > 1e12 ? 1e12 : lo);
            hi = hi < -1.0 ? -1.0 : (hi > 1e12 ? 1e12 : hi);
            int64_t k = i * cw + j;
            r->cell_lo[k] = (lo == lo) ? (int64_t)lo : 1;  /* NaN: empty */
            r->cell_hi[k] = (hi == hi) ? (int64_t)hi : 0;
            if (r->cell_lo[k] < lo_row) lo_row = r->cell_lo[k];
            if (r->cell_hi[k] > hi_row) hi_row = r->cell_hi[k];
        }
        r->row_lo[i] = lo_row;
        r->row_hi[i] = hi_row;
    }
    return 0;
}

/* Tighten [*lo, *hi] to where l(x) = a + b x >= -TOL; returns 0 when that set is empty. */
static int clip(double a, double b, double *lo, double *hi) {
    if (b > 0.0) {
        double x = (-TOL - a) / b;
        if (x > *lo) *lo = x;
    } else if (b < 0.0) {
        double x = (-TOL - a) / b;
        if (x < *hi) *hi = x;
    } else if (!(a >= -TOL)) {
        return 0;
    }
    return 1;
}

/* Triangle t = (p0, p1, p2) into the band's rows [y0, y1) that its cell may touch. */
static void raster_triangle(Raster *r, int64_t t, int64_t p0, int64_t p1, int64_t p2, int64_t first,
                            int64_t last, int64_t y0) {
    const double *P = r->pts;
    const int64_t W = r->W;
    double x0 = P[2 * p0], yv = P[2 * p0 + 1];
    double e1x = P[2 * p1] - x0, e1y = P[2 * p1 + 1] - yv;
    double e2x = P[2 * p2] - x0, e2y = P[2 * p2 + 1] - yv;
    double det = e1x * e2y - e1y * e2x;
    if (!(fabs(det) > MIN_DET)) return;  /* also NaN */
    double inv = 1.0 / det;
    /* On row y each coordinate is affine in x: l = a + b x, with b fixed per triangle. */
    double b1 = e2y * inv, b2 = -e1y * inv;
    for (int64_t y = first; y <= last; ++y) {
        double qy = (double)y - yv;
        double a1 = (-x0 * e2y - qy * e2x) * inv, a2 = (e1x * qy + e1y * x0) * inv;
        double lo = 0.0, hi = (double)(W - 1);
        if (!clip(1.0 - a1 - a2, -b1 - b2, &lo, &hi) || !clip(a1, b1, &lo, &hi) || !clip(a2, b2, &lo, &hi))
            continue;
        lo = ceil(lo);
        hi = floor(hi);
        if (!(lo <= hi)) continue;
        int64_t base = (y - y0) * W;
        for (int64_t x = (int64_t)lo; x <= (int64_t)hi; ++x) {
            double qx = (double)x - x0;
            r->owner[base + x] = t;
            r->l1[base + x] = (qx * e2y - qy * e2x) * inv;
            r->l2[base + x] = (e1x * qy - e1y * qx) * inv;
        }
    }
}

/* Owner and coordinates of every pixel of rows [y0, y1), y1 - y0 <= band_rows. */
static void raster_band(Raster *r, int64_t y0, int64_t y1) {
    const int64_t w = r->w, cw = w - 1;
    for (int64_t k = 0; k < (y1 - y0) * r->W; ++k) r->owner[k] = -1;
    for (int64_t i = 0; i + 1 < r->h; ++i) {
        if (r->row_hi[i] < y0 || r->row_lo[i] >= y1) continue;
        for (int64_t j = 0; j < cw; ++j) {
            int64_t k = i * cw + j;
            int64_t first = r->cell_lo[k] > y0 ? r->cell_lo[k] : y0;
            int64_t last = r->cell_hi[k] < y1 - 1 ? r->cell_hi[k] : y1 - 1;
            if (first > last) continue;
            int64_t a = i * w + j;
            raster_triangle(r, 2 * k, a, a + w, a + w + 1, first, last, y0);
            raster_triangle(r, 2 * k + 1, a, a + w + 1, a + 1, first, last, y0);
        }
    }
}

/* Runs of one owner along row y of the band; returns their number. */
static int64_t row_runs(Raster *r, const int64_t *owner) {
    const int64_t w = r->w, W = r->W;
    int64_t n = 0;
    for (int64_t x = 0; x < W;) {
        int64_t t = owner[x], stop = x + 1;
        while (stop < W && owner[stop] == t) ++stop;
        Run *run = &r->runs[n++];
        run->start = x;
        run->stop = stop;
        if (t < 0) {
            run->v0 = run->v1 = run->v2 = -1;
        } else {
            int64_t k = t >> 1, a = (k / (w - 1)) * w + k % (w - 1);
            run->v0 = a;
            run->v1 = (t & 1) ? a + w + 1 : a + w;
            run->v2 = (t & 1) ? a + 1 : a + w + 1;
        }
        x = stop;
    }
    return n;
}

/* Row y of rows [.., row1), visited in increasing order: rasterises the next band when the
 * current one is used up, points owner/l1/l2 at the row's pixels, flags its uncovered pixels
 * (counted in *missing), returns its number of runs. */
static int64_t next_row(Raster *r, int64_t y, int64_t row1, const int64_t **owner, const double **l1,
                        const double **l2, uint8_t *uncovered, int64_t *missing) {
    if (y >= r->band_stop) {
        r->band_start = y;
        r->band_stop = y + r->band_rows < row1 ? y + r->band_rows : row1;
        raster_band(r, r->band_start, r->band_stop);
    }
    int64_t offset = (y - r->band_start) * r->W;
    *owner = r->owner + offset;
    *l1 = r->l1 + offset;
    *l2 = r->l2 + offset;
    for (int64_t x = 0; x < r->W; ++x)
        if ((*owner)[x] < 0) { uncovered[y * r->W + x] = 1; ++*missing; }
    return row_runs(r, *owner);
}

/* out (C, H, W) rows [row0, row1) from values (C, h*w); uncovered (H*W) gets 1 where no
 * triangle holds the pixel. Returns the number of such pixels, or -1 when out of memory. */
#define DEFINE_UNSAMPLE(SUFFIX, T)                                                                     \
    int64_t dsb_unsample_##SUFFIX(const double *pts, int64_t h, int64_t w, const T *values, int64_t C,    \
                                  T *out, int64_t H, int64_t W, int64_t row0, int64_t row1,               \
                                  uint8_t *uncovered) {                                                 \
        Raster r;                                                                                       \
        if (raster_init(&r, pts, h, w, W) != 0) return -1;                                              \
        T *w0 = malloc(sizeof(T) * W), *w1 = malloc(sizeof(T) * W), *w2 = malloc(sizeof(T) * W);        \
        if (!w0 || !w1 || !w2) { free(w0); free(w1); free(w2); raster_free(&r); return -1; }            \
        const int64_t hw = h * w, HW = H * W;                                                           \
        int64_t missing = 0;                                                                            \
        for (int64_t y = row0; y < row1; ++y) {                                                         \
            const int64_t *owner;                                                                       \
            const double *L1, *L2;                                                                      \
            int64_t n = next_row(&r, y, row1, &owner, &L1, &L2, uncovered, &missing);                                        \
            for (int64_t x = 0; x < W; ++x) {                                                           \
                double l1 = owner[x] < 0 ? 0.0 : L1[x], l2 = owner[x] < 0 ? 0.0 : L2[x];                \
                w0[x] = (T)(1.0 - l1 - l2); w1[x] = (T)l1; w2[x] = (T)l2;                               \
            }                                                                                           \
            for (int64_t ch = 0; ch < C; ++ch) {                                                        \
                const T *v = values + ch * hw;                                                          \
                T *o = out + ch * HW + y * W;                                                           \
                for (int64_t k = 0; k < n; ++k) {                                                       \
                    const Run *run = &r.runs[k];                                                        \
                    if (run->v0 < 0) {                                                                  \
                        for (int64_t x = run->start; x < run->stop; ++x) o[x] = (T)0;                   \
                        continue;                                                                       \
                    }                                                                                   \
                    const T fa = v[run->v0], fb = v[run->v1], fc = v[run->v2];                          \
                    for (int64_t x = run->start; x < run->stop; ++x)                                    \
                        o[x] = w0[x] * fa + w1[x] * fb + w2[x] * fc;                                    \
                }                                                                                       \
            }                                                                                           \
        }                                                                                               \
        free(w0); free(w1); free(w2);                                                                   \
        raster_free(&r);                                                                                \
        return missing;                                                                                 \
    }

/* The adjoint: grad_values (C, h*w) += the weights times grad_out (C, H, W) over rows
 * [row0, row1), accumulated in double per run. Uncovered pixels are flagged, not added. */
#define DEFINE_UNSAMPLE_GRAD(SUFFIX, T)                                                                \
    int64_t dsb_unsample_grad_##SUFFIX(const double *pts, int64_t h, int64_t w, const T *grad_out,        \
                                       int64_t C, T *grad_values, int64_t H, int64_t W, int64_t row0,     \
                                       int64_t row1, uint8_t *uncovered) {                              \
        Raster r;                                                                                       \
        if (raster_init(&r, pts, h, w, W) != 0) return -1;                                              \
        const int64_t hw = h * w, HW = H * W;                                                           \
        int64_t missing = 0;                                                                            \
        for (int64_t y = row0; y < row1; ++y) {                                                         \
            const int64_t *owner;                                                                       \
            const double *L1, *L2;                                                                      \
            int64_t n = next_row(&r, y, row1, &owner, &L1, &L2, uncovered, &missing);                                        \
            for (int64_t ch = 0; ch < C; ++ch) {                                                        \
                const T *g = grad_out + ch * HW + y * W;                                                \
                T *gv = grad_values + ch * hw;                                                          \
                for (int64_t k = 0; k < n; ++k) {                                                       \
                    const Run *run = &r.runs[k];                                                        \
                    if (run->v0 < 0) continue;                                                          \
                    double sa = 0.0, sb = 0.0, sc = 0.0;                                                \
                    for (int64_t x = run->start; x < run->stop; ++x) {                                  \
                        double l1 = L1[x], l2 = L2[x], gx = (double)g[x];                               \
                        sa += (1.0 - l1 - l2) * gx; sb += l1 * gx; sc += l2 * gx;                       \
                    }                                                                                   \
                    gv[run->v0] += (T)sa; gv[run->v1] += (T)sb; gv[run->v2] += (T)sc;                   \
                }                                                                                       \
            }                                                                                           \
        }                                                                                               \
        raster_free(&r);                                                                                \
        return missing;                                                                                 \
    }

DEFINE_UNSAMPLE(f32, float)
DEFINE_UNSAMPLE(f64, double)
DEFINE_UNSAMPLE_GRAD(f32, float)
DEFINE_UNSAMPLE_GRAD(f64, double)
