/*
 * tinyrnn_c: the C kernels (firmware/kernels/, compiled as they are) as a MicroPython module, built either as a
 * dynamic native module (natmod .mpy, Makefile here: py/dynruntime.mk) or as a user C module
 * (micropython.mk / micropython.cmake here: USER_C_MODULES). One source for both: the two differ only in
 * how the module registers its functions (bottom of this file).
 *
 * The model is loaded at run time from kernel_c.bin (quantize/emit/micropython.py c_image_bytes: the model
 * with its weights already in the kernels' layout); this file checks the image and points a tinyrnn_model_t
 * into it, copying nothing. The Python API over it (and the pure-Python fallback) is tinyrnn_model.py; call
 * these functions through it:
 *
 *     model = tinyrnn_c.load(image)                     image: a bytearray holding kernel_c.bin, 8-byte aligned;
 *                                                      returns the model's handle (a small bytearray)
 *     tinyrnn_c.reset(model, state)                      state: bytearray/array, >= state words * 4 bytes
 *     tinyrnn_c.step(model, state, scratch, x, y)        x: input_dim int16 (array('h')), y: output_dim int32
 *                                                      (array('i')), written in place: nothing is allocated
 *     tinyrnn_c.kernel_path()                            "dsp", "m0" or "c" (tinyrnn_kernel_path())
 *     tinyrnn_c.C_LAYOUT                                 the weight layout these kernels read
 *
 * The caller keeps `image` alive as long as `model`: the handle points into it.
 */
#include <stddef.h>
#include <stdint.h>

#ifdef MICROPY_ENABLE_DYNRUNTIME
#include "py/dynruntime.h"
#else
#include "py/runtime.h"
#endif

#include "tinyrnn.h"

#define IMAGE_MAGIC 0x434E5254u         /* "TRNC" little-endian */
#define IMAGE_FORMAT 1
#define IMAGE_HEADER_BYTES 44
#define IMAGE_DENSE_BYTES 24
#define IMAGE_SLOTS_PER_LAYER 3         /* gates, candidate, candidate_recurrent */
#define MAX_LAYERS 3                    /* quantize/twin/params.py MAX_LAYERS */
#define HANDLE_MAGIC 0x746E7274u

typedef struct {
    uint32_t magic;                     /* HANDLE_MAGIC: a handle made by load() */
    uint32_t state_words;               /* int32 words of state / scratch the caller passes */
    uint32_t scratch_words;
    const uint8_t *image;               /* the image the model points into */
    size_t image_len;
    tinyrnn_model_t model;
    tr_layer_t layer[MAX_LAYERS];
} handle_t;

static uint32_t rd16(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8);
}

static uint32_t rd32(const uint8_t *p) {
    return rd16(p) | (rd16(p + 2) << 16);
}

/* One product's descriptor -> tr_dense_t, every offset and size checked against the image. */
static void load_dense(const uint8_t *image, size_t len, const uint8_t *d, tr_dense_t *out) {
    uint32_t rows = rd16(d), cols_a = rd16(d + 2), cols_b = rd16(d + 4);
    uint32_t w_off = rd32(d + 8), w_len = rd32(d + 12), q_off = rd32(d + 16);
    if (rows == 0 && q_off == 0) {      /* unused slot */
        out->rows = 0;
        out->cols_a = 0;
        out->cols_b = 0;
        out->weights = NULL;
        out->requant = NULL;
        return;
    }
    if (rows == 0 || (w_off % 8) || (q_off % 8) || w_off > len || w_len > len - w_off || q_off > len
        || rows * sizeof(tr_requant_t) > len - q_off) {
        mp_raise_ValueError(MP_ERROR_TEXT("kernel_c.bin: a product lies outside the image"));
    }
    out->rows = (uint16_t)rows;
    out->cols_a = (uint16_t)cols_a;
    out->cols_b = (uint16_t)cols_b;
    out->weights = w_off ? (const int16_t *)(image + w_off) : NULL;
    out->requant = (const tr_requant_t *)(image + q_off);
}

