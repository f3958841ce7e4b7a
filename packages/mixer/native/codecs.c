/*
 * N-API bindings for the room mixer's codecs: Opus (Debian's libopus), G.722 and packet-loss concealment
 * (Debian's spandsp). Only thin, allocation-free calls on caller-owned typed arrays: the mixer keeps
 * every buffer, so one 20 ms frame costs one native call per codec operation and no garbage.
 * Built by ../build.ts with the system C compiler against the node package's own headers (N-API is
 * ABI-stable, no node-gyp download).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <node_api.h>
#include <opus.h>
#include <spandsp/telephony.h>
#include <spandsp/g722.h>
#include <spandsp/plc.h>

enum { OPUS_ENC = 1, OPUS_DEC = 2, G722_ENC = 3, G722_DEC = 4, PLC = 5 };

typedef struct {
  int kind;
  void *p;
} handle_t;

static void release(handle_t *h) {
  if (!h->p) return;
  switch (h->kind) {
    case OPUS_ENC: opus_encoder_destroy(h->p); break;
    case OPUS_DEC: opus_decoder_destroy(h->p); break;
    case G722_ENC: g722_encode_free(h->p); break;
    case G722_DEC: g722_decode_free(h->p); break;
    case PLC: plc_free(h->p); break;
  }
  h->p = NULL;
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  release((handle_t *)data);
  free(data);
}

#define THROW(msg) do { napi_throw_error(env, NULL, msg); return NULL; } while (0)
#define CHECK(call) do { if ((call) != napi_ok) THROW("codecs: N-API call failed: " #call); } while (0)

static handle_t *get_handle(napi_env env, napi_value v, int kind) {
  handle_t *h = NULL;
  if (napi_get_value_external(env, v, (void **)&h) != napi_ok || !h || h->kind != kind) {
    napi_throw_type_error(env, NULL, "codecs: wrong handle");
    return NULL;
  }
  if (!h->p) {
    napi_throw_error(env, NULL, "codecs: handle already freed");
    return NULL;
  }
  return h;
}

/* A typed array's data and element count, checking its element type. */
static int get_array(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len) {
  bool is = false;
  napi_typedarray_type type;
  napi_value ab;
  size_t offset;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return 0;
  if (napi_get_typedarray_info(env, v, &type, len, data, &ab, &offset) != napi_ok) return 0;
  return type == want;
}

/* create(kind, sampleRate, bitrate) -> handle */
static napi_value create(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t kind = 0, rate = 0, bitrate = 0;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) THROW("codecs.create(kind, sampleRate, bitrate)");
  CHECK(napi_get_value_int32(env, argv[0], &kind));
  CHECK(napi_get_value_int32(env, argv[1], &rate));
  CHECK(napi_get_value_int32(env, argv[2], &bitrate));
  handle_t *h = calloc(1, sizeof *h);
  if (!h) THROW("codecs: out of memory");
  h->kind = kind;
  int err = OPUS_OK;
  switch (kind) {
    case OPUS_ENC:
      h->p = opus_encoder_create(rate, 1, OPUS_APPLICATION_VOIP, &err);
      if (h->p && bitrate > 0) opus_encoder_ctl(h->p, OPUS_SET_BITRATE(bitrate));
      /* Complexity 5: about half the CPU of the default 10 for a barely audible difference at VoIP rates. */
      if (h->p) opus_encoder_ctl(h->p, OPUS_SET_COMPLEXITY(5));
      /* In-band FEC (as browsers send it): a receiver rebuilds a lost frame from the next packet. */
      if (h->p) opus_encoder_ctl(h->p, OPUS_SET_INBAND_FEC(1));
      if (h->p) opus_encoder_ctl(h->p, OPUS_SET_PACKET_LOSS_PERC(10));
      break;
    case OPUS_DEC: h->p = opus_decoder_create(rate, 1, &err); break;
    case G722_ENC: h->p = g722_encode_init(NULL, 64000, 0); break;
    case G722_DEC: h->p = g722_decode_init(NULL, 64000, 0); break;
    case PLC: h->p = plc_init(NULL); break;
    default: free(h); THROW("codecs.create: unknown kind");
  }
  if (!h->p) {
    free(h);
    napi_throw_error(env, NULL, err != OPUS_OK ? opus_strerror(err) : "codecs.create: init failed");
    return NULL;
  }
  napi_value out;
  if (napi_create_external(env, h, finalize, NULL, &out) != napi_ok) {
    release(h);
    free(h);
    THROW("codecs: napi_create_external failed");
  }
  return out;
}

/* free(handle): releases the codec now; the finalizer only frees the small handle. */
static napi_value destroy(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  handle_t *h = NULL;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc >= 1 && napi_get_value_external(env, argv[0], (void **)&h) == napi_ok && h) release(h);
  return NULL;
}

static napi_value int_value(napi_env env, int32_t n) {
  napi_value v;
  if (napi_create_int32(env, n, &v) != napi_ok) return NULL;
  return v;
}

