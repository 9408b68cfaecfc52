/*
 * tinyrnn_c: the C kernels (firmware/kernels/, compiled as they are) as a MicroPython module, built either as a
 * dynamic native module (natmod .mpy, Makefile here: py/dynruntime.mk) or as a user C module
 * (micropython.mk / micropython.cmake here: USER_C_MODULES). One source for both: the two differ only in
 * how the module registers its functions (bottom of this file).
 *
 * The model is loaded at run time from kernel_c.bin (quantize/emit/micropython.py c_image_bytes: the model
 * with its weights already in the kernels' layout); this file checks the image and points a tinyrnn_model_t
 * into it, copying nothing. The Python API over it (and the pure-Python fallback) is tinyrnn_model.py, which
 * hands out this object's bound step/reset as its own, so a step from Python costs one native method call:
 *
 *     m = tinyrnn_c.load(image, state, scratch, x, y)  image: a bytearray holding kernel_c.bin, 8-byte aligned;
 *                                                      state, scratch: array('i') of the model's state / scratch
 *                                                      words; x: array('h', input_dim), where a list or tuple
 *                                                      input is copied; y: array('i', output_dim), the default
 *                                                      output. Returns a Model holding all five (kept alive).
 *     m.step(x[, out])                                 x: array('h') (used in place) or a list/tuple of ints
 *                                                      (saturated to int16 into the model's x); out: array('i')
 *                                                      written in place (default: the model's y). Returns out;
 *                                                      nothing is allocated.
 *     m.reset()                                        zero state
 *     tinyrnn_c.kernel_path()                          "dsp", "m0" or "c" (tinyrnn_kernel_path())
 *     tinyrnn_c.C_LAYOUT                               the weight layout these kernels read
 */
#include <stddef.h>
#include <stdint.h>

#ifdef MICROPY_ENABLE_DYNRUNTIME
#include "py/dynruntime.h"
#else
#include "py/runtime.h"
#endif

#include "tinyrnn.h"
#include "image_layout.h"               /* kernel_c.bin's layout, generated from quantize/twin/images.py */

#define MAX_LAYERS 3                    /* quantize/twin/params.py MAX_LAYERS */
#define HANDLE_MAGIC 0x746E7274u

typedef struct {
    mp_obj_base_t base;                 /* model_type */
    uint32_t state_words;               /* int32 words of state / scratch */
    uint32_t scratch_words;
    int32_t *state;                     /* the buffers given to load(), each checked there once */
    int32_t *scratch;
    int16_t *x;
    /* The buffers are the model's from load() on (tinyrnn_model.py keeps them private): resizing one (a
     * bytearray or array grown in place may move) would leave these pointers stale. */
    mp_obj_t image_obj, state_obj, scratch_obj, x_obj, y_obj;   /* referenced here: the GC keeps them alive */
    tinyrnn_model_t model;
    tr_layer_t layer[MAX_LAYERS];
} model_obj_t;

#ifdef MICROPY_ENABLE_DYNRUNTIME
mp_obj_full_type_t model_type;          /* filled in by mpy_init (a natmod has no const types) */
#define MODEL_TYPE ((const mp_obj_type_t *)&model_type)
#else
extern const mp_obj_type_t tinyrnn_c_model_type;
#define MODEL_TYPE (&tinyrnn_c_model_type)
#endif

static uint32_t rd16(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8);
}

static uint32_t rd32(const uint8_t *p) {
    return rd16(p) | (rd16(p + 2) << 16);
}

/* One product's descriptor -> tr_dense_t, every offset and size checked against the image. */
static void load_dense(const uint8_t *image, size_t len, const uint8_t *d, tr_dense_t *out) {
    uint32_t rows = rd16(d + TR_IMAGE_PRODUCT_OFF_ROWS), cols_a = rd16(d + TR_IMAGE_PRODUCT_OFF_COLS_A);
    uint32_t cols_b = rd16(d + TR_IMAGE_PRODUCT_OFF_COLS_B);
    uint32_t w_off = rd32(d + TR_IMAGE_PRODUCT_OFF_WEIGHTS_OFFSET);
    uint32_t w_len = rd32(d + TR_IMAGE_PRODUCT_OFF_WEIGHTS_BYTES);
    uint32_t q_off = rd32(d + TR_IMAGE_PRODUCT_OFF_REQUANT_OFFSET);
    if (rows == 0 && q_off == 0) {      /* unused slot */
        out->rows = 0;
        out->cols_a = 0;
        out->cols_b = 0;
        out->weights = NULL;
        out->requant = NULL;
        return;
    }
    if (rows == 0 || (w_off % TR_IMAGE_ALIGN) || (q_off % TR_IMAGE_ALIGN) || w_off > len || w_len > len - w_off
        || q_off > len || rows * sizeof(tr_requant_t) > len - q_off) {
        mp_raise_ValueError(MP_ERROR_TEXT("kernel_c.bin: a product lies outside the image"));
    }
    out->rows = (uint16_t)rows;
    out->cols_a = (uint16_t)cols_a;
    out->cols_b = (uint16_t)cols_b;
    out->weights = w_off ? (const int16_t *)(image + w_off) : NULL;
    out->requant = (const tr_requant_t *)(image + q_off);
}

