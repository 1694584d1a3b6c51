/*
 * Variadic entry points of the headless OFX host (ofx::host).
 *
 * Stable Rust cannot define C variadic functions, yet the OFX parameter suite
 * (paramGetValue(handle, ...) and friends) and message suite
 * (message(handle, type, id, format, ...)) are variadic. These C functions read
 * the variable arguments and forward them to non-variadic Rust callbacks that
 * the Rust side registers once with lp_ofxhost_install_callbacks(). For the
 * parameter functions the C side first asks Rust for the parameter's value kind
 * and dimension, because that decides how many arguments there are and of
 * which C type: doubles for double/colour params, ints for int/bool/choice
 * params, one const char* for string/custom params (pointers to those for the
 * getters). Messages are formatted here with vsnprintf and handed over as one
 * finished string.
 *
 * Nothing here is exported on purpose: callbacks are function pointers, not
 * symbols, so a plugin binary that happens to link this code exports nothing.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

typedef int OfxStatus;

/* Keep in sync with ofx/src/host/suites/mod.rs (VarargsCallbacks). */
typedef struct lp_ofxhost_callbacks {
    OfxStatus (*param_kind)(void *param, int *kind, int *dim);
    OfxStatus (*param_get_num)(void *param, int op, double t1, double t2, double *out4);
    OfxStatus (*param_get_str)(void *param, int op, double t, const char **out);
    OfxStatus (*param_set_num)(void *param, int at_time, double t, const double *vals, int n);
    OfxStatus (*param_set_str)(void *param, int at_time, double t, const char *s);
    OfxStatus (*message)(void *handle, const char *type, const char *id, const char *text, int persistent);
} lp_ofxhost_callbacks;

/* Keep in sync with ofx/src/host/suites/param.rs. */
enum { KIND_NONE = 0, KIND_DOUBLE = 1, KIND_INT = 2, KIND_STRING = 3 };
enum { OP_VALUE = 0, OP_AT_TIME = 1, OP_DERIVATIVE = 2, OP_INTEGRAL = 3 };

#define STAT_FAILED 1
#define STAT_ERR_UNSUPPORTED 5

static const lp_ofxhost_callbacks *lp_cb = 0;

void lp_ofxhost_install_callbacks(const lp_ofxhost_callbacks *cb) { lp_cb = cb; }

/* Reads pointer arguments for a getter and fills them. */
static OfxStatus get_common(void *h, int op, double t1, double t2, va_list ap) {
    int kind = KIND_NONE, dim = 0, i;
    OfxStatus st;
    if (!lp_cb) return STAT_FAILED;
    st = lp_cb->param_kind(h, &kind, &dim);
    if (st != 0) return st;
    if (dim < 0 || dim > 4) return STAT_FAILED;
    if (kind == KIND_STRING) {
        const char *s = 0;
        char **out;
        if (op == OP_DERIVATIVE || op == OP_INTEGRAL) return STAT_ERR_UNSUPPORTED;
        st = lp_cb->param_get_str(h, op, t1, &s);
        out = va_arg(ap, char **);
        if (st == 0 && out) *out = (char *)s;
        return st;
    } else {
        double v[4] = {0, 0, 0, 0};
        if (kind == KIND_INT && (op == OP_DERIVATIVE || op == OP_INTEGRAL)) return STAT_ERR_UNSUPPORTED;
        st = lp_cb->param_get_num(h, op, t1, t2, v);
        if (st != 0) return st;
        for (i = 0; i < dim; ++i) {
            if (kind == KIND_DOUBLE) {
                double *p = va_arg(ap, double *);
                if (p) *p = v[i];
            } else {
                int *p = va_arg(ap, int *);
                if (p) *p = (int)v[i];
            }
        }
        return 0;
    }
}

/* Reads value arguments for a setter and forwards them. */
static OfxStatus set_common(void *h, int at_time, double t, va_list ap) {
    int kind = KIND_NONE, dim = 0, i;
    OfxStatus st;
    if (!lp_cb) return STAT_FAILED;
    st = lp_cb->param_kind(h, &kind, &dim);
    if (st != 0) return st;
    if (dim < 0 || dim > 4) return STAT_FAILED;
    if (kind == KIND_STRING) {
        const char *s = va_arg(ap, const char *);
        return lp_cb->param_set_str(h, at_time, t, s);
    } else {
        double v[4] = {0, 0, 0, 0};
        for (i = 0; i < dim; ++i) {
            /* ints and doubles are promoted as the C rules say */
            v[i] = (kind == KIND_DOUBLE) ? va_arg(ap, double) : (double)va_arg(ap, int);
        }
        return lp_cb->param_set_num(h, at_time, t, v, dim);
    }
}