static mp_obj_t mod_load(mp_obj_t image_obj) {
    mp_buffer_info_t bi;
    mp_get_buffer_raise(image_obj, &bi, MP_BUFFER_READ);
    const uint8_t *image = (const uint8_t *)bi.buf;
    size_t len = bi.len;
    if (len < IMAGE_HEADER_BYTES || rd32(image) != IMAGE_MAGIC) {
        mp_raise_ValueError(MP_ERROR_TEXT("not a tinyrnn kernel_c.bin"));
    }
    if (((uintptr_t)image) % 8) {
        mp_raise_ValueError(MP_ERROR_TEXT("kernel_c.bin must start 8-byte aligned (load it into a bytearray)"));
    }
    if (image[4] != IMAGE_FORMAT || image[5] != TINYRNN_KERNEL_C_LAYOUT) {
        mp_raise_ValueError(MP_ERROR_TEXT("kernel_c.bin: other image format or weight layout than this module's"));
    }
    uint32_t layers = image[8], slots = rd16(image + 40);
    if (layers < 1 || layers > MAX_LAYERS || image[6] > TINYRNN_CELL_LSTM || image[7] > TINYRNN_HEAD_LINEAR
        || rd32(image + 36) != len || slots != layers * IMAGE_SLOTS_PER_LAYER + 1
        || IMAGE_HEADER_BYTES + slots * IMAGE_DENSE_BYTES > len) {
        mp_raise_ValueError(MP_ERROR_TEXT("kernel_c.bin: bad header"));
    }
    handle_t *h = m_new(handle_t, 1);
    h->magic = HANDLE_MAGIC;
    h->state_words = rd16(image + 16);
    h->scratch_words = rd16(image + 18);
    h->image = image;
    h->image_len = len;
    h->model.input_dim = (uint16_t)rd16(image + 10);
    h->model.units = (uint16_t)rd16(image + 12);
    h->model.output_dim = (uint16_t)rd16(image + 14);
    h->model.layers = (uint8_t)layers;
    h->model.cell = image[6];
    h->model.head = image[7];
    h->model.input_frac_bits = image[9];
    h->model.layer = h->layer;
    const uint8_t *d = image + IMAGE_HEADER_BYTES;
    for (uint32_t l = 0; l < layers; l++) {
        load_dense(image, len, d, &h->layer[l].gates);
        load_dense(image, len, d + IMAGE_DENSE_BYTES, &h->layer[l].candidate);
        load_dense(image, len, d + 2 * IMAGE_DENSE_BYTES, &h->layer[l].candidate_recurrent);
        d += IMAGE_SLOTS_PER_LAYER * IMAGE_DENSE_BYTES;
    }
    load_dense(image, len, d, &h->model.head_dense);
    return mp_obj_new_bytearray_by_ref(sizeof(handle_t), h);
}
static MP_DEFINE_CONST_FUN_OBJ_1(mod_load_obj, mod_load);

static handle_t *get_handle(mp_obj_t obj) {
    mp_buffer_info_t bi;
    mp_get_buffer_raise(obj, &bi, MP_BUFFER_READ);
    handle_t *h = (handle_t *)bi.buf;
    if (bi.len != sizeof(handle_t) || ((uintptr_t)h) % sizeof(void *) || h->magic != HANDLE_MAGIC) {
        mp_raise_ValueError(MP_ERROR_TEXT("not a model from tinyrnn_c.load"));
    }
    return h;
}

/* A writable (or readable) buffer of at least `bytes` bytes aligned to `align`. */
static void *get_buf(mp_obj_t obj, size_t bytes, uintptr_t align, int flags) {
    mp_buffer_info_t bi;
    mp_get_buffer_raise(obj, &bi, flags);
    if (bi.len < bytes) {
        mp_raise_ValueError(MP_ERROR_TEXT("buffer too small for the model"));
    }
    if (((uintptr_t)bi.buf) % align) {
        mp_raise_ValueError(MP_ERROR_TEXT("buffer not aligned (use array('h') for x, array('i') otherwise)"));
    }
    return bi.buf;
}