/* A buffer of at least `bytes` bytes aligned to `align`. */
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

static mp_obj_t mod_load(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    mp_buffer_info_t bi;
    mp_get_buffer_raise(args[0], &bi, MP_BUFFER_READ);
    const uint8_t *image = (const uint8_t *)bi.buf;
    size_t len = bi.len;
    if (len < TR_IMAGE_HEADER_BYTES || rd32(image + TR_IMAGE_OFF_MAGIC) != TR_IMAGE_MAGIC) {
        mp_raise_ValueError(MP_ERROR_TEXT("not a tinyrnn kernel_c.bin"));
    }
    if (((uintptr_t)image) % TR_IMAGE_ALIGN) {
        mp_raise_ValueError(MP_ERROR_TEXT("kernel_c.bin must start 8-byte aligned (load it into a bytearray)"));
    }
    if (image[TR_IMAGE_OFF_FORMAT] != TR_IMAGE_FORMAT
        || image[TR_IMAGE_OFF_LAYOUT] != TINYRNN_KERNEL_C_LAYOUT) {
        mp_raise_ValueError(MP_ERROR_TEXT("kernel_c.bin: other image format or weight layout than this module's"));
    }
    uint32_t layers = image[TR_IMAGE_OFF_LAYERS], slots = rd16(image + TR_IMAGE_OFF_PRODUCTS);
    if (layers < 1 || layers > MAX_LAYERS || image[TR_IMAGE_OFF_CELL_ID] > TINYRNN_CELL_LSTM
        || image[TR_IMAGE_OFF_HEAD_ID] > TINYRNN_HEAD_LINEAR || rd32(image + TR_IMAGE_OFF_TOTAL_BYTES) != len
        || slots != layers * TR_IMAGE_SLOTS_PER_LAYER + 1
        || TR_IMAGE_HEADER_BYTES + slots * TR_IMAGE_PRODUCT_BYTES > len) {
        mp_raise_ValueError(MP_ERROR_TEXT("kernel_c.bin: bad header"));
    }
    model_obj_t *m = mp_obj_malloc(model_obj_t, MODEL_TYPE);
    m->state_words = rd16(image + TR_IMAGE_OFF_STATE_WORDS);
    m->scratch_words = rd16(image + TR_IMAGE_OFF_SCRATCH_WORDS);
    m->model.input_dim = (uint16_t)rd16(image + TR_IMAGE_OFF_INPUT_DIM);
    m->model.units = (uint16_t)rd16(image + TR_IMAGE_OFF_UNITS);
    m->model.output_dim = (uint16_t)rd16(image + TR_IMAGE_OFF_OUTPUT_DIM);
    m->model.layers = (uint8_t)layers;
    m->model.cell = image[TR_IMAGE_OFF_CELL_ID];
    m->model.head = image[TR_IMAGE_OFF_HEAD_ID];
    m->model.input_frac_bits = image[TR_IMAGE_OFF_INPUT_FRAC_BITS];
    m->model.layer = m->layer;
    const uint8_t *d = image + TR_IMAGE_HEADER_BYTES;
    for (uint32_t l = 0; l < layers; l++) {   /* the slots in C_IMAGE_SLOTS order */
        load_dense(image, len, d, &m->layer[l].gates);
        load_dense(image, len, d + TR_IMAGE_PRODUCT_BYTES, &m->layer[l].candidate);
        load_dense(image, len, d + 2 * TR_IMAGE_PRODUCT_BYTES, &m->layer[l].candidate_recurrent);
        d += TR_IMAGE_SLOTS_PER_LAYER * TR_IMAGE_PRODUCT_BYTES;
    }
    load_dense(image, len, d, &m->model.head_dense);
    m->state = (int32_t *)get_buf(args[1], 4 * m->state_words, 4, MP_BUFFER_WRITE);
    m->scratch = (int32_t *)get_buf(args[2], 4 * m->scratch_words, 4, MP_BUFFER_WRITE);
    m->x = (int16_t *)get_buf(args[3], 2 * m->model.input_dim, 2, MP_BUFFER_WRITE);
    get_buf(args[4], 4 * m->model.output_dim, 4, MP_BUFFER_WRITE);
    m->image_obj = args[0];
    m->state_obj = args[1];
    m->scratch_obj = args[2];
    m->x_obj = args[3];
    m->y_obj = args[4];
    tinyrnn_reset(&m->model, m->state);
    return MP_OBJ_FROM_PTR(m);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mod_load_obj, 5, 5, mod_load);