OfxStatus lp_ofxhost_paramGetValue(void *h, ...) {
    va_list ap;
    OfxStatus st;
    va_start(ap, h);
    st = get_common(h, OP_VALUE, 0.0, 0.0, ap);
    va_end(ap);
    return st;
}

OfxStatus lp_ofxhost_paramGetValueAtTime(void *h, double t, ...) {
    va_list ap;
    OfxStatus st;
    va_start(ap, t);
    st = get_common(h, OP_AT_TIME, t, 0.0, ap);
    va_end(ap);
    return st;
}

OfxStatus lp_ofxhost_paramGetDerivative(void *h, double t, ...) {
    va_list ap;
    OfxStatus st;
    va_start(ap, t);
    st = get_common(h, OP_DERIVATIVE, t, 0.0, ap);
    va_end(ap);
    return st;
}

OfxStatus lp_ofxhost_paramGetIntegral(void *h, double t1, double t2, ...) {
    va_list ap;
    OfxStatus st;
    va_start(ap, t2);
    st = get_common(h, OP_INTEGRAL, t1, t2, ap);
    va_end(ap);
    return st;
}

OfxStatus lp_ofxhost_paramSetValue(void *h, ...) {
    va_list ap;
    OfxStatus st;
    va_start(ap, h);
    st = set_common(h, 0, 0.0, ap);
    va_end(ap);
    return st;
}

OfxStatus lp_ofxhost_paramSetValueAtTime(void *h, double t, ...) {
    va_list ap;
    OfxStatus st;
    va_start(ap, t);
    st = set_common(h, 1, t, ap);
    va_end(ap);
    return st;
}

/* Formats a printf-style message and forwards the finished text. */
static OfxStatus send_message(void *h, const char *type, const char *id, const char *fmt, va_list ap, int persistent) {
    char small[1024];
    va_list ap2;
    int n;
    OfxStatus st;
    if (!lp_cb) return STAT_FAILED;
    if (!fmt) return lp_cb->message(h, type, id, "", persistent);
    va_copy(ap2, ap);
    n = vsnprintf(small, sizeof small, fmt, ap);
    if (n < 0) {
        /* Formatting failed: pass the format itself rather than nothing. */
        st = lp_cb->message(h, type, id, fmt, persistent);
    } else if ((size_t)n < sizeof small) {
        st = lp_cb->message(h, type, id, small, persistent);
    } else {
        char *big = (char *)malloc((size_t)n + 1);
        if (!big) {
            st = lp_cb->message(h, type, id, small, persistent);
        } else {
            vsnprintf(big, (size_t)n + 1, fmt, ap2);
            st = lp_cb->message(h, type, id, big, persistent);
            free(big);
        }
    }
    va_end(ap2);
    return st;
}

OfxStatus lp_ofxhost_message(void *h, const char *type, const char *id, const char *fmt, ...) {
    va_list ap;
    OfxStatus st;
    va_start(ap, fmt);
    st = send_message(h, type, id, fmt, ap, 0);
    va_end(ap);
    return st;
}

OfxStatus lp_ofxhost_setPersistentMessage(void *h, const char *type, const char *id, const char *fmt, ...) {
    va_list ap;
    OfxStatus st;
    va_start(ap, fmt);
    st = send_message(h, type, id, fmt, ap, 1);
    va_end(ap);
    return st;
}

/* Natron quirk: its message suites forward their variadic arguments into a
 * second variadic formatter, so the arguments are lost. Imitated by passing
 * the format itself on, flagged (2) for the Rust side to render it as Natron
 * shows it: "%%" as "%", every other conversion as nothing. */
OfxStatus lp_ofxhost_message_natron(void *h, const char *type, const char *id, const char *fmt, ...) {
    if (!lp_cb) return STAT_FAILED;
    return lp_cb->message(h, type, id, fmt ? fmt : "", 2);
}

OfxStatus lp_ofxhost_setPersistentMessage_natron(void *h, const char *type, const char *id, const char *fmt, ...) {
    if (!lp_cb) return STAT_FAILED;
    return lp_cb->message(h, type, id, fmt ? fmt : "", 2 | 1);
}