static mp_obj_t mod_reset(mp_obj_t model_obj, mp_obj_t state_obj) {
    handle_t *h = get_handle(model_obj);
    tinyrnn_reset(&h->model, (int32_t *)get_buf(state_obj, 4 * h->state_words, 4, MP_BUFFER_WRITE));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(mod_reset_obj, mod_reset);

static mp_obj_t mod_step(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    handle_t *h = get_handle(args[0]);
    int32_t *state = (int32_t *)get_buf(args[1], 4 * h->state_words, 4, MP_BUFFER_WRITE);
    int32_t *scratch = (int32_t *)get_buf(args[2], 4 * h->scratch_words, 4, MP_BUFFER_WRITE);
    const int16_t *x = (const int16_t *)get_buf(args[3], 2 * h->model.input_dim, 2, MP_BUFFER_READ);
    int32_t *y = (int32_t *)get_buf(args[4], 4 * h->model.output_dim, 4, MP_BUFFER_WRITE);
    tinyrnn_step(&h->model, state, scratch, x, y);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mod_step_obj, 5, 5, mod_step);

static mp_obj_t mod_kernel_path(void) {
    const char *path = tinyrnn_kernel_path();
    size_t n = 0;
    while (path[n]) {
        n++;
    }
    return mp_obj_new_str(path, n);
}
static MP_DEFINE_CONST_FUN_OBJ_0(mod_kernel_path_obj, mod_kernel_path);

#ifdef MICROPY_ENABLE_DYNRUNTIME

/* natmod: the module's globals are stored when the .mpy is imported. */
mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    MP_DYNRUNTIME_INIT_ENTRY
    mp_store_global(MP_QSTR_load, MP_OBJ_FROM_PTR(&mod_load_obj));
    mp_store_global(MP_QSTR_reset, MP_OBJ_FROM_PTR(&mod_reset_obj));
    mp_store_global(MP_QSTR_step, MP_OBJ_FROM_PTR(&mod_step_obj));
    mp_store_global(MP_QSTR_kernel_path, MP_OBJ_FROM_PTR(&mod_kernel_path_obj));
    mp_store_global(MP_QSTR_C_LAYOUT, MP_OBJ_NEW_SMALL_INT(TINYRNN_KERNEL_C_LAYOUT));
    mp_store_global(MP_QSTR_BUILD, MP_OBJ_NEW_QSTR(MP_QSTR_natmod));
    MP_DYNRUNTIME_INIT_EXIT
}

#else

/* user C module: a module table in flash, registered with the firmware. */
static const mp_rom_map_elem_t tinyrnn_c_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_tinyrnn_c) },
    { MP_ROM_QSTR(MP_QSTR_load), MP_ROM_PTR(&mod_load_obj) },
    { MP_ROM_QSTR(MP_QSTR_reset), MP_ROM_PTR(&mod_reset_obj) },
    { MP_ROM_QSTR(MP_QSTR_step), MP_ROM_PTR(&mod_step_obj) },
    { MP_ROM_QSTR(MP_QSTR_kernel_path), MP_ROM_PTR(&mod_kernel_path_obj) },
    { MP_ROM_QSTR(MP_QSTR_C_LAYOUT), MP_ROM_INT(TINYRNN_KERNEL_C_LAYOUT) },
    { MP_ROM_QSTR(MP_QSTR_BUILD), MP_ROM_QSTR(MP_QSTR_cmodule) },
};
static MP_DEFINE_CONST_DICT(tinyrnn_c_globals, tinyrnn_c_globals_table);

const mp_obj_module_t tinyrnn_c_user_cmodule = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&tinyrnn_c_globals,
};
MP_REGISTER_MODULE(MP_QSTR_tinyrnn_c, tinyrnn_c_user_cmodule);

#endif