static model_obj_t *get_model(mp_obj_t obj) {
    if (mp_obj_get_type(obj) != MODEL_TYPE) {
        mp_raise_ValueError(MP_ERROR_TEXT("not a model from tinyrnn_c.load"));
    }
    return (model_obj_t *)MP_OBJ_TO_PTR(obj);
}

static mp_obj_t model_reset(mp_obj_t self) {
    model_obj_t *m = get_model(self);
    tinyrnn_reset(&m->model, m->state);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(model_reset_obj, model_reset);

static mp_obj_t model_step(size_t n_args, const mp_obj_t *args) {
    model_obj_t *m = get_model(args[0]);
    uint32_t d = m->model.input_dim;
    mp_buffer_info_t bi;
    const int16_t *x;
    if (mp_get_buffer(args[1], &bi, MP_BUFFER_READ)) {
        if (bi.len < 2 * d || ((uintptr_t)bi.buf) % 2) {
            mp_raise_ValueError(MP_ERROR_TEXT("step: x must hold input_dim int16 (array('h'))"));
        }
        x = (const int16_t *)bi.buf;
    } else {                            /* a list or tuple: saturate into the model's own x */
        size_t n;
        mp_obj_t *items;
        mp_obj_get_array(args[1], &n, &items);
        if (n != d) {
            mp_raise_ValueError(MP_ERROR_TEXT("step: x has another length than the model's input_dim"));
        }
        int16_t *xs = m->x;
        for (size_t i = 0; i < n; i++) {
            mp_int_t v = mp_obj_get_int(items[i]);
            xs[i] = (int16_t)(v < -32768 ? -32768 : (v > 32767 ? 32767 : v));
        }
        x = xs;
    }
    mp_obj_t out = n_args > 2 ? args[2] : m->y_obj;
    int32_t *y = (int32_t *)get_buf(out, 4 * m->model.output_dim, 4, MP_BUFFER_WRITE);
    tinyrnn_step(&m->model, m->state, m->scratch, x, y);
    return out;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(model_step_obj, 2, 3, model_step);

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

/* natmod: the Model type and the module's globals are made when the .mpy is imported (non-static: mpy_ld). */
mp_map_elem_t model_locals_table[2];
static MP_DEFINE_CONST_DICT(model_locals, model_locals_table);

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    MP_DYNRUNTIME_INIT_ENTRY
    model_type.base.type = (void *)&mp_type_type;
    model_type.flags = MP_TYPE_FLAG_NONE;
    model_type.name = MP_QSTR_Model;
    model_locals_table[0] = (mp_map_elem_t){ MP_OBJ_NEW_QSTR(MP_QSTR_step), MP_OBJ_FROM_PTR(&model_step_obj) };
    model_locals_table[1] = (mp_map_elem_t){ MP_OBJ_NEW_QSTR(MP_QSTR_reset), MP_OBJ_FROM_PTR(&model_reset_obj) };
    MP_OBJ_TYPE_SET_SLOT(&model_type, locals_dict, (void *)&model_locals, 0);
    mp_store_global(MP_QSTR_load, MP_OBJ_FROM_PTR(&mod_load_obj));
    mp_store_global(MP_QSTR_kernel_path, MP_OBJ_FROM_PTR(&mod_kernel_path_obj));
    mp_store_global(MP_QSTR_C_LAYOUT, MP_OBJ_NEW_SMALL_INT(TINYRNN_KERNEL_C_LAYOUT));
    mp_store_global(MP_QSTR_BUILD, MP_OBJ_NEW_QSTR(MP_QSTR_natmod));
    MP_DYNRUNTIME_INIT_EXIT
}

#else

/* user C module: the Model type and the module table in flash, registered with the firmware. */
static const mp_rom_map_elem_t model_locals_table[] = {
    { MP_ROM_QSTR(MP_QSTR_step), MP_ROM_PTR(&model_step_obj) },
    { MP_ROM_QSTR(MP_QSTR_reset), MP_ROM_PTR(&model_reset_obj) },
};
static MP_DEFINE_CONST_DICT(model_locals, model_locals_table);

MP_DEFINE_CONST_OBJ_TYPE(tinyrnn_c_model_type, MP_QSTR_Model, MP_TYPE_FLAG_NONE, locals_dict, &model_locals);

static const mp_rom_map_elem_t tinyrnn_c_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_tinyrnn_c) },
    { MP_ROM_QSTR(MP_QSTR_load), MP_ROM_PTR(&mod_load_obj) },
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
