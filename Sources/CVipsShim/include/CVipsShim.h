#ifndef REPRISE_CVIPSSHIM_H
#define REPRISE_CVIPSSHIM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Starts libvips once per process (no operation cache, one worker thread per call); 0 on success.
int reprise_vips_start(void);

/// Decodes an image (JPEG, PNG, WebP, GIF...) from memory and scales it down to fit `size` x `size`
/// pixels (never up), encoded as JPEG, or PNG when it has an alpha channel. On success returns 0 and
/// sets `*out` (free with reprise_vips_free), `*outLength` and `*isPNG`; on failure -1 with the reason in `error`.
int reprise_vips_thumbnail(const void *in, size_t inLength, int size, void **out, size_t *outLength, int *isPNG, char *error, size_t errorCapacity);

/// Reads an encoded image's width and height without decoding its pixels; 0 on success.
int reprise_vips_dimensions(const void *in, size_t inLength, int *width, int *height);

void reprise_vips_free(void *p);

#ifdef __cplusplus
}
#endif

#endif