/* opusEncode(handle, Int16Array pcm, Uint8Array out) -> bytes written */
static napi_value opus_encode_js(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  void *pcm, *out;
  size_t n, cap;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) THROW("opusEncode(handle, pcm, out)");
  handle_t *h = get_handle(env, argv[0], OPUS_ENC);
  if (!h) return NULL;
  if (!get_array(env, argv[1], napi_int16_array, &pcm, &n)) THROW("opusEncode: pcm must be an Int16Array");
  if (!get_array(env, argv[2], napi_uint8_array, &out, &cap)) THROW("opusEncode: out must be a Uint8Array");
  int r = opus_encode(h->p, pcm, (int)n, out, (opus_int32)cap);
  if (r < 0) THROW(opus_strerror(r));
  return int_value(env, r);
}

/* opusDecode(handle, Uint8Array payload | null (conceal), Int16Array out, fec) -> samples written */
static napi_value opus_decode_js(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  void *payload = NULL, *out;
  size_t len = 0, cap;
  bool fec = false;
  napi_valuetype t;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) THROW("opusDecode(handle, payload, out, fec)");
  handle_t *h = get_handle(env, argv[0], OPUS_DEC);
  if (!h) return NULL;
  CHECK(napi_typeof(env, argv[1], &t));
  if (t != napi_null && t != napi_undefined &&
      !get_array(env, argv[1], napi_uint8_array, &payload, &len)) THROW("opusDecode: payload must be a Uint8Array or null");
  if (!get_array(env, argv[2], napi_int16_array, &out, &cap)) THROW("opusDecode: out must be an Int16Array");
  CHECK(napi_get_value_bool(env, argv[3], &fec));
  int r = opus_decode(h->p, payload, (opus_int32)len, out, (int)cap, fec ? 1 : 0);
  /* A corrupt packet is the sender's fault, not ours: report it as 0 samples (the caller conceals). */
  return int_value(env, r < 0 ? -1 : r);
}

/* g722Encode(handle, Int16Array pcm16k, Uint8Array out) -> bytes */
static napi_value g722_encode_js(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  void *pcm, *out;
  size_t n, cap;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) THROW("g722Encode(handle, pcm, out)");
  handle_t *h = get_handle(env, argv[0], G722_ENC);
  if (!h) return NULL;
  if (!get_array(env, argv[1], napi_int16_array, &pcm, &n)) THROW("g722Encode: pcm must be an Int16Array");
  if (!get_array(env, argv[2], napi_uint8_array, &out, &cap)) THROW("g722Encode: out must be a Uint8Array");
  if (cap < n / 2) THROW("g722Encode: out too small");
  return int_value(env, g722_encode(h->p, out, pcm, (int)n));
}

/* g722Decode(handle, Uint8Array payload, Int16Array out) -> samples */
static napi_value g722_decode_js(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  void *payload, *out;
  size_t len, cap;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) THROW("g722Decode(handle, payload, out)");
  handle_t *h = get_handle(env, argv[0], G722_DEC);
  if (!h) return NULL;
  if (!get_array(env, argv[1], napi_uint8_array, &payload, &len)) THROW("g722Decode: payload must be a Uint8Array");
  if (!get_array(env, argv[2], napi_int16_array, &out, &cap)) THROW("g722Decode: out must be an Int16Array");
  if (cap < len * 2) len = cap / 2;
  return int_value(env, g722_decode(h->p, out, payload, (int)len));
}

/* plcRx(handle, Int16Array good) / plcFillin(handle, Int16Array missing): spandsp's G.711 Appendix I-style PLC. */
static napi_value plc_js(napi_env env, napi_callback_info info, int fill) {
  size_t argc = 2;
  napi_value argv[2];
  void *amp;
  size_t n;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) THROW("plc(handle, samples)");
  handle_t *h = get_handle(env, argv[0], PLC);
  if (!h) return NULL;
  if (!get_array(env, argv[1], napi_int16_array, &amp, &n)) THROW("plc: samples must be an Int16Array");
  return int_value(env, fill ? plc_fillin(h->p, amp, (int)n) : plc_rx(h->p, amp, (int)n));
}
static napi_value plc_rx_js(napi_env env, napi_callback_info info) { return plc_js(env, info, 0); }
static napi_value plc_fillin_js(napi_env env, napi_callback_info info) { return plc_js(env, info, 1); }

static napi_value version(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value v;
  const char *s = opus_get_version_string();
  if (napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v) != napi_ok) return NULL;
  return v;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
    { "create", NULL, create, NULL, NULL, NULL, napi_default, NULL },
    { "free", NULL, destroy, NULL, NULL, NULL, napi_default, NULL },
    { "opusEncode", NULL, opus_encode_js, NULL, NULL, NULL, napi_default, NULL },
    { "opusDecode", NULL, opus_decode_js, NULL, NULL, NULL, napi_default, NULL },
    { "g722Encode", NULL, g722_encode_js, NULL, NULL, NULL, napi_default, NULL },
    { "g722Decode", NULL, g722_decode_js, NULL, NULL, NULL, napi_default, NULL },
    { "plcRx", NULL, plc_rx_js, NULL, NULL, NULL, napi_default, NULL },
    { "plcFillin", NULL, plc_fillin_js, NULL, NULL, NULL, napi_default, NULL },
    { "opusVersion", NULL, version, NULL, NULL, NULL, napi_default, NULL },
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
